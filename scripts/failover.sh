#!/usr/bin/env bash
# Failover drill against a local cluster (scripts/cluster.sh): a client writes
# kv keys while the leader is SIGKILLed. It checks that a new leader is
# elected, that every acknowledged write is readable afterwards, and prints
# the time from the kill to the first write committed under the new leader.
#
#   scripts/failover.sh            (brings up a 3-node cluster if none is running)
#   scripts/failover.sh kv         the same, explicitly
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

case "${1:-kv}" in
  kv) scenario_kv ;;
  *) echo "unknown scenario $1 (known: kv)" >&2; exit 2 ;;
esac
