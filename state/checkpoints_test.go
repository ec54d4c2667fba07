package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/pb"
)

func ckptCmd(id string, mods ...string) *pb.CheckpointCreateCommand {
	rec := &pb.CheckpointRecord{Id: id}
	for _, m := range mods {
		n, v, _ := strings.Cut(m, "@")
		rec.Modules = append(rec.Modules, &pb.CheckpointModule{Name: n, Version: v})
	}
	return &pb.CheckpointCreateCommand{Checkpoint: rec, MaxCheckpoints: 3, MaxStateBytes: 10, MaxProcessStateBytes: 6}
}

// Create checks the record and the command's limits, sorts and counts,
// records the sha256 of each version; a checkpoint pins its versions
// against eviction and delete until it is deleted; an unknown id is not
// found.
func TestCheckpoints(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var idx uint64
	at := time.Second.Nanoseconds()
	putModule(t, s, &idx, at, "1", []byte("bytes of 1"))
	putModule(t, s, &idx, at, "2", []byte("bytes of 2"))

	withState := func(c *pb.CheckpointCreateCommand, states ...string) *pb.CheckpointCreateCommand {
		c.Checkpoint.WithState = true
		for i, st := range states {
			c.Checkpoint.Processes = append(c.Checkpoint.Processes, &pb.CheckpointProcess{
				Pid: fmt.Sprintf("n1/%d", 9-i), Node: "n1", Module: "m", Version: "2", State: []byte(st)})
		}
		return c
	}
	for _, b := range []struct {
		cmd  *pb.CheckpointCreateCommand
		want error
		text string
	}{
		{&pb.CheckpointCreateCommand{}, ErrInvalidRecord, "needs an id"},
		{ckptCmd("c"), ErrInvalidRecord, "names no module"},
		{ckptCmd("c", "m@"), ErrInvalidRecord, "needs a name and a version"},
		{ckptCmd("c", "m@1", "m@2"), ErrInvalidRecord, "names module m twice"},
		{ckptCmd("c", "m@7"), ErrNotFound, "module m@7 is not stored"},
		{withState(ckptCmd("c", "m@2"), "1234567"), ErrLimit, "is 7 bytes, the limit is 6 per process"},
		{withState(ckptCmd("c", "m@2"), "123456", "12345"), ErrLimit, "take 11 bytes, the limit is 10 per checkpoint"},
		{withState(ckptCmd("c", "other@2"), "1"), ErrInvalidRecord, `runs module "m", which the checkpoint does not name`},
		{func() *pb.CheckpointCreateCommand {
			c := ckptCmd("c", "m@2")
			c.Checkpoint.Processes = []*pb.CheckpointProcess{{Pid: "n1/1", Node: "n1", Module: "m"}}
			return c
		}(), ErrInvalidRecord, "has processes but no states"},
		{func() *pb.CheckpointCreateCommand {
			c := withState(ckptCmd("c", "m@2"), "1")
			c.Checkpoint.Processes = append(c.Checkpoint.Processes, c.Checkpoint.Processes[0])
			return c
		}(), ErrInvalidRecord, "lists process n1/9 twice"},
		{withState(ckptCmd("c", "m@2"), "1", "2"), nil, ""}, // fits: the last of this list
	} {
		idx++
		_, err := s.CheckpointCreate(idx, at, b.cmd)
		if b.want == nil {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !errors.Is(err, b.want) || !strings.Contains(err.Error(), b.text) {
			t.Errorf("%v: %v, want %v naming %q", b.cmd, err, b.want, b.text)
		}
	}
	c, err := s.Checkpoint("c")
	if err != nil || c == nil || c.StateBytes != 2 || c.Processes[0].Pid != "n1/8" || c.Modules[0].Sha256 == "" || c.CreatedAtUnixNano != at {
		t.Fatalf("stored %+v (%v)", c, err)
	}
	idx++
	if _, err := s.CheckpointCreate(idx, at, ckptCmd("c", "m@1")); !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("same id again: %v", err)
	}
	named := ckptCmd("d", "m@1")
	named.Checkpoint.Name = "before"
	idx++
	if _, err := s.CheckpointCreate(idx, at, named); err != nil {
		t.Fatal(err)
	}
	named.Checkpoint.Id = "e"
	idx++
	if _, err := s.CheckpointCreate(idx, at, named); !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), `already named "before"`) {
		t.Fatalf("same name again: %v", err)
	}
	if got, _ := s.Checkpoint("before"); got == nil || got.Id != "d" {
		t.Fatalf("by name: %+v", got)
	}
	idx++
	if _, err := s.CheckpointCreate(idx, at, ckptCmd("e", "m@1")); err != nil {
		t.Fatal(err)
	}
	idx++
	if _, err := s.CheckpointCreate(idx, at, ckptCmd("f", "m@1")); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "3 checkpoints are kept, the limit is 3") {
		t.Fatalf("beyond the limit: %v", err)
	}

	// m@2 is pinned by c: neither deleted nor evicted (1 is active).
	idx++
	if err := s.ModuleDelete(idx, at, &pb.ModuleDeleteCommand{Name: "m", Version: "2"}); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "checkpoint c names it") {
		t.Fatalf("delete of a pinned version: %v", err)
	}
	putModule(t, s, &idx, at, "3", []byte("bytes of 3"))
	if res := putModule(t, s, &idx, at, "4", []byte("bytes of 4")); len(res.Evicted) != 1 || res.Evicted[0] != "m@3" {
		t.Fatalf("evicted %v, want m@3 (1 active, 2 checkpointed)", res.Evicted)
	}
	if pins, _ := s.CheckpointPins("m"); fmt.Sprint(pins) != "map[1:[d e] 2:[c]]" {
		t.Fatalf("pins %v", pins)
	}

	idx++
	if err := s.CheckpointDelete(idx, &pb.CheckpointDeleteCommand{Id: "nope"}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `no checkpoint "nope"`) {
		t.Fatalf("delete unknown: %v", err)
	}
	idx++
	if err := s.CheckpointDelete(idx, &pb.CheckpointDeleteCommand{Id: "c"}); err != nil {
		t.Fatal(err)
	}
	idx++
	if err := s.ModuleDelete(idx, at, &pb.ModuleDeleteCommand{Name: "m", Version: "2"}); err != nil {
		t.Fatalf("delete once unpinned: %v", err)
	}
	if _, all, _ := s.Checkpoints(nil); len(all) != 2 || all[0].Id != "d" {
		t.Fatalf("left %v", all)
	}
}
