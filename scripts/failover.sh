#!/usr/bin/env bash
# Failover drill against a local cluster (scripts/cluster.sh): a client writes
# kv keys while the leader is SIGKILLed. It checks that a new leader is
# elected, that every acknowledged write is readable afterwards, and prints
# the time from the kill to the first write committed under the new leader.
#
#   scripts/failover.sh            (brings up 3 servers, cluster.sh up 3, if none is running)
#   scripts/failover.sh kv         the same, explicitly
#   scripts/failover.sh plan       a strict plan of N sends to a counter runs
#                                  while the leader is SIGKILLed: the plan
#                                  completes under the new leader, and the
#                                  counter shows every step ran exactly once
#   scripts/failover.sh all        both
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cluster="$here/scripts/cluster.sh"
dir=${STEWARD_CLUSTER_DIR:-$here/.cluster}
make -C "$here" build >/dev/null
go build -o "$here/bin/kvload" "$here/tools/kvload"
kvload="$here/bin/kvload"

started=0
if [ ! -f "$dir/size" ]; then "$cluster" up 3; started=1; fi
cleanup() { [ -n "${writer:-}" ] && kill "$writer" 2>/dev/null || true; [ "$started" = 1 ] && "$cluster" down >/dev/null || true; }
trap cleanup EXIT

lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
at_least() { [ "$(lines "$1")" -ge "$2" ]; }
wait_until() { # wait_until SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@"; do
    [ "$(date +%s)" -ge "$deadline" ] && { echo "FAIL: timed out waiting for $what" >&2; exit 1; }
    sleep 0.1
  done
}

scenario_kv() {
  local log="$dir/acked.log" old new kill_ns
  old=$("$cluster" leader)
  echo "leader before: $old"
  "$kvload" write --addrs "$("$cluster" addrs)" --log "$log" --prefix "failover/$(date +%s)/" &
  writer=$!
  wait_until 30 "writes before the kill" at_least "$log" 50
  kill_ns=$(date +%s%N)
  "$cluster" kill "$old"
  wait_until 30 "a new leader" sh -c "l=\$('$cluster' leader 2>/dev/null) && [ -n \"\$l\" ] && [ \"\$l\" != '$old' ]"
  new=$("$cluster" leader)
  echo "leader after: $new"
  wait_until 30 "a write under the new leader" grep -q " $new " "$log"
  kill -INT "$writer"; wait "$writer" || true; writer=
  "$kvload" report --log "$log" --kill-ns "$kill_ns" --old-leader "$old"
  "$kvload" verify --addrs "$("$cluster" addrs)" --log "$log" --prefix "failover/"
  "$cluster" restart "$old"
  echo "PASS: kv failover"
}

steward() { "$here/bin/steward" --addr "$("$cluster" addr "$1")" "${@:2}"; }

json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d'"$1"')'; }

scenario_plan() {
  local old target n=${PLAN_OPS:-20} planfile="$dir/tally-plan.json" specfile="$dir/tally.json" id status
  old=$("$cluster" leader)
  # The counter lives on a node that survives the kill.
  for name in n1 n2 n3; do [ "$name" != "$old" ] && target=$name && break; done
  echo "leader before: $old; counter on $target"
  printf '{"name":"tally","node":"%s","children":[{"id":"count","behavior":"counter"}]}\n' "$target" >"$specfile"
  steward "$target" sup apply "$specfile" >/dev/null
  wait_until 30 "the tally tree running" sh -c "'$here/bin/steward' --addr $("$cluster" addr "$target") sup list -o json | grep -q '\"status\": \"running\"'"
  steward "$target" proc send tree:tally/count reset --kind call >/dev/null
  {
    printf '{"safety_level":"strict","timeout":"120s","operations":['
    for i in $(seq 1 "$n"); do
      [ "$i" -gt 1 ] && printf ','
      printf '{"id":"s%d","type":"send_message","target":{"supervisor":"tally","child_id":"count"},"params":{"message":"inc"}}' "$i"
    done
    printf ']}\n'
  } >"$planfile"
  id=$(steward "$target" apply "$planfile" -o json | json_field '["id"]')
  echo "plan $id committed ($n strict phases)"
  wait_until 30 "the plan to reach its third phase" sh -c "'$here/bin/steward' --addr $("$cluster" addr "$target") ops status $id -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if sum(p[\"status\"]==\"succeeded\" for p in d[\"phases\"])>=2 or d[\"status\"]!=\"running\" else 1)'"
  status=$(steward "$target" ops status "$id" -o json | json_field '["status"]')
  [ "$status" = running ] || { echo "FAIL: the plan finished ($status) before the leader could be killed; raise PLAN_OPS" >&2; exit 1; }
  "$cluster" kill "$old"
  wait_until 30 "a new leader" sh -c "l=\$('$cluster' leader 2>/dev/null) && [ -n \"\$l\" ] && [ \"\$l\" != '$old' ]"
  echo "leader after: $("$cluster" leader)"
  steward "$target" ops watch "$id" >/dev/null 2>&1 || true
  status=$(steward "$target" ops status "$id" -o json | json_field '["status"]')
  [ "$status" = succeeded ] || { steward "$target" ops status "$id"; echo "FAIL: plan $status" >&2; exit 1; }
  count=$(steward "$target" proc state tree:tally/count -o json | json_field '["state"]["count"]')
  [ "$count" = "$n" ] || { echo "FAIL: the counter is $count after $n send operations: a step ran twice or not at all" >&2; exit 1; }
  echo "plan $id succeeded under the new leader; counter = $count = number of operations"
  "$cluster" restart "$old"
  echo "PASS: plan failover"
}

case "${1:-kv}" in
  kv) scenario_kv ;;
  plan) scenario_plan ;;
  all) scenario_kv; scenario_plan ;;
  *) echo "unknown scenario $1 (known: kv, plan, all)" >&2; exit 2 ;;
esac
