#!/usr/bin/env bash
# Issue 17's sandbox figures for docs/PERFORMANCE.md, each beside its
# baseline in the same run: the cost of a boundary check per send against
# an unsandboxed send (actor), a neighbouring sandbox's call latency alone
# and beside an abusive sandbox (actor), the stop latency of a runaway
# guest against its deadline and the memory past a cap (hotcode).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
COUNT=${COUNT:-3}
echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $($GO version)"
$GO test ./actor -run '^$' -bench 'BenchmarkSandboxSend$' -benchtime 1s -count "$COUNT"
$GO test ./actor -run '^$' -bench 'BenchmarkSandboxNeighbour$' -benchtime 2s -count "$COUNT"
# (the hotcode benchmarks log each guest they stop; only the results are kept)
$GO test ./hotcode -run '^$' -bench 'BenchmarkSandbox(LoopStop|MemoryOvershoot)$' -benchtime 20x -count "$COUNT" |
	grep -Ev 'writer[.]go|^--- BENCH|output truncated'
