package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/steward/steward/pb"
)

func sbRecord(name, node string) *pb.SandboxRecord {
	return &pb.SandboxRecord{Name: name, Node: node, SpecJson: []byte(`{"name":"` + name + `","children":[]}`), PolicyJson: []byte(`{}`)}
}

func groupCmd(id string, standalone bool, recs ...*pb.SandboxRecord) *pb.ExperimentCreateCommand {
	return &pb.ExperimentCreateCommand{Experiment: &pb.ExperimentRecord{Id: id, Name: id, Standalone: standalone, DeadlineUnixNano: 100},
		Sandboxes: recs, MaxSandboxes: 5, MaxSandboxesPerNode: 3, MaxFailedKept: 2}
}

// A group is created whole or not at all: each refusal leaves nothing;
// the last part to run makes it running; a failed part of a pending group
// removes every part and keeps the group failed with the reason; failed
// groups beyond the limit are pruned, oldest first.
func TestSandboxGroups(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	idx := uint64(10)
	next := func() uint64 { idx++; return idx }
	if _, err := s.TreeApply(next(), &pb.TreeRecord{Name: "web", Node: "n1", SpecJson: []byte(`{"name":"web"}`)}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  *pb.ExperimentCreateCommand
		want error
		text string
	}{
		{&pb.ExperimentCreateCommand{}, ErrInvalidRecord, "needs an id"},
		{groupCmd("g", false), ErrInvalidRecord, "has no sandbox"},
		{groupCmd("g", true, sbRecord("a", "n1"), sbRecord("b", "n1")), ErrInvalidRecord, "standalone group has one sandbox"},
		{groupCmd("g", false, sbRecord("a", "n1"), sbRecord("a", "n2")), ErrInvalidRecord, "twice"},
		{groupCmd("g", false, sbRecord("a", "auto")), ErrInvalidRecord, "not placed"},
		{groupCmd("g", false, &pb.SandboxRecord{Name: "a", Node: "n1", SpecJson: []byte(`{"name":"b"}`), PolicyJson: []byte(`{}`)}), ErrInvalidRecord, "holds the spec of tree"},
		{groupCmd("g", false, &pb.SandboxRecord{Name: "a", Node: "n1", SpecJson: []byte(`{"name":"a"}`)}), ErrInvalidRecord, "has no policy"},
		{groupCmd("g", false, sbRecord("web", "n1")), ErrInvalidRecord, "a tree named"},
		{groupCmd("g", false, sbRecord("a", "n1"), sbRecord("b", "n1"), sbRecord("c", "n1"), sbRecord("d", "n1")), ErrLimit, "per node"},
	} {
		_, err := s.ExperimentCreate(next(), 1, c.cmd)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Fatalf("%v: got %v, want %v containing %q", c.cmd, err, c.want, c.text)
		}
		if _, sbs, _ := s.Sandboxes(nil, ""); len(sbs) != 0 {
			t.Fatalf("a refused create left %d sandboxes", len(sbs))
		}
	}

	// Two parts come up: the group runs.
	create := next()
	if _, err := s.ExperimentCreate(create, 1, groupCmd("g1", false, sbRecord("a", "n1"), sbRecord("b", "n2"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TreeApply(next(), &pb.TreeRecord{Name: "a", Node: "n1", SpecJson: []byte(`{"name":"a"}`)}, nil); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("a tree named like a sandbox: %v", err)
	}
	status := func(name, node string, placed uint64, st string) error {
		_, err := s.SandboxStatus(next(), 2, &pb.SandboxStatusCommand{Name: name, Node: node, PlacedIndex: placed, Status: st, Reason: "r"})
		return err
	}
	if err := status("a", "n2", create, SandboxRunning); !errors.Is(err, ErrSandboxState) {
		t.Fatalf("a report from another node: %v", err)
	}
	if err := status("a", "n1", create+1, SandboxRunning); !errors.Is(err, ErrSandboxState) {
		t.Fatalf("a report about another placement: %v", err)
	}
	if err := status("a", "n1", create, SandboxRunning); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Experiment(nil, "g1"); e.Status != ExperimentPending {
		t.Fatalf("one of two parts up: %s", e.Status)
	}
	if err := status("b", "n2", create, SandboxRunning); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Experiment(nil, "g1"); e.Status != ExperimentRunning {
		t.Fatalf("both parts up: %s", e.Status)
	}
	if _, err := s.ExperimentAbort(next(), 3, &pb.ExperimentAbortCommand{Id: "g1", Reason: "late"}); !errors.Is(err, ErrSandboxState) {
		t.Fatalf("abort of a running group: %v", err)
	}
	// A later failure of a running part is recorded, the group stays.
	if err := status("b", "n2", create, SandboxFailed); err != nil {
		t.Fatal(err)
	}
	if sb, _ := s.Sandbox("b"); sb == nil || sb.Status != SandboxFailed {
		t.Fatalf("b after its failure: %v", sb)
	}
	// A move makes a new placement, pending; stale check-and-set refused.
	sb, _ := s.Sandbox("b")
	if _, err := s.SandboxPlace(next(), &pb.SandboxPlaceCommand{Name: "b", Node: "n3", Cas: sb.ModifyIndex - 1}); !errors.Is(err, ErrCASConflict) {
		t.Fatalf("stale place: %v", err)
	}
	moved, err := s.SandboxPlace(next(), &pb.SandboxPlaceCommand{Name: "b", Node: "n3", Cas: sb.ModifyIndex})
	if err != nil || moved.Status != SandboxPending || moved.PlacedIndex != idx {
		t.Fatalf("place: %v %v", moved, err)
	}

	// Failed groups: a part fails while pending, the other is removed.
	for i := 0; i < 4; i++ {
		id := fmt.Sprintf("f%d", i)
		at := next()
		if _, err := s.ExperimentCreate(at, 1, groupCmd(id, false, sbRecord(id+"-x", "n1"), sbRecord(id+"-y", "n2"))); err != nil {
			t.Fatal(err)
		}
		if err := status(id+"-x", "n1", at, SandboxRunning); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := status(id+"-y", "n2", at, SandboxFailed); err != nil {
				t.Fatal(err)
			}
		} else if _, err := s.ExperimentAbort(next(), 3, &pb.ExperimentAbortCommand{Id: id, Reason: "node n2 lost"}); err != nil {
			t.Fatal(err)
		}
		e, _ := s.Experiment(nil, id)
		if e.Status != ExperimentFailed || e.Reason == "" {
			t.Fatalf("%s: %v", id, e)
		}
		for _, n := range []string{id + "-x", id + "-y"} {
			if sb, _ := s.Sandbox(n); sb != nil {
				t.Fatalf("%s outlived its failed group", n)
			}
		}
	}
	// A create prunes the failed groups past 2: f3's pruned f0.
	_, all, _ := s.Experiments(nil)
	var kept []string
	for _, e := range all {
		kept = append(kept, e.Id)
	}
	if got := strings.Join(kept, ","); got != "g1,f1,f2,f3" {
		t.Fatalf("groups kept: %s", got)
	}

	removed, err := s.ExperimentDelete(next(), &pb.ExperimentDeleteCommand{Id: "g1"})
	if err != nil || strings.Join(removed, ",") != "a,b" {
		t.Fatalf("delete: %v %v", removed, err)
	}
	if _, sbs, _ := s.Sandboxes(nil, ""); len(sbs) != 0 {
		t.Fatalf("after the delete: %d sandboxes", len(sbs))
	}
}
