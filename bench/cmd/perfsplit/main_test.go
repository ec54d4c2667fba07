package main

import (
	"strings"
	"testing"
)

const script = `         steward 100/101 
	            df4e internal/runtime/syscall/linux.Syscall6 (/bin/steward)
	          7400fc go.etcd.io/bbolt.fdatasync (/bin/steward)
	          7400fd github.com/hashicorp/raft.(*Raft).dispatchLogs (/bin/steward)

         steward 100/102 
	            1234 google.golang.org/grpc/internal/transport.(*loopyWriter).run (/bin/steward)

         steward 200/201 
	            1234 github.com/hashicorp/go-memdb.(*Txn).Insert (/bin/steward)
	            1235 github.com/hashicorp/raft.(*Raft).runFSM (/bin/steward)

            etcd 300/301 
	            1234 [unknown] (/usr/bin/etcd)
`

func TestParseAndShares(t *testing.T) {
	byPid, err := parse(strings.NewReader(script), func(comm string, pid int) bool { return comm == "steward" })
	if err != nil {
		t.Fatal(err)
	}
	if len(byPid) != 2 || len(byPid[100]) != 2 || len(byPid[200]) != 1 {
		t.Fatalf("samples by pid: %v", byPid)
	}
	if got := byPid[100][0].frames; len(got) != 3 || got[1] != "go.etcd.io/bbolt.fdatasync" {
		t.Fatalf("frames %q", got)
	}
	got := map[string]float64{}
	for _, s := range shares(byPid[100]) {
		got[s.name] = s.pct
	}
	for name, want := range map[string]float64{
		"raft leader: dispatchLogs (StoreLogs before replicating)": 50,
		"bbolt (log store transactions)":                           50,
		"gRPC (client API serving, forwarding)":                    50,
		"  gRPC HTTP/2 writes (loopyWriter)":                       50,
	} {
		if got[name] != want {
			t.Errorf("%s: %v%%, want %v%% (all: %v)", name, got[name], want, got)
		}
	}
	fsm := map[string]float64{}
	for _, s := range shares(byPid[200]) {
		fsm[s.name] = s.pct
	}
	if fsm["FSM apply (runFSM)"] != 100 || fsm["  go-memdb / iradix"] != 100 {
		t.Errorf("FSM sample: %v", fsm)
	}
}
