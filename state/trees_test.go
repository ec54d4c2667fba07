package state

import (
	"errors"
	"testing"

	"github.com/steward/steward/pb"
)

func treeRec(name, node, specJSON string) *pb.TreeRecord {
	return &pb.TreeRecord{Name: name, Node: node, SpecJson: []byte(specJSON)}
}

const okSpec = `{"name":"web","node":"auto","strategy":"one_for_one","max_restarts":3,"max_seconds":5,"children":[{"id":"a","type":"worker","behavior":"echo","restart":"permanent","shutdown":"5s"}]}`

func TestTreeApplyAndIndexes(t *testing.T) {
	s := mustStore(t)
	rec, err := s.TreeApply(4, treeRec("web", "n1", okSpec), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.CreateIndex != 4 || rec.ModifyIndex != 4 {
		t.Fatalf("indexes %d/%d", rec.CreateIndex, rec.ModifyIndex)
	}
	// The same record again keeps its version.
	same, err := s.TreeApply(5, treeRec("web", "n1", okSpec), nil)
	if err != nil || same.ModifyIndex != 4 || s.TableIndex(tableTrees) != 4 {
		t.Fatalf("unchanged apply: %+v %v index=%d", same, err, s.TableIndex(tableTrees))
	}
	moved, err := s.TreeApply(6, treeRec("web", "n2", okSpec), u64(4))
	if err != nil || moved.ModifyIndex != 6 || moved.CreateIndex != 4 {
		t.Fatalf("move: %+v %v", moved, err)
	}
	if _, err := s.TreeApply(7, treeRec("web", "n3", okSpec), u64(4)); !errors.Is(err, ErrCASConflict) {
		t.Fatalf("stale cas: %v", err)
	}
	if _, err := s.TreeApply(7, treeRec("web", "n3", okSpec), u64(0)); !errors.Is(err, ErrCASConflict) {
		t.Fatalf("create-only on existing: %v", err)
	}
	_, onN2, _ := s.Trees(nil, "n2")
	_, onN1, _ := s.Trees(nil, "n1")
	if len(onN2) != 1 || len(onN1) != 0 {
		t.Fatalf("by node: n2=%d n1=%d", len(onN2), len(onN1))
	}
	if err := s.TreeDelete(8, "web"); err != nil {
		t.Fatal(err)
	}
	if err := s.TreeDelete(9, "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestTreeApplyRefusesBadRecords(t *testing.T) {
	s := mustStore(t)
	cases := map[string]*pb.TreeRecord{
		"no name":      treeRec("", "n1", okSpec),
		"not placed":   treeRec("web", "auto", okSpec),
		"bad json":     treeRec("web", "n1", `{"name":`),
		"no spec":      treeRec("web", "n1", ``),
		"not object":   treeRec("web", "n1", `["web"]`),
		"no name key":  treeRec("web", "n1", `{"Name":"web"}`),
		"name type":    treeRec("web", "n1", `{"name":7}`),
		"name differs": treeRec("other", "n1", okSpec),
		"nil":          nil,
	}
	for name, rec := range cases {
		if _, err := s.TreeApply(3, rec, nil); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if s.TableIndex(tableTrees) != 0 {
		t.Fatal("refused records changed the table")
	}
}

// TestTreeApplyLeavesSpecRulesToTheLeader: what the spec package's rules
// refuse today (an unknown strategy, an unknown key, a limit) is the
// leader's to check before proposing; a committed record holding it
// applies, so that a replica of another version never refuses what the
// leader accepted. The reconciler that decodes the spec reports it.
func TestTreeApplyLeavesSpecRulesToTheLeader(t *testing.T) {
	s := mustStore(t)
	cases := []string{
		`{"name":"web","strategy":"sideways","children":[]}`,
		`{"name":"web","strategy":"one_for_one","children":[{"id":"a","behavior":"from_a_newer_steward"}],"x_newer_field":{"n":1}}`,
		`{"name":"web","max_restarts":1000000000,"children":[]}`,
	}
	for i, doc := range cases {
		rec, err := s.TreeApply(uint64(3+i), treeRec("web", "n1", doc), nil)
		if err != nil || string(rec.SpecJson) != doc || rec.ModifyIndex != uint64(3+i) {
			t.Errorf("%s: %+v %v", doc, rec, err)
		}
		if _, err := DecodeTree(rec); err == nil && i == 1 {
			t.Errorf("%s: DecodeTree, the readers' parse, accepts an unknown key", doc)
		}
	}
}
