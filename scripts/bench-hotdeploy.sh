#!/usr/bin/env bash
# Issue 16's hot-code deployment benchmark beside OTP's own upgrade, one
# after the other in the same run (docs/PERFORMANCE.md, "Hot-code
# deployment"):
#   1. BenchmarkDeploy1000 (hotcode/deploy/bench_test.go): a moderate
#      deployment of the WAT counter v1 -> v2 over 1,000 processes on an
#      in-process 3-node cluster under a sender, with its two baselines
#      (restart by a tree spec change; the local in-process swap);
#   2. ../shared/baselines/beam/run.sh N: N gen_servers suspended,
#      code-changed and resumed on one BEAM node (installs erlang-base).
# Usage: scripts/bench-hotdeploy.sh [N]   (N is BEAM's; default 1000, the
# Go benchmark's count). BEAM=path/to/run.sh overrides the baseline.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000}
beam=${BEAM:-$here/../shared/baselines/beam/run.sh}
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== steward: BenchmarkDeploy1000"
(cd "$here" && go test -run '^$' -bench '^BenchmarkDeploy1000$' -benchtime 1x -timeout 10m ./hotcode/deploy)
echo "== BEAM: $beam $n"
if [ -x "$beam" ] || [ -f "$beam" ]; then
	bash "$beam" "$n"
else
	echo "BEAM baseline not found at $beam (set BEAM=...)" >&2
	exit 1
fi
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
