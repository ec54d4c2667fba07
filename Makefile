# steward — build, run, test.
GO            ?= go
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0
GOBIN         := $(shell $(GO) env GOPATH)/bin
TEST_TIMEOUT  ?= 9m
PKG           := ./...
# The tests of steward's patch to hashicorp/raft (third_party/raft/STEWARD.md);
# `make raft-fork-test` runs the whole upstream suite against the patch.
RAFT_PATCH_TESTS := TestPendingLogs|TestRaft_Leader(CommitsOnFollowers|OwnWrite)|TestRaft_SnapshotWaitsForLeaderLog
RAFT_UPSTREAM_FLAKES := TestNetworkTransport_AppendEntriesPipeline_CloseStreams|TestRaft_ProtocolVersion_Upgrade_1_2$$

.PHONY: all build dev test integ bench fuzz lint proto proto-tools check clean raft-fork-test

all: build

# Version stamping, shown by `steward version`: the commit ("unknown"
# outside git) and the build time, UTC RFC 3339. Override on the command
# line: make build COMMIT=... BUILD_DATE=...
COMMIT         = $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_DATE     = $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION_FLAGS  = -X github.com/steward/steward/node.Commit=$(COMMIT) -X github.com/steward/steward/node.BuildDate=$(BUILD_DATE)

build:
	$(GO) build -ldflags "$(VERSION_FLAGS)" -o bin/steward ./cmd/steward

# A single-node agent with a temporary data dir, ready at once.
dev: build
	./bin/steward agent --dev

# The dashboard's browser tests (ui/) drive Debian's chromium: installed
# first when /usr/bin/chromium is missing (silent otherwise). Then the
# short chaos run (chaos-short, about 90 s, every workload), its report in
# a temporary dir. STEWARD_VERIFY_PLAN_COPIES=1 makes every plan update
# check that it left the stored record it read unchanged (state/plans.go).
test:
	@./scripts/install-browser.sh
	STEWARD_VERIFY_PLAN_COPIES=1 $(GO) test -race -timeout $(TEST_TIMEOUT) $(PKG)
	cd bench && $(GO) test -race -timeout $(TEST_TIMEOUT) ./...
	cd third_party/raft && $(GO) test -race -timeout $(TEST_TIMEOUT) -run '$(RAFT_PATCH_TESTS)' .
	$(MAKE) chaos-short CHAOS_OUT=$$(mktemp -d /tmp/stwchaos-results.XXXXXX)

# The multi-node integration tests: the packages whose tests start clusters
# in one process (testkit), with the race detector.
INTEG_PKGS := ./node ./backup ./coordination ./snapshot ./supervision ./health ./client ./examples ./cmd/steward
integ:
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(INTEG_PKGS)

# Every fuzz target (scripts/fuzz.sh lists them: command decoding and
# Apply, the state snapshot, spec and plan parsers, module validation, the
# wasm host functions' arguments, the backup and snapshot files), one
# after another, FUZZTIME each: 10 minutes by default, about two and a half hours
# for the full run; `make fuzz FUZZTIME=30s` for a short one. Their seed
# corpora (testdata/fuzz/) also run as unit tests in `make test`.
# FUZZMINIMIZE bounds the minimization of each new input (see the
# script); docs/SECURITY.md "Fuzzing".
FUZZTIME     ?= 10m
FUZZMINIMIZE ?= 200x
fuzz:
	FUZZTIME=$(FUZZTIME) FUZZMINIMIZE=$(FUZZMINIMIZE) GO=$(GO) ./scripts/fuzz.sh

# steward beside etcd on this machine, one run (bench/ is its own module;
# docs/perf/bench.md). Installs Debian's etcd-server when etcd is missing.
# BENCH_FLAGS adds flags, e.g. BENCH_FLAGS="-tune" or "-pairs 5". Then the
# hot-code deployment benchmark beside OTP's upgrade (bench-hotdeploy).
BENCH_FLAGS ?=
bench: build
	bench/install-etcd.sh
	cd bench && $(GO) run ./cmd/stewardbench -steward-bin ../bin/steward $(BENCH_FLAGS)
	./scripts/bench-hotdeploy.sh
	./scripts/bench-sandbox.sh

# Issue 16's deployment of 1,000 processes over 3 nodes with its baselines,
# then OTP's suspend/code_change/resume of 1,000 gen_servers (installs
# Debian's erlang-base when erl is missing); docs/PERFORMANCE.md.
.PHONY: bench-hotdeploy
bench-hotdeploy:
	./scripts/bench-hotdeploy.sh

# Issue 17's sandbox figures (boundary cost, neighbour latency beside an
# abusive sandbox, runaway stop latency, memory past a cap);
# docs/PERFORMANCE.md.
.PHONY: bench-sandbox
bench-sandbox:
	./scripts/bench-sandbox.sh

# Servers and clients: kv writes/s and leader CPU per write with 3 servers
# and 0/10/25/50 client agents, beside all-Raft clusters of the same sizes
# and 3 servers alone, interleaved; tree start on a client agent; idle
# client memory (about 10 minutes); docs/PERFORMANCE.md. Writes
# bench/results/<time>-clients.json. CLIENTS_FLAGS adds flags, e.g.
# CLIENTS_FLAGS="-pairs 3" or "-sizes 0,10 -trees 20".
CLIENTS_FLAGS ?=
.PHONY: bench-clients
bench-clients: build
	cd bench && $(GO) run ./cmd/clientbench -steward-bin ../bin/steward $(CLIENTS_FLAGS)

# Issue 18's chaos harness (docs/RELIABILITY.md): NODES agents in network
# namespaces under FAULTS seeded faults over DURATION, the kv and set
# histories checked; writes chaos/results/<time>.json and .txt and fails
# when a check fails. Needs root (namespaces; loopback and process faults
# only without). chaos-short is one fault of each kind on 3 nodes, about
# 90 s with its checks; `make test` runs it last. CHAOS_OUT is where the
# reports go (chaos/results by default); CHAOS_FLAGS adds flags of
# chaos/cmd/chaos (e.g. -deployments=false).
NODES     ?= 3
DURATION  ?= 5m
FAULTS    ?= 30
SEED      ?= 1
CHAOS_OUT ?= chaos/results
CHAOS_FLAGS ?=
.PHONY: chaos chaos-short
chaos:
	NODES=$(NODES) DURATION=$(DURATION) FAULTS=$(FAULTS) SEED=$(SEED) ./scripts/chaos.sh run -out $(abspath $(CHAOS_OUT)) $(CHAOS_FLAGS)
chaos-short:
	NODES=3 DURATION=45s FAULTS=15 SEED=$(SEED) ./scripts/chaos.sh run -out $(abspath $(CHAOS_OUT)) $(CHAOS_FLAGS)

proto-tools:
	@command -v protoc >/dev/null || { command -v apt-get >/dev/null && (apt-get install -y protobuf-compiler || (apt-get update && apt-get install -y protobuf-compiler)); }
	GOFLAGS= $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOFLAGS= $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

proto: proto-tools
	PATH="$(GOBIN):$$PATH" protoc -I proto \
		--go_out=. --go_opt=module=github.com/steward/steward \
		--go-grpc_out=. --go-grpc_opt=module=github.com/steward/steward \
		proto/steward/v1/*.proto

lint:
	$(GO) vet $(PKG)

check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKG)
	$(GO) mod tidy
	@git diff --exit-code -- go.mod go.sum || { echo "go mod tidy changed go.mod/go.sum"; exit 1; }

clean:
	rm -rf bin

# The example WebAssembly modules (examples/modules, issue 16) and
# hotcode's WAT test modules (hotcode/testdata), each built to a raw module
# and then its .manifest.json appended as the steward.manifest custom
# section (hotcode/cmd/addmanifest):
# - each .wat through wat2wasm (Debian's wabt; 1.0.32 parses (@custom ...)
#   but does not emit it);
# - each examples/modules/c/*.c through clang --target=wasm32 and wasm-ld
#   (Debian's clang and lld), no libc;
# - each examples/modules/go/counter-* as a Go wasip1 reactor
#   (-buildmode=c-shared), then go/cmd/lazyinit (the host never calls
#   _initialize: the wrapped exports call it on the first callback).
# scripts/install-wasm-toolchain.sh installs wabt, clang and lld when
# missing. The built .wasm files are committed (`make test` needs none of
# these tools); hotcode's TestExamplesRebuild checks the WAT ones.
WASM_MODULES := $(basename $(wildcard examples/modules/*.wat hotcode/testdata/*.wat)) hotcode/deploy/testdata/counter-v3-trap hotcode/deploy/testdata/counter-v4-unhealthy
WASM_C_MODULES := $(basename $(wildcard examples/modules/c/*.c))
WASM_GO_MODULES := $(patsubst examples/modules/go/%/,%,$(wildcard examples/modules/go/counter-*/))
WASM_CFLAGS := --target=wasm32 -O2 -nostdlib -ffreestanding -Wall -Wextra -Werror -Wl,--no-entry -Wl,--strip-all
.PHONY: wasm wasm-tools
wasm-tools:
	@./scripts/install-wasm-toolchain.sh

wasm: wasm-tools
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for m in $(WASM_MODULES); do \
		wat2wasm $$m.wat -o $$tmp/raw.wasm; \
		$(GO) run ./hotcode/cmd/addmanifest -manifest $$m.manifest.json -o $$m.wasm $$tmp/raw.wasm; \
		echo "built $$m.wasm"; \
	done; \
	for v in 1 2; do \
		wat2wasm examples/modules/counter-v$$v.wat -o $$tmp/raw.wasm; \
		$(GO) run ./hotcode/cmd/addmanifest -manifest hotcode/deploy/testdata/tally-v$$v.manifest.json -o hotcode/deploy/testdata/tally-v$$v.wasm $$tmp/raw.wasm; \
		echo "built hotcode/deploy/testdata/tally-v$$v.wasm (the counter under another name)"; \
	done; \
	for m in $(WASM_C_MODULES); do \
		clang $(WASM_CFLAGS) -o $$tmp/raw.wasm $$m.c; \
		$(GO) run ./hotcode/cmd/addmanifest -manifest $$m.manifest.json -o $$m.wasm $$tmp/raw.wasm; \
		echo "built $$m.wasm"; \
	done; \
	for m in $(WASM_GO_MODULES); do \
		(cd examples/modules/go && \
			GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -ldflags='-s -w -buildid=' -o $$tmp/raw.wasm ./$$m && \
			$(GO) run ./cmd/lazyinit -o $$tmp/lazy.wasm $$tmp/raw.wasm); \
		$(GO) run ./hotcode/cmd/addmanifest -manifest examples/modules/go/$$m.manifest.json -o examples/modules/go/$$m.wasm $$tmp/lazy.wasm; \
		echo "built examples/modules/go/$$m.wasm"; \
	done

# hashicorp/raft's own suite against steward's patch (about 2.5 minutes).
# Skipped, because they fail on the released v1.7.3 as well: as root,
# TestFileSS_BadPerm (root ignores the directory permission it sets); and
# two tests whose own timing fails now and then on the released code here:
# TestNetworkTransport_AppendEntriesPipeline_CloseStreams (1 run in 6) and
# TestRaft_ProtocolVersion_Upgrade_1_2 (1 in 10, "peer mismatch").
raft-fork-test:
	cd third_party/raft && $(GO) test -race -timeout 30m -skip '$(RAFT_UPSTREAM_FLAKES)'$$( [ "$$(id -u)" = 0 ] && echo "|TestFileSS_BadPerm" ) .
