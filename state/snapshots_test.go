package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/steward/steward/pb"
)

func capture(t *testing.T, s *Store, id string, nodes ...string) {
	t.Helper()
	if _, err := s.SnapshotCapture(10, t0, &pb.SnapshotCaptureCommand{Id: id, Nodes: nodes, DeadlineUnixNano: t0 + 1000}); err != nil {
		t.Fatal(err)
	}
}

// sendPart stores data as the part of node, split into chunks of size n.
func sendPart(t *testing.T, s *Store, id, node string, data []byte, n int, sum []byte) error {
	t.Helper()
	total := (len(data) + n - 1) / n
	for i := 0; i < total; i++ {
		end := min((i+1)*n, len(data))
		err := s.SnapshotPart(uint64(20+i), t0+5, &pb.SnapshotPartCommand{SnapshotId: id, Node: node, Index: uint32(i), Total: uint32(total),
			Data: data[i*n : end], RawBytes: 99, Processes: 3, Sha256: sum})
		if err != nil {
			return err
		}
	}
	return nil
}

func TestSnapshotCompletesWhenEveryPartIsIn(t *testing.T) {
	s := mustStore(t)
	capture(t, s, "s1", "n2", "n1")
	a := bytes.Repeat([]byte("a"), 1000)
	sa := sha256.Sum256(a)
	if err := sendPart(t, s, "s1", "n1", a, 300, sa[:]); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.SnapshotRecord(nil, "s1")
	if rec.Status != SnapshotCapturing || rec.Parts[0].Node != "n1" || rec.Parts[0].Status != PartComplete || rec.Parts[0].Chunks != 4 {
		t.Fatalf("after n1: %+v", rec)
	}
	// A duplicate chunk changes nothing.
	if err := sendPart(t, s, "s1", "n1", a, 300, sa[:]); err != nil {
		t.Fatal(err)
	}
	b := []byte("bbb")
	sb := sha256.Sum256(b)
	if err := sendPart(t, s, "s1", "n2", b, 300, sb[:]); err != nil {
		t.Fatal(err)
	}
	rec, _ = s.SnapshotRecord(nil, "s1")
	if rec.Status != SnapshotComplete || rec.FinishedAtUnixNano != t0+5 {
		t.Fatalf("final: %+v", rec)
	}
	got, _ := s.SnapshotPartData("s1", "n1")
	if !bytes.Equal(got, a) {
		t.Fatal("part data differs")
	}
	if err := s.SnapshotDelete(40, "s1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SnapshotPartData("s1", "n1"); len(got) != 0 {
		t.Fatal("chunks survive the delete")
	}
}

func TestSnapshotChecksumAndDeadline(t *testing.T) {
	s := mustStore(t)
	capture(t, s, "s", "n1", "n2", "n3")
	good := []byte("the part")
	wrong := sha256.Sum256([]byte("another"))
	if err := sendPart(t, s, "s", "n1", good, 3, wrong[:]); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(good)
	if err := sendPart(t, s, "s", "n2", good, 100, sum[:]); err != nil {
		t.Fatal(err)
	}
	if err := s.SnapshotFinish(30, t0+999, &pb.SnapshotFinishCommand{SnapshotId: "s"}); !errors.Is(err, ErrNotExpired) {
		t.Fatalf("early finish: %v", err)
	}
	if err := s.SnapshotFinish(31, t0+1000, &pb.SnapshotFinishCommand{SnapshotId: "s"}); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.SnapshotRecord(nil, "s")
	got := fmt.Sprintln(rec.Status, rec.Parts[0].Status, rec.Parts[1].Status, rec.Parts[2].Status)
	if got != "partial corrupt complete missing\n" {
		t.Fatalf("statuses: %s", got)
	}
	if err := sendPart(t, s, "s", "n3", good, 100, sum[:]); !errors.Is(err, ErrPlanNotRunning) {
		t.Fatalf("a part after the snapshot closed: %v", err)
	}
}

func TestSnapshotLimits(t *testing.T) {
	s := mustStore(t)
	for i := 0; i < MaxSnapshots; i++ {
		capture(t, s, fmt.Sprintf("s%d", i), "n1")
	}
	if _, err := s.SnapshotCapture(50, t0, &pb.SnapshotCaptureCommand{Id: "one-more", Nodes: []string{"n1"}, DeadlineUnixNano: t0 + 1}); !errors.Is(err, ErrLimit) {
		t.Fatalf("capture beyond the limit: %v", err)
	}
	sum := sha256.Sum256([]byte("x"))
	big := make([]byte, MaxSnapshotChunkBytes+1)
	if err := s.SnapshotPart(51, t0, &pb.SnapshotPartCommand{SnapshotId: "s0", Node: "n1", Total: 1, Data: big, Sha256: sum[:]}); !errors.Is(err, ErrLimit) {
		t.Fatalf("oversized chunk: %v", err)
	}
	if err := s.SnapshotPart(52, t0, &pb.SnapshotPartCommand{SnapshotId: "s0", Node: "n1", Index: 0, Total: 1000, Data: []byte("x"), Sha256: sum[:]}); !errors.Is(err, ErrLimit) {
		t.Fatalf("too many chunks: %v", err)
	}
	if err := s.SnapshotPart(53, t0, &pb.SnapshotPartCommand{SnapshotId: "s0", Node: "n9", Total: 1, Data: []byte("x"), Sha256: sum[:]}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("unknown node: %v", err)
	}
	if err := s.SnapshotPart(54, t0, &pb.SnapshotPartCommand{SnapshotId: "nope", Node: "n1", Total: 1, Data: []byte("x"), Sha256: sum[:]}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown snapshot: %v", err)
	}
}

func TestSnapshotImport(t *testing.T) {
	s := mustStore(t)
	data := []byte("imported part")
	sum := sha256.Sum256(data)
	rec := &pb.SnapshotRecord{Id: "imp", FinalStatus: SnapshotPartial, Parts: []*pb.SnapshotPartInfo{
		{Node: "n1", Status: PartComplete, Chunks: 1, StoredBytes: uint64(len(data)), Sha256: sum[:]},
		{Node: "n2", Status: PartMissing},
	}}
	got, err := s.SnapshotImport(5, t0, &pb.SnapshotImportCommand{Record: rec})
	if err != nil || got.Status != SnapshotImporting || got.Parts[0].StoredBytes != 0 {
		t.Fatalf("import: %+v %v", got, err)
	}
	if err := sendPart(t, s, "imp", "n1", data, 100, sum[:]); err != nil {
		t.Fatal(err)
	}
	r, _ := s.SnapshotRecord(nil, "imp")
	if r.Status != SnapshotPartial || r.Parts[0].Status != PartComplete || r.Parts[0].StoredBytes != uint64(len(data)) {
		t.Fatalf("after import: %+v", r)
	}
	if _, err := s.SnapshotImport(6, t0, &pb.SnapshotImportCommand{Record: rec}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("import of an existing id: %v", err)
	}
}
