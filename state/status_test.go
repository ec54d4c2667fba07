package state

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"google.golang.org/protobuf/proto"
)

func TestStatusNames(t *testing.T) {
	if got := PlanStatusName(pb.PlanStatus_PLAN_STATUS_ROLLING_BACK); got != PlanRollingBack {
		t.Errorf("rolling back: %q", got)
	}
	if got := PlanStatusName(pb.PlanStatus(9)); got != "plan_status_9" {
		t.Errorf("a value this binary does not know: %q", got)
	}
	if got := PartStatusName(pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_CORRUPT); got != PartCorrupt {
		t.Errorf("corrupt: %q", got)
	}
	// A record written before the enums has only the name.
	if got := PlanStatusOf(&pb.PlanRecord{Status: PlanRolledBack}); got != pb.PlanStatus_PLAN_STATUS_ROLLED_BACK {
		t.Errorf("by name: %s", got)
	}
	// The enum decides when set; a value not known is kept as it is.
	if got := StepStatusOf(&pb.Step{Status: StepPending, StatusCode: pb.StepStatus_STEP_STATUS_LOST}); got != pb.StepStatus_STEP_STATUS_LOST {
		t.Errorf("enum over name: %s", got)
	}
	if got := NodeStatusOf(&pb.NodeRecord{Status: "draining", StatusCode: 7}); got != 7 {
		t.Errorf("unknown enum: %s", got)
	}
	if got := NodeStatusOf(&pb.NodeRecord{Status: "draining"}); got != pb.NodeStatus_NODE_STATUS_UNSPECIFIED {
		t.Errorf("unknown name: %s", got)
	}
	if PlanDone(&pb.PlanRecord{StatusCode: 9, Status: "archived"}) || !PlanDone(&pb.PlanRecord{Status: PlanCancelled}) || !PlanFinished(PlanSucceeded) {
		t.Error("PlanDone / PlanFinished")
	}
}

// withoutStatusCodes rewrites a snapshot stream as a binary before the
// status enums wrote it: every status by name only.
func withoutStatusCodes(t *testing.T, snap []byte) []byte {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(snap))
	out := make([]byte, len(snapshotMagic)+1)
	if _, err := io.ReadFull(br, out); err != nil {
		t.Fatal(err)
	}
	for {
		tag, err := br.ReadByte()
		if err != nil {
			t.Fatal(err)
		}
		if tag == 0 {
			return append(out, 0)
		}
		size, _ := binary.ReadUvarint(br)
		raw := make([]byte, size)
		if _, err := io.ReadFull(br, raw); err != nil {
			t.Fatal(err)
		}
		_, def, _ := tableByTag(tag)
		m := def.newRecord()
		if err := proto.Unmarshal(raw, m); err != nil {
			t.Fatal(err)
		}
		switch r := m.(type) {
		case *pb.PlanRecord:
			r.StatusCode = 0
			for _, st := range r.Stages {
				st.StatusCode = 0
				for _, s := range st.Steps {
					s.StatusCode = 0
				}
			}
		case *pb.PlanSpecRecord:
			r.Shape = nil
		case *pb.SnapshotRecord:
			r.StatusCode, r.FinalStatusCode = 0, 0
			for _, p := range r.Parts {
				p.StatusCode = 0
			}
		case *pb.NodeRecord:
			r.StatusCode = 0
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tag)
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
}

func persisted(t *testing.T, s *Store) []byte {
	t.Helper()
	var b bytes.Buffer
	sn := s.Snapshot()
	defer sn.Release()
	if err := sn.Persist(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRecordsWrittenBeforeTheEnumsCarryOn: a state whose records have
// their statuses by name only (and plans no shape), as a binary before
// the enums left it, restores, and its running plan, capture and import
// and its nodes carry on exactly as they do in the state this binary
// wrote: same outcomes, same statuses, and the same records once the
// enums are set aside.
func TestRecordsWrittenBeforeTheEnumsCarryOn(t *testing.T) {
	now := mustStore(t)
	if err := now.NodeUpsert(2, nodeRec("n1", NodeAlive)); err != nil {
		t.Fatal(err)
	}
	createPlan(t, now, "p", plan.Strict)
	run(t, now, "p", "phase-0", 11, okStep("n1", "x", "a"), okStep("n2", "y", "b"))
	if _, err := now.SnapshotCapture(20, t0, &pb.SnapshotCaptureCommand{Id: "s", Nodes: []string{"n1", "n2"}, DeadlineUnixNano: t0 + int64(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	data := []byte("part")
	sum := sha256.Sum256(data)
	part := func(id, node string) *pb.SnapshotPartCommand {
		return &pb.SnapshotPartCommand{SnapshotId: id, Node: node, Total: 1, Data: data, Sha256: sum[:]}
	}
	if _, err := now.SnapshotImport(22, t0, &pb.SnapshotImportCommand{Record: &pb.SnapshotRecord{Id: "i", FinalStatus: SnapshotComplete,
		Parts: []*pb.SnapshotPartInfo{{Node: "n1", Status: PartComplete, Chunks: 1, StoredBytes: 4, Sha256: sum[:]}}}}); err != nil {
		t.Fatal(err)
	}
	before := withoutStatusCodes(t, persisted(t, now))
	old, err := Restore(bytes.NewReader(before))
	if err != nil {
		t.Fatal(err)
	}
	if got := persisted(t, old); !bytes.Equal(got, before) {
		t.Fatal("restoring records without enums and persisting them again changes them")
	}
	steps := []func(s *Store) error{
		func(s *Store) error {
			return s.PlanStepStart(30, t0+3, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-0", Node: "n1", Nonce: "z"})
		},
		func(s *Store) error {
			return s.PlanStepStart(31, t0+3, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-1", Node: "n1", Nonce: "x"})
		},
		func(s *Store) error {
			return s.PlanStepReport(32, t0+4, &pb.PlanStepReportCommand{PlanId: "p", Stage: "phase-1", Step: failStep("n1", "x", "c")})
		},
		func(s *Store) error {
			return s.PlanStepStart(33, t0+5, &pb.PlanStepStartCommand{PlanId: "p", Stage: "rollback-0", Node: "n1", Nonce: "x"})
		},
		func(s *Store) error {
			return s.PlanStepReport(34, t0+6, &pb.PlanStepReportCommand{PlanId: "p", Stage: "rollback-0", Step: okStep("n1", "x", "rollback-a")})
		},
		func(s *Store) error { return s.SnapshotPart(35, t0+7, part("s", "n1")) },
		func(s *Store) error { return s.SnapshotFinish(36, t0+8, &pb.SnapshotFinishCommand{SnapshotId: "s"}) },
		func(s *Store) error {
			return s.SnapshotFinish(37, t0+int64(time.Minute), &pb.SnapshotFinishCommand{SnapshotId: "s"})
		},
		func(s *Store) error { return s.SnapshotPart(38, t0+9, part("i", "n1")) },
		func(s *Store) error {
			later := nodeRec("n1", NodeAlive)
			later.JoinedAtUnixNano = 999
			return s.NodeUpsert(39, later)
		},
	}
	for i, step := range steps {
		errNow, errOld := step(now), step(old)
		if (errNow == nil) != (errOld == nil) || (errNow != nil && errNow.Error() != errOld.Error()) {
			t.Fatalf("step %d: %v with enums, %v without", i, errNow, errOld)
		}
	}
	if a, b := withoutStatusCodes(t, persisted(t, now)), withoutStatusCodes(t, persisted(t, old)); !bytes.Equal(a, b) {
		t.Fatal("the state carried on from records without enums differs")
	}
	for _, s := range []*Store{now, old} {
		p := planOf(t, s, "p")
		snap, _ := s.SnapshotRecord(nil, "s")
		imp, _ := s.SnapshotRecord(nil, "i")
		n, _ := s.Node("n1")
		if PlanStatusOf(p) != pb.PlanStatus_PLAN_STATUS_ROLLED_BACK || SnapshotStatusOf(snap) != pb.SnapshotStatus_SNAPSHOT_STATUS_PARTIAL ||
			SnapshotStatusOf(imp) != pb.SnapshotStatus_SNAPSHOT_STATUS_COMPLETE || n.JoinedAtUnixNano != 100 {
			t.Fatalf("plan %s, capture %s, import %s, n1 joined at %d", p.Status, snap.Status, imp.Status, n.JoinedAtUnixNano)
		}
	}
}

// TestStatusValuesThisBinaryDoesNotKnow: a newer leader's enum value in a
// command is kept as it is, never refused; it is none of the statuses
// this binary acts on.
func TestStatusValuesThisBinaryDoesNotKnow(t *testing.T) {
	s := mustStore(t)
	n := nodeRec("n1", "draining")
	n.StatusCode = 9
	if err := s.NodeUpsert(2, n); err != nil {
		t.Fatalf("a node status this binary does not know: %v", err)
	}
	if rec, _ := s.Node("n1"); rec.StatusCode != 9 || rec.Status != "draining" || NodeStatusOf(rec) == pb.NodeStatus_NODE_STATUS_ALIVE {
		t.Fatalf("kept as %+v", rec)
	}
	// A name alone must be one the versions before the enums wrote.
	if err := s.NodeUpsert(3, nodeRec("n2", "draining")); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("an unknown name: %v", err)
	}

	data := []byte("part")
	sum := sha256.Sum256(data)
	rec := &pb.SnapshotRecord{Id: "i", FinalStatusCode: 9, FinalStatus: "archived", Parts: []*pb.SnapshotPartInfo{
		{Node: "n1", StatusCode: pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_COMPLETE, Chunks: 1, StoredBytes: 4, Sha256: sum[:]},
		{Node: "n2", StatusCode: 8, Status: "offloaded"},
	}}
	if _, err := s.SnapshotImport(4, t0, &pb.SnapshotImportCommand{Record: rec}); err != nil {
		t.Fatalf("an import with statuses this binary does not know: %v", err)
	}
	if err := s.SnapshotPart(5, t0, &pb.SnapshotPartCommand{SnapshotId: "i", Node: "n2", Total: 1, Data: data, Sha256: sum[:]}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SnapshotRecord(nil, "i"); SnapshotStatusOf(got) != pb.SnapshotStatus_SNAPSHOT_STATUS_IMPORTING || got.Parts[1].Received != 0 {
		t.Fatalf("the part of a status not known awaits no chunks: %+v", got)
	}
	if err := s.SnapshotPart(6, t0, &pb.SnapshotPartCommand{SnapshotId: "i", Node: "n1", Total: 1, Data: data, Sha256: sum[:]}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.SnapshotRecord(nil, "i")
	if got.StatusCode != 9 || got.Status != "archived" || got.Parts[1].StatusCode != 8 || got.Parts[1].Status != "offloaded" {
		t.Fatalf("the import ends in its final status, kept as given: %+v", got)
	}
	for name, final := range map[string]*pb.SnapshotRecord{
		"capturing": {Id: "j", FinalStatusCode: pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING, Parts: rec.Parts[:1]},
		"importing": {Id: "j", FinalStatus: SnapshotImporting, Parts: rec.Parts[:1]},
		"none":      {Id: "j", Parts: rec.Parts[:1]},
		"corrupt":   {Id: "j", FinalStatus: SnapshotComplete, Parts: []*pb.SnapshotPartInfo{{Node: "n1", StatusCode: pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_CORRUPT}}},
	} {
		if _, err := s.SnapshotImport(7, t0, &pb.SnapshotImportCommand{Record: final}); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("import %s: %v", name, err)
		}
	}

	// A plan whose record a newer binary left in a status this one does
	// not know: not finished, not running; refused alike everywhere.
	createPlan(t, s, "p", plan.Moderate)
	snap := persisted(t, s)
	var edited bytes.Buffer
	edited.Write(snap[:len(snapshotMagic)+1])
	br := bufio.NewReader(bytes.NewReader(snap[len(snapshotMagic)+1:]))
	for {
		tag, _ := br.ReadByte()
		if tag == 0 {
			edited.WriteByte(0)
			break
		}
		size, _ := binary.ReadUvarint(br)
		raw := make([]byte, size)
		_, _ = io.ReadFull(br, raw)
		if _, def, _ := tableByTag(tag); def.schema.Name == tablePlans {
			var p pb.PlanRecord
			if err := proto.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			p.StatusCode, p.Status = 9, "paused"
			p.Stages[0].StatusCode, p.Stages[0].Status = 9, "paused"
			raw, _ = proto.MarshalOptions{Deterministic: true}.Marshal(&p)
		}
		edited.WriteByte(tag)
		var n [binary.MaxVarintLen64]byte
		edited.Write(n[:binary.PutUvarint(n[:], uint64(len(raw)))])
		edited.Write(raw)
	}
	r, err := Restore(bytes.NewReader(edited.Bytes()))
	if err != nil {
		t.Fatalf("restore of records with statuses this binary does not know: %v", err)
	}
	p := planOf(t, r, "p")
	if PlanDone(p) || p.Status != "paused" {
		t.Fatalf("plan %+v", p)
	}
	if err := r.PlanStepStart(20, t0+1, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-0", Node: "n1", Nonce: "x"}); !errors.Is(err, ErrPlanNotRunning) {
		t.Fatalf("a step of a stage in a status not known: %v", err)
	}
	if err := r.PlanCancel(21, t0+1, &pb.PlanCancelCommand{PlanId: "p"}); !errors.Is(err, ErrPlanNotRunning) || err.Error() != "plan not running: plan p is already paused" {
		t.Fatalf("cancel of a plan in a status not known: %v", err)
	}
}
