package fsm

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

// Trust commands through Apply: the record carries the entry's time; a
// malformed payload or record is refused with a clear error on every
// replica alike, without a panic and without changing the state; the keys
// survive a snapshot and restore; remove takes a key out.
func TestApplyModuleTrust(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	f := newFSM(t, nil)
	r := apply(f, 1, entry(t, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD,
		&pb.ModuleTrustAddCommand{Key: &pb.ModuleTrustedKey{Name: "release", PublicKey: key, AddedBy: "ops@h"}, MaxKeys: 32}))
	rec, ok := r.Value.(*pb.ModuleTrustedKey)
	if r.Err != nil || !ok || rec.AddedAtUnixNano != 100e9 || rec.CreateIndex != 1 || rec.AddedBy != "ops@h" {
		t.Fatalf("add: %+v %#v", r, r.Value)
	}

	bad := []struct {
		data []byte
		want error
		text string
	}{
		{mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD, Payload: []byte{0x0a, 0xff}}), ErrMalformedCommand, ""},
		{mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_MODULE_TRUST_REMOVE, Payload: []byte{0xff}}), ErrMalformedCommand, ""},
		{entry(t, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD, &pb.ModuleTrustAddCommand{MaxKeys: 32}), state.ErrInvalidRecord, "needs a name"},
		{entry(t, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD, &pb.ModuleTrustAddCommand{
			Key: &pb.ModuleTrustedKey{Name: "short", PublicKey: key[:16]}, MaxKeys: 32}), state.ErrInvalidRecord, "16 bytes, an ed25519 public key is 32"},
		{entry(t, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD, &pb.ModuleTrustAddCommand{
			Key: &pb.ModuleTrustedKey{Name: "ci", PublicKey: bytes.Repeat([]byte{8}, 32)}}), state.ErrLimit, "the limit is 0"},
		{entry(t, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_REMOVE, &pb.ModuleTrustRemoveCommand{Name: "nope"}), state.ErrNotFound, `"nope"`},
		{entry(t, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_REMOVE, &pb.ModuleTrustRemoveCommand{}), state.ErrNotFound, `no trusted key is named ""`},
	}
	g := newFSM(t, nil)
	apply(g, 1, entry(t, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD,
		&pb.ModuleTrustAddCommand{Key: &pb.ModuleTrustedKey{Name: "release", PublicKey: key, AddedBy: "ops@h"}, MaxKeys: 32}))
	for i, b := range bad {
		idx := uint64(i + 2)
		ra, rb := apply(f, idx, b.data), apply(g, idx, b.data)
		if !errors.Is(ra.Err, b.want) || !strings.Contains(ra.Err.Error(), b.text) {
			t.Errorf("input %d: %v, want %v naming %q", i, ra.Err, b.want, b.text)
		}
		if rb.Err == nil || ra.Err.Error() != rb.Err.Error() {
			t.Errorf("input %d: replicas disagree: %v vs %v", i, ra.Err, rb.Err)
		}
	}
	if f.State().LatestIndex() != 1 || f.Halted() != nil {
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
	if _, keys, _ := h.State().ModuleTrustedKeys(nil); len(keys) != 1 || keys[0].Name != "release" || !bytes.Equal(keys[0].PublicKey, key) {
		t.Fatalf("restored keys %v", keys)
	}

	r = apply(f, 20, entry(t, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_REMOVE, &pb.ModuleTrustRemoveCommand{Name: "release"}))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if _, keys, _ := f.State().ModuleTrustedKeys(nil); len(keys) != 0 {
		t.Fatalf("after remove: %v", keys)
	}
}
