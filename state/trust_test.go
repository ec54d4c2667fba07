package state

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/steward/steward/pb"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// Trusting keys: the same name and key again change nothing; another key
// under the name, the key under another name, a key beyond the limit and
// malformed records are refused and change nothing; a removed key is gone.
func TestModuleTrust(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	add := func(idx uint64, name string, key []byte, max uint32) (*pb.ModuleTrustedKey, error) {
		return s.ModuleTrustAdd(idx, int64(idx)*1000, &pb.ModuleTrustAddCommand{
			Key: &pb.ModuleTrustedKey{Name: name, PublicKey: key, AddedBy: "ops"}, MaxKeys: max})
	}
	rec, err := add(1, "release", testKey(1), 2)
	if err != nil || rec.CreateIndex != 1 || rec.AddedAtUnixNano != 1000 || rec.AddedBy != "ops" {
		t.Fatalf("add: %+v, %v", rec, err)
	}
	if again, err := add(2, "release", testKey(1), 2); err != nil || again.CreateIndex != 1 {
		t.Fatalf("same key again: %+v, %v; want the record of index 1", again, err)
	}
	for _, tc := range []struct {
		name string
		key  []byte
		cmd  *pb.ModuleTrustAddCommand
		want error
		text string
	}{
		{name: "release", key: testKey(2), want: ErrInvalidRecord, text: "has another public key"},
		{name: "other", key: testKey(1), want: ErrInvalidRecord, text: `already trusted as "release"`},
		{name: "", key: testKey(3), want: ErrInvalidRecord, text: "needs a name"},
		{name: "short", key: testKey(3)[:31], want: ErrInvalidRecord, text: "31 bytes"},
		{name: "long", key: append(testKey(3), 0), want: ErrInvalidRecord, text: "33 bytes"},
		{cmd: &pb.ModuleTrustAddCommand{MaxKeys: 2}, want: ErrInvalidRecord, text: "needs a name"},
	} {
		cmd := tc.cmd
		if cmd == nil {
			cmd = &pb.ModuleTrustAddCommand{Key: &pb.ModuleTrustedKey{Name: tc.name, PublicKey: tc.key}, MaxKeys: 2}
		}
		_, err := s.ModuleTrustAdd(3, 0, cmd)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("add %q: %v, want %v naming %q", tc.name, err, tc.want, tc.text)
		}
	}
	if _, err := add(4, "ci", testKey(2), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := add(5, "third", testKey(3), 2); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "limit is 2") {
		t.Fatalf("a key beyond the limit: %v", err)
	}
	idx, keys, err := s.ModuleTrustedKeys(nil)
	if err != nil || idx != 4 || names(keys) != "[ci release]" {
		t.Fatalf("keys %s at index %d (%v), want [ci release] at 4", names(keys), idx, err)
	}
	if err := s.ModuleTrustRemove(6, &pb.ModuleTrustRemoveCommand{Name: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove of an unknown key: %v", err)
	}
	if err := s.ModuleTrustRemove(7, &pb.ModuleTrustRemoveCommand{Name: "release"}); err != nil {
		t.Fatal(err)
	}
	if idx, keys, _ := s.ModuleTrustedKeys(nil); idx != 7 || names(keys) != "[ci]" {
		t.Fatalf("after remove: %s at %d", names(keys), idx)
	}
	// The name is free again, for another key.
	if _, err := add(8, "release", testKey(4), 2); err != nil {
		t.Fatal(err)
	}
}

func names(keys []*pb.ModuleTrustedKey) string {
	var out []string
	for _, k := range keys {
		out = append(out, k.Name)
	}
	return fmt.Sprint(out)
}
