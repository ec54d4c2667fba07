package fsm

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func newFSM(t *testing.T, onHalt func(error)) *FSM {
	t.Helper()
	f, err := New(Config{OnHalt: onHalt})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func entry(t *testing.T, typ pb.CommandType, payload proto.Message) []byte {
	t.Helper()
	b, err := Encode(typ, payload, time.Unix(100, 0), "n1")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func apply(f *FSM, idx uint64, data []byte) *Result {
	return f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: data}).(*Result)
}

func TestApplyKV(t *testing.T) {
	f := newFSM(t, nil)
	r := apply(f, 1, entry(t, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "a", Value: []byte("1")}))
	if r.Err != nil || r.Index != 1 {
		t.Fatalf("put: %+v", r)
	}
	if rec, ok := r.Value.(*pb.KVRecord); !ok || rec.ModifyIndex != 1 {
		t.Fatalf("put value: %#v", r.Value)
	}
	var zero uint64
	r = apply(f, 2, entry(t, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "a", Value: []byte("2"), Cas: &zero}))
	if !errors.Is(r.Err, state.ErrCASConflict) {
		t.Fatalf("cas conflict: %+v", r)
	}
	r = apply(f, 3, entry(t, pb.CommandType_COMMAND_TYPE_KV_DELETE, &pb.KVDeleteCommand{Key: "a"}))
	if r.Err != nil || r.Value.(int) != 1 {
		t.Fatalf("delete: %+v", r)
	}
}

// A malformed entry or payload gives the same error result on every replica
// and changes nothing.
func TestMalformedCommandsSameResultEverywhere(t *testing.T) {
	inputs := [][]byte{
		{0xff, 0xff, 0xff},
		mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_KV_PUT, Payload: []byte{0x0a, 0xff}}),
		mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_NODE_UPSERT, Payload: nil}),
		mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_KV_PUT, Payload: mustMarshal(t, &pb.KVPutCommand{Key: ""})}),
	}
	a, b := newFSM(t, nil), newFSM(t, nil)
	for i, in := range inputs {
		ra, rb := apply(a, uint64(i+1), in), apply(b, uint64(i+1), in)
		if ra.Err == nil {
			t.Fatalf("input %d accepted", i)
		}
		if ra.Err.Error() != rb.Err.Error() {
			t.Fatalf("input %d: replicas disagree: %q vs %q", i, ra.Err, rb.Err)
		}
	}
	if a.State().LatestIndex() != 0 {
		t.Fatal("malformed commands changed the state")
	}
}

func TestUnknownCommandHalts(t *testing.T) {
	var halted []error
	f := newFSM(t, func(err error) { halted = append(halted, err) })
	unknown := mustMarshal(t, &pb.LogEntry{Type: pb.CommandType(9999), Payload: []byte("x")})
	r := apply(f, 7, unknown)
	if !errors.Is(r.Err, ErrUnknownCommand) || len(halted) != 1 {
		t.Fatalf("unknown command: %+v, halts=%d", r, len(halted))
	}
	// Nothing more is applied, and no snapshot is taken.
	r = apply(f, 8, entry(t, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "a"}))
	if !errors.Is(r.Err, ErrUnknownCommand) {
		t.Fatalf("apply after halt: %+v", r)
	}
	if _, err := f.Snapshot(); !errors.Is(err, ErrHalted) {
		t.Fatalf("snapshot while halted: %v", err)
	}
	if len(halted) != 1 {
		t.Fatalf("OnHalt called %d times", len(halted))
	}
}

func TestUnknownIgnorableCommandSkipped(t *testing.T) {
	f := newFSM(t, func(err error) { t.Fatalf("halted on ignorable entry: %v", err) })
	r := apply(f, 3, mustMarshal(t, &pb.LogEntry{Type: pb.CommandType(9998), IgnoreIfUnknown: true}))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if f.Halted() != nil {
		t.Fatal("halted")
	}
}

type sink struct {
	bytes.Buffer
	cancelled bool
}

func (s *sink) ID() string    { return "test" }
func (s *sink) Cancel() error { s.cancelled = true; return nil }
func (s *sink) Close() error  { return nil }

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	f := newFSM(t, nil)
	apply(f, 1, entry(t, pb.CommandType_COMMAND_TYPE_CLUSTER_INIT, &pb.ClusterInitCommand{ClusterId: "cid"}))
	apply(f, 2, entry(t, pb.CommandType_COMMAND_TYPE_NODE_UPSERT, &pb.NodeUpsertCommand{Node: &pb.NodeRecord{Name: "n1", Status: "alive"}}))
	apply(f, 3, entry(t, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "k", Value: []byte("v")}))

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	g := newFSM(t, nil)
	old := g.State()
	if err := g.Restore(io.NopCloser(bytes.NewReader(s.Bytes()))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.AbandonCh():
	default:
		t.Fatal("old store not abandoned after restore")
	}
	st := g.State()
	_, kv, _ := st.KVGet(nil, "k")
	if st.ClusterID() != "cid" || kv == nil || string(kv.Value) != "v" || st.LatestIndex() != 3 {
		t.Fatalf("restored: cluster=%q kv=%v index=%d", st.ClusterID(), kv, st.LatestIndex())
	}
	// A corrupt snapshot is refused and the current state kept.
	if err := g.Restore(io.NopCloser(bytes.NewReader(s.Bytes()[:10]))); !errors.Is(err, state.ErrCorruptSnapshot) {
		t.Fatalf("corrupt restore: %v", err)
	}
	if g.State() != st {
		t.Fatal("corrupt restore replaced the store")
	}
}

func TestRegistrationRefusesDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate registration did not panic")
		}
	}()
	registerCommand(pb.CommandType_COMMAND_TYPE_KV_PUT, nil, nil)
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzApply(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x04, 0x1a, 0x03, 0x0a, 0x01, 0x61})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		res := m.Apply(&raft.Log{Index: 1, Data: data})
		if _, ok := res.(*Result); !ok {
			t.Fatalf("Apply returned %T", res)
		}
	})
}
