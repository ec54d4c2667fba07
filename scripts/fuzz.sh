#!/usr/bin/env bash
# Every fuzz target of steward, one after another, FUZZTIME each (default
# 10m: a full run of the fourteen is about two and a half hours). Their
# seed corpora (testdata/fuzz/FuzzXxx in each package) also run as
# ordinary tests in `go test` and `make test`.
#
#   scripts/fuzz.sh                      # every target, 10 minutes each
#   FUZZTIME=30s scripts/fuzz.sh         # a short run
#   scripts/fuzz.sh FuzzValidate FuzzHostCall   # only the targets named
#   scripts/fuzz.sh -l                   # list the targets
#
# A target that fails stops the run: `go test -fuzz` has written the input
# to the package's testdata/fuzz/FuzzXxx/, where it is a seed from then on;
# fix the code and commit the input with the fix (docs/SECURITY.md
# "Fuzzing"). FUZZMINIMIZE bounds the minimization of each new input (Go's
# default of 60s makes the targets with large seeds, the golden logs and
# states, spend a short run minimizing). FUZZPARALLEL is the number of
# workers (default: go's, one per core).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10m}
FUZZMINIMIZE=${FUZZMINIMIZE:-200x}
FUZZPARALLEL=${FUZZPARALLEL:-}

# package target: what it holds.
TARGETS=(
	"./fsm FuzzApplyLog"          # command decoding and Apply: no panic, deterministic, batch = one by one
	"./fsm FuzzApply"             # one entry on a fresh FSM
	"./state FuzzRestore"         # the state snapshot format (Raft snapshots, backups' content)
	"./state FuzzFeedRoundTrip"   # the client agents' commit feed
	"./state FuzzSpecNameAgreesWithEncodingJSON" # TREE_APPLY's read of a spec's name: encoding/json's answers
	"./spec FuzzParse"            # tree files, HCL and JSON
	"./plan FuzzParseBuild"       # plan files, build and checks
	"./internal/strictjson FuzzParseAgreesWithEncodingJSON" # the strict JSON reader of tree and plan files: encoding/json's answers
	"./hotcode FuzzValidate"      # wasm module validation (hostile binaries)
	"./hotcode FuzzHostCall"      # the host functions' arguments (hostile pointers and lengths)
	"./acl FuzzParsePolicy"       # ACL policy rules, HCL and JSON
	"./sandbox FuzzParseSandbox"  # sandbox, experiment and sandbox policy files
	"./backup FuzzReadHeader"     # the backup file's header
	"./backup FuzzOpen"           # the whole backup file
	"./snapshot FuzzDecodePart"   # a node's part of a process snapshot
	"./snapshot FuzzReadFile"     # the snapshot file
)

if [[ "${1:-}" == "-l" ]]; then
	printf '%s\n' "${TARGETS[@]}"
	exit 0
fi

selected=()
for t in "${TARGETS[@]}"; do
	read -r pkg name <<<"$t"
	if [[ $# -eq 0 ]]; then
		selected+=("$pkg $name")
		continue
	fi
	for want in "$@"; do
		[[ "$want" == "$name" ]] && selected+=("$pkg $name")
	done
done
if [[ ${#selected[@]} -eq 0 ]]; then
	echo "fuzz.sh: no target named $*; scripts/fuzz.sh -l lists them" >&2
	exit 2
fi

par=()
[[ -n "$FUZZPARALLEL" ]] && par=(-parallel "$FUZZPARALLEL")
for t in "${selected[@]}"; do
	read -r pkg name <<<"$t"
	echo "== $name ($pkg), $FUZZTIME"
	# The host and validation targets log every guest they stop; only the
	# fuzzer's lines and a failure's are kept.
	set +e
	$GO test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZE" "${par[@]}" 2>&1 |
		grep -av 'writer[.]go:[0-9]*: .* \[\(TRACE\|DEBUG\|INFO\|WARN\)\]'
	status=${PIPESTATUS[0]}
	set -e
	if [[ $status -ne 0 ]]; then
		echo "fuzz.sh: $name failed; the input is in ${pkg#./}/testdata/fuzz/$name/" >&2
		exit 1
	fi
done
echo "fuzz.sh: ${#selected[@]} targets, $FUZZTIME each, no failure"
