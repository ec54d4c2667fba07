#!/usr/bin/env bash
# CPU profile of one system under write load: where each member's CPU goes.
# Needs perf (Debian: linux-perf) and root (or perf_event_paranoid <= 0).
#
#   bench/profile.sh [steward|etcd] [clients] [ops] [extra loadone flags...]
#
# It starts a 3-node cluster with cmd/loadone, records every member with
# call graphs for PROFILE_SECONDS (default 8) in the middle of the run, and
# prints per-member shares by component (cmd/perfsplit). etcd from Debian is
# stripped, so only its per-member totals are meaningful.
set -euo pipefail
cd "$(dirname "$0")"
system=${1:-steward}; clients=${2:-256}; ops=${3:-100000}; shift $(( $# < 3 ? $# : 3 ))
secs=${PROFILE_SECONDS:-8}; hz=499
command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/loadone" ./cmd/loadone
go build -o "$tmp/perfsplit" ./cmd/perfsplit
"$tmp/loadone" -system "$system" -clients "$clients" -ops "$ops" -pids "$tmp/pids" "$@" >"$tmp/out" 2>&1 &
loader=$!
deadline=$(( $(date +%s) + 120 ))
until [ -s "$tmp/pids" ]; do
  kill -0 "$loader" 2>/dev/null || { cat "$tmp/out" >&2; exit 1; }
  [ "$(date +%s)" -lt "$deadline" ] || { echo "cluster did not come up" >&2; kill "$loader"; exit 1; }
  sleep 0.2
done
sleep 2 # past the warm-up, into the measured writes
pids=$(awk '{print $2}' "$tmp/pids" | paste -sd, -)
perf record -q -g -F "$hz" -p "$pids" -o "$tmp/perf.data" -- sleep "$secs" >/dev/null 2>&1
wait "$loader"
cat "$tmp/out"
perf script -i "$tmp/perf.data" -F comm,pid,tid,ip,sym 2>/dev/null | "$tmp/perfsplit" -pids "$tmp/pids" -hz "$hz"
echo "(samples over ${secs}s at ${hz} Hz; shares are inclusive and overlap)"
