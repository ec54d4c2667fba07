package node

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestWALTailTruncateThenRestart is what the chaos harness found: a
// follower that clears a conflicting log suffix (raft's "clearing log
// suffix" after an election) and is then killed and restarted must open
// its log again. raft-wal v0.4.0 marked the tail segment sealed on a tail
// truncation without writing its index block, and the next start failed
// with "sealed segment has no index block" (hashicorp/raft-wal#31, fixed
// in v0.4.2): NewRaft panicked and the node never came back.
func TestWALTailTruncateThenRestart(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o750); err != nil {
		t.Fatal(err)
	}
	s, err := openRaftStores(dir, RaftLogStoreWAL, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 10; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte(fmt.Sprint("v", i))})
	}
	if err := s.logs().StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	// The new leader's log differs from index 10: the follower deletes
	// its tail and stores the leader's entry.
	if err := s.logs().DeleteRange(10, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.logs().StoreLogs([]*raft.Log{{Index: 10, Term: 2, Type: raft.LogCommand, Data: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = openRaftStores(dir, RaftLogStoreWAL, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := uint64(1); i <= 10; i++ {
		var l raft.Log
		if err := s.logs().GetLog(i, &l); err != nil {
			t.Fatalf("after the restart, entry %d: %v", i, err)
		}
		want := fmt.Sprint("v", i)
		if i == 10 {
			want = "new"
		}
		if string(l.Data) != want || (i == 10 && l.Term != 2) {
			t.Fatalf("after the restart, entry %d is %q (term %d), want %q", i, l.Data, l.Term, want)
		}
	}
	if last, err := s.logs().LastIndex(); err != nil || last != 10 {
		t.Fatalf("after the restart, last index %d (%v), want 10", last, err)
	}
}
