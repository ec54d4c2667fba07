package state

import (
	"errors"
	"testing"

	"github.com/steward/steward/pb"
)

func nodeRec(name, status string) *pb.NodeRecord {
	return &pb.NodeRecord{Name: name, Status: status, GossipAddr: "127.0.0.1:7401", JoinedAtUnixNano: 100}
}

func TestNodeRegistry(t *testing.T) {
	s := mustStore(t)
	if err := s.NodeUpsert(3, nodeRec("n1", NodeAlive)); err != nil {
		t.Fatal(err)
	}
	later := nodeRec("n1", NodeLeft)
	later.JoinedAtUnixNano = 999
	if err := s.NodeUpsert(8, later); err != nil {
		t.Fatal(err)
	}
	n, err := s.Node("n1")
	if err != nil || n == nil {
		t.Fatal(n, err)
	}
	if n.Status != NodeLeft || n.CreateIndex != 3 || n.ModifyIndex != 8 || n.JoinedAtUnixNano != 100 {
		t.Fatalf("node = %+v", n)
	}
	if later.ModifyIndex != 0 {
		t.Fatal("upsert mutated the caller's record")
	}
	if err := s.NodeUpsert(9, nodeRec("", NodeAlive)); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("nameless node: %v", err)
	}
	if err := s.NodeUpsert(9, nodeRec("n2", "sleepy")); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("bad status: %v", err)
	}
	if err := s.NodeDelete(10, "ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
	if err := s.NodeDelete(10, "n1"); err != nil {
		t.Fatal(err)
	}
	if _, nodes, _ := s.Nodes(nil); len(nodes) != 0 {
		t.Fatalf("nodes after delete: %v", nodes)
	}
}

func TestClusterInit(t *testing.T) {
	s := mustStore(t)
	if s.ClusterID() != "" {
		t.Fatal("fresh store has a cluster id")
	}
	if err := s.ClusterInit(1, "abc", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.ClusterInit(2, "abc", 6); err != nil {
		t.Fatalf("idempotent init: %v", err)
	}
	if err := s.ClusterInit(3, "other", 7); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("second id accepted: %v", err)
	}
	if s.ClusterID() != "abc" {
		t.Fatal(s.ClusterID())
	}
}

func TestRelabel(t *testing.T) {
	s := mustStore(t)
	if err := s.Relabel("new"); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("relabel of a store without an id: %v", err)
	}
	if err := s.ClusterInit(7, "old", 5); err != nil {
		t.Fatal(err)
	}
	before := s.LatestIndex()
	if err := s.Relabel(""); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("empty id accepted: %v", err)
	}
	if err := s.Relabel("new"); err != nil {
		t.Fatal(err)
	}
	if s.ClusterID() != "new" || s.LatestIndex() != before {
		t.Fatalf("after relabel: id %q, index %d (was %d)", s.ClusterID(), s.LatestIndex(), before)
	}
	// The store's identity is the new one for ClusterInit too.
	if err := s.ClusterInit(9, "old", 6); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("the old id is still accepted: %v", err)
	}
	if err := s.ClusterInit(9, "new", 6); err != nil {
		t.Fatal(err)
	}
}
