package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

// storeModule commits m@1 through Apply, at indexes 1 and 2.
func storeModule(t *testing.T, f *FSM) {
	t.Helper()
	data := []byte("module bytes")
	sum := sha256.Sum256(data)
	key := hex.EncodeToString(sum[:])
	if r := apply(f, 1, entry(t, pb.CommandType_COMMAND_TYPE_MODULE_PUT_CHUNK, &pb.ModulePutChunkCommand{Sha256: sum[:], Data: data, MaxTotalBytes: 1 << 20})); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := apply(f, 2, entry(t, pb.CommandType_COMMAND_TYPE_MODULE_COMMIT, &pb.ModuleCommitCommand{
		Version:        &pb.ModuleVersion{Name: "m", Version: "1", Sha256: key, Size: uint64(len(data)), Chunks: []string{key}},
		MaxModuleBytes: 1 << 10, MaxTotalBytes: 1 << 20, ActivateIfNone: true})); r.Err != nil {
		t.Fatal(r.Err)
	}
}

// Checkpoint commands through Apply: the record carries the entry's time;
// malformed payloads, records and limits are refused with the same clear
// error on every replica, without a panic and without a change; the
// checkpoint pins its version, survives a snapshot and restore, and
// delete takes it out.
func TestApplyCheckpoints(t *testing.T) {
	create := func(id string, maxN uint32, procs ...*pb.CheckpointProcess) []byte {
		return entry(t, pb.CommandType_COMMAND_TYPE_CHECKPOINT_CREATE, &pb.CheckpointCreateCommand{
			Checkpoint:     &pb.CheckpointRecord{Id: id, Modules: []*pb.CheckpointModule{{Name: "m", Version: "1"}}, WithState: len(procs) > 0, Processes: procs},
			MaxCheckpoints: maxN, MaxStateBytes: 8, MaxProcessStateBytes: 4})
	}
	f, g := newFSM(t, nil), newFSM(t, nil)
	storeModule(t, f)
	storeModule(t, g)
	good := create("ckpt-1", 50, &pb.CheckpointProcess{Pid: "n1/3", Node: "n1", Module: "m", Version: "1", State: []byte(`{}`)})
	r := apply(f, 3, good)
	rec, ok := r.Value.(*pb.CheckpointRecord)
	if r.Err != nil || !ok || rec.CreatedAtUnixNano != 100e9 || rec.CreateIndex != 3 || rec.StateBytes != 2 || rec.Modules[0].Sha256 == "" {
		t.Fatalf("create: %+v %#v", r, r.Value)
	}
	apply(g, 3, good)

	bad := []struct {
		data []byte
		want error
		text string
	}{
		{mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_CHECKPOINT_CREATE, Payload: []byte{0x0a, 0xff}}), ErrMalformedCommand, ""},
		{mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_CHECKPOINT_DELETE, Payload: []byte{0xff}}), ErrMalformedCommand, ""},
		{entry(t, pb.CommandType_COMMAND_TYPE_CHECKPOINT_CREATE, &pb.CheckpointCreateCommand{}), state.ErrInvalidRecord, "needs an id"},
		{entry(t, pb.CommandType_COMMAND_TYPE_CHECKPOINT_CREATE, &pb.CheckpointCreateCommand{Checkpoint: &pb.CheckpointRecord{Id: "x", Modules: []*pb.CheckpointModule{nil}}}), state.ErrInvalidRecord, "needs a name and a version"},
		{create("ckpt-1", 50), state.ErrInvalidRecord, "exists"},
		{create("ckpt-2", 1), state.ErrLimit, "1 checkpoints are kept, the limit is 1"},
		{create("ckpt-2", 50, &pb.CheckpointProcess{Pid: "n1/4", Node: "n1", Module: "m", State: []byte("12345")}), state.ErrLimit, "the limit is 4 per process"},
		{create("ckpt-2", 50, &pb.CheckpointProcess{Pid: "n1/4", Node: "n1", Module: "m", State: []byte("1234")},
			&pb.CheckpointProcess{Pid: "n1/5", Node: "n1", Module: "m", State: []byte("12345")[:4]},
			&pb.CheckpointProcess{Pid: "n1/6", Node: "n1", Module: "m", State: []byte("1")}), state.ErrLimit, "the limit is 8 per checkpoint"},
		{create("ckpt-2", 50, &pb.CheckpointProcess{Module: "m"}), state.ErrInvalidRecord, "needs a pid and a node"},
		{entry(t, pb.CommandType_COMMAND_TYPE_CHECKPOINT_DELETE, &pb.CheckpointDeleteCommand{Id: "nope"}), state.ErrNotFound, `no checkpoint "nope"`},
		{entry(t, pb.CommandType_COMMAND_TYPE_MODULE_DELETE, &pb.ModuleDeleteCommand{Name: "m", Version: "1"}), state.ErrInUse, "active version"},
	}
	for i, b := range bad {
		idx := uint64(i + 4)
		ra, rb := apply(f, idx, b.data), apply(g, idx, b.data)
		if !errors.Is(ra.Err, b.want) || !strings.Contains(ra.Err.Error(), b.text) {
			t.Errorf("input %d: %v, want %v naming %q", i, ra.Err, b.want, b.text)
		}
		if rb.Err == nil || ra.Err.Error() != rb.Err.Error() {
			t.Errorf("input %d: replicas disagree: %v vs %v", i, ra.Err, rb.Err)
		}
	}
	if f.State().LatestIndex() != 3 || f.Halted() != nil {
		t.Fatalf("refused commands changed the state (index %d) or halted (%v)", f.State().LatestIndex(), f.Halted())
	}

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	h := newFSM(t, nil)
	if err := h.Restore(io.NopCloser(bytes.NewReader(s.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.State().Checkpoint("ckpt-1"); got == nil || string(got.Processes[0].State) != `{}` {
		t.Fatalf("restored %v", got)
	}
	if pins, _ := h.State().CheckpointPins("m"); len(pins["1"]) != 1 {
		t.Fatalf("restored pins %v", pins)
	}

	if r := apply(f, 30, entry(t, pb.CommandType_COMMAND_TYPE_CHECKPOINT_DELETE, &pb.CheckpointDeleteCommand{Id: "ckpt-1"})); r.Err != nil {
		t.Fatal(r.Err)
	}
	if _, all, _ := f.State().Checkpoints(nil); len(all) != 0 {
		t.Fatalf("after delete: %v", all)
	}
}
