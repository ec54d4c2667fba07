#!/usr/bin/env bash
# A local steward cluster on loopback, one agent process per node.
#
#   scripts/cluster.sh up N        start servers n1..nN (--server --bootstrap-expect N) and wait for a leader;
#                                  with CLIENTS=K also client agents c1..cK (--client), waited for until they stream
#   scripts/cluster.sh status      steward status of every node, and the members
#   scripts/cluster.sh kill NODE   SIGKILL one node (e.g. n2, c1)
#   scripts/cluster.sh restart NODE  start a killed node again from its data dir
#   scripts/cluster.sh addr NODE   print the node's gRPC address
#   scripts/cluster.sh addrs       print every server's gRPC address, comma-separated
#   scripts/cluster.sh leader      print the leader's name
#   scripts/cluster.sh down        stop every node and remove the data dirs
#
# Server i listens on 127.0.0.1: gossip 74i1, Raft 74i2, gRPC 74i3 (n1: 7411,
# 7412, 7413; n2: 7421, ...), up to 9 servers; client j on gossip 75j1 and
# gRPC 75j3 (c1: 7511, 7513), up to 9 clients, joining the servers. Data
# dirs, logs and pid files are under $STEWARD_CLUSTER_DIR (default .cluster/
# in the repository).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${STEWARD_CLUSTER_DIR:-$here/.cluster}
bin=${STEWARD_BIN:-$here/bin/steward}

port() { echo "74${1}${2}"; }   # port NODE_NUMBER KIND(1 gossip, 2 raft, 3 grpc)
num() { echo "${1#[nc]}"; }
is_client() { [ "${1#c}" != "$1" ]; }
# node_port NODE KIND: a server's port, or a client's (75j1 gossip, 75j3 gRPC).
node_port() { if is_client "$1"; then echo "75$(num "$1")$2"; else port "$(num "$1")" "$2"; fi; }
grpc_addr() { echo "127.0.0.1:$(node_port "$1" 3)"; }

servers() { [ -f "$dir/size" ] && seq 1 "$(cat "$dir/size")" | sed 's/^/n/' || true; }
clients() { [ -f "$dir/clients" ] && [ "$(cat "$dir/clients")" -gt 0 ] && seq 1 "$(cat "$dir/clients")" | sed 's/^/c/' || true; }
nodes() { servers; clients; }

# alive NODE: its agent process exists and is not a zombie waiting to be reaped.
alive() {
  local pidf="$dir/$1.pid" pid
  [ -f "$pidf" ] || return 1
  pid=$(cat "$pidf")
  kill -0 "$pid" 2>/dev/null || return 1
  ! grep -qs '^State:[[:space:]]*Z' "/proc/$pid/status"
}

start_node() {
  local name=$1 n mode join=()
  n=$(num "$name")
  # Servers join each other, clients the servers.
  for other in $(servers); do
    [ "$other" = "$name" ] && continue
    join+=(--retry-join "127.0.0.1:$(port "$(num "$other")" 1)")
  done
  if is_client "$name"; then
    mode=(--client --bind-addr "127.0.0.1:$(node_port "$name" 1)" --grpc-addr "127.0.0.1:$(node_port "$name" 3)")
  else
    mode=(--server --bootstrap-expect "$(cat "$dir/size")"
      --bind-addr "127.0.0.1:$(port "$n" 1)" --raft-addr "127.0.0.1:$(port "$n" 2)" --grpc-addr "127.0.0.1:$(port "$n" 3)")
  fi
  mkdir -p "$dir/$name"
  "$bin" agent --name "$name" --data-dir "$dir/$name" "${mode[@]}" \
    "${join[@]}" --retry-interval 500ms --log-level "${STEWARD_LOG_LEVEL:-info}" \
    >>"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "timed out after ${secs}s waiting for $what" >&2; return 1; fi
    sleep 0.2
  done
}

has_leader() { "$bin" --addr "$(grpc_addr "$1")" --timeout 2s status -o json | grep -q '"leader": "n'; }

# ready NODE: a server sees a leader; a client also streams from a server.
ready() {
  has_leader "$1" || return 1
  is_client "$1" || return 0
  "$bin" --addr "$(grpc_addr "$1")" --timeout 2s status -o json | grep -q '"stream_connected": true'
}

# seen_alive NAME: every other running node's gossip sees NAME alive.
seen_alive() {
  local name=$1 other
  for other in $(nodes); do
    [ "$other" = "$name" ] && continue
    alive "$other" || continue
    "$bin" --addr "$(grpc_addr "$other")" --timeout 2s members -o json |
      python3 -c 'import json,sys; sys.exit(0 if any(m["name"]==sys.argv[1] and m["status"]=="alive" for m in json.load(sys.stdin)) else 1)' "$name" || return 1
  done
}

leader() {
  for name in $(servers); do
    alive "$name" || continue
    l=$("$bin" --addr "$(grpc_addr "$name")" --timeout 3s status -o json 2>/dev/null | sed -n 's/.*"leader": "\([^"]*\)".*/\1/p')
    if [ -n "$l" ]; then echo "$l"; return 0; fi
  done
  return 1
}

cmd=${1:-}
case "$cmd" in
  up)
    size=${2:?usage: cluster.sh up N}
    nclients=${CLIENTS:-0}
    [ "$size" -ge 1 ] && [ "$size" -le 9 ] || { echo "N must be 1..9" >&2; exit 2; }
    [ "$nclients" -ge 0 ] && [ "$nclients" -le 9 ] || { echo "CLIENTS must be 0..9" >&2; exit 2; }
    if [ -f "$dir/size" ]; then echo "a cluster is already set up in $dir; run 'cluster.sh down' first" >&2; exit 1; fi
    [ -x "$bin" ] || make -C "$here" build >/dev/null
    mkdir -p "$dir"; echo "$size" >"$dir/size"; echo "$nclients" >"$dir/clients"
    for name in $(nodes); do start_node "$name"; done
    for name in $(nodes); do wait_for 60 "$name to see a leader" ready "$name"; done
    echo "cluster of $size servers and $nclients clients up; leader: $(leader)"
    for name in $(nodes); do echo "  $name  grpc $(grpc_addr "$name")  log $dir/$name.log"; done
    ;;
  status)
    for name in $(nodes); do
      if alive "$name"; then
        echo "== $name ($(grpc_addr "$name"))"
        "$bin" --addr "$(grpc_addr "$name")" --timeout 3s status || true
      else
        echo "== $name: not running"
      fi
    done
    for name in $(nodes); do
      if alive "$name"; then "$bin" --addr "$(grpc_addr "$name")" members; break; fi
    done
    ;;
  kill)
    name=${2:?usage: cluster.sh kill NODE}
    alive "$name" || { echo "$name is not running" >&2; exit 1; }
    kill -9 "$(cat "$dir/$name.pid")"
    wait_for 10 "$name to die" sh -c "! kill -0 $(cat "$dir/$name.pid") 2>/dev/null || grep -qs '^State:[[:space:]]*Z' /proc/$(cat "$dir/$name.pid")/status"
    echo "killed $name"
    ;;
  restart)
    name=${2:?usage: cluster.sh restart NODE}
    alive "$name" && { echo "$name is running" >&2; exit 1; }
    start_node "$name"
    wait_for 60 "$name to see a leader" ready "$name"
    wait_for 60 "the others to see $name alive" seen_alive "$name"
    echo "restarted $name"
    ;;
  addr) grpc_addr "${2:?usage: cluster.sh addr NODE}" ;;
  addrs) for name in $(servers); do printf '%s,' "$(grpc_addr "$name")"; done | sed 's/,$/\n/' ;;
  leader) leader ;;
  down)
    for name in $(nodes); do
      if alive "$name"; then kill -TERM "$(cat "$dir/$name.pid")" 2>/dev/null || true; fi
    done
    for name in $(nodes); do
      for _ in $(seq 1 100); do alive "$name" || break; sleep 0.1; done
      alive "$name" && kill -9 "$(cat "$dir/$name.pid")" 2>/dev/null || true
    done
    rm -rf "$dir"
    echo "cluster down"
    ;;
  *)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
