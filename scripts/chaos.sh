#!/usr/bin/env bash
# The chaos harness (issue 18, docs/RELIABILITY.md): N steward agents, each
# in its own network namespace, under a nemesis (kills, pauses, partitions,
# netem, membership changes, restarts), their histories checked afterwards.
#
# Usage:
#   scripts/chaos.sh run [flags of chaos/cmd/chaos]   e.g. -nodes 5 -duration 10m -faults 100 -seed 7
#   scripts/chaos.sh clean                            remove every stwchaos-* namespace and its processes
#
# Environment: NODES, DURATION, FAULTS, SEED, KINDS override the defaults of
# `run` (flags given after `run` win); STEWARD_BIN tests that binary instead
# of one built from this tree. Needs root for namespaces; without
# them the harness falls back to loopback with process faults only, and
# says so. iptables and tc are installed with apt-get when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=stwchaos-

need_tools() {
	local missing=()
	command -v ip >/dev/null || missing+=(iproute2)
	command -v tc >/dev/null || missing+=(iproute2)
	command -v iptables >/dev/null || missing+=(iptables)
	if [ ${#missing[@]} -eq 0 ]; then return 0; fi
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
		echo "chaos: missing ${missing[*]} and cannot install them (not root or no apt-get)" >&2
		return 0
	fi
	echo "chaos: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >/dev/null ||
		{ apt-get -o DPkg::Lock::Timeout=600 update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >/dev/null; }
}

clean() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix" || true); do
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
			kill -CONT "$pid" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
		echo "chaos: removed namespace $ns"
	done
	# Links are created inside the namespaces, so deleting those removes
	# them; a link left in the root namespace by a crash mid-setup goes too.
	for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^stw" || true); do
		ip link del "$l" 2>/dev/null && echo "chaos: removed link $l" || true
	done
}

case "${1:-}" in
run)
	shift
	need_tools
	# One run per machine: runs share the stwchaos- namespaces. The lock is
	# held until the cleanup below is done; the harness sees
	# STWCHAOS_LOCK_HELD and does not take it again.
	exec 9>"${TMPDIR:-/tmp}/stwchaos.lock"
	flock -n 9 || { echo "chaos: another run holds ${TMPDIR:-/tmp}/stwchaos.lock (one run per machine)" >&2; exit 1; }
	export STWCHAOS_LOCK_HELD=1
	clean >/dev/null
	bin=$(mktemp -d /tmp/stwchaos.XXXXXX)
	trap 'rm -rf "$bin"; clean >/dev/null' EXIT
	steward=${STEWARD_BIN:-$bin/steward}
	if [ -z "${STEWARD_BIN:-}" ]; then
		commit=$(cd "$here" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
		if [ -n "$(cd "$here" && git status --porcelain 2>/dev/null | head -1)" ]; then commit="$commit+dirty"; fi
		(cd "$here" && go build -ldflags "-X github.com/steward/steward/node.Commit=$commit -X github.com/steward/steward/node.BuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" -o "$bin/steward" ./cmd/steward)
	fi
	(cd "$here" && go build -o "$bin/chaos" ./chaos/cmd/chaos)
	args=(-bin "$steward" -out "$here/chaos/results")
	[ -n "${NODES:-}" ] && args+=(-nodes "$NODES")
	[ -n "${DURATION:-}" ] && args+=(-duration "$DURATION")
	[ -n "${FAULTS:-}" ] && args+=(-faults "$FAULTS")
	[ -n "${SEED:-}" ] && args+=(-seed "$SEED")
	[ -n "${KINDS:-}" ] && args+=(-kinds "$KINDS")
	"$bin/chaos" "${args[@]}" "$@"
	;;
clean)
	clean
	;;
*)
	echo "usage: scripts/chaos.sh run [flags] | clean" >&2
	exit 2
	;;
esac
