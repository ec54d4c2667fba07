package state

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/steward/steward/internal/fuzzseed"
)

// goldenStates are the state snapshots of the fsm package's golden logs
// (fsm/testdata/golden/*/state.bin): a real state through every table.
func goldenStates(tb testing.TB) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "fsm", "testdata", "golden", "v*", "state.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no golden state in ../fsm/testdata/golden")
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func persistBytes(tb testing.TB, s *Store) []byte {
	tb.Helper()
	sn := s.Snapshot()
	defer sn.Release()
	var buf bytes.Buffer
	if err := sn.Persist(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzRestore: Restore never panics; it refuses what it cannot read with
// ErrCorruptSnapshot; a stream it accepts persists to bytes that restore
// and persist again unchanged.
func FuzzRestore(f *testing.F) {
	empty, err := New()
	if err != nil {
		f.Fatal(err)
	}
	fuzzseed.Add(f, persistBytes(f, empty))
	fuzzseed.Add(f, []byte{})
	fuzzseed.Add(f, []byte(snapshotMagic))
	fuzzseed.Add(f, []byte("STWS\x02\x00"))
	// One kv record whose length runs past the end, one with an unknown tag.
	fuzzseed.Add(f, []byte("STWS\x01\x03\x7f\x0a"))
	fuzzseed.Add(f, []byte("STWS\x01\x63\x00\x00"))
	for _, g := range goldenStates(f) {
		fuzzseed.Add(f, g)
		fuzzseed.Add(f, g[:len(g)/2])
		fuzzseed.Add(f, g[:len(g)-1])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Restore(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("restore refused with %v, not an ErrCorruptSnapshot", err)
			}
			return
		}
		first := persistBytes(t, s)
		if again := persistBytes(t, s); !bytes.Equal(first, again) {
			t.Fatal("persisting the same store twice gives different bytes")
		}
		back, err := Restore(bytes.NewReader(first))
		if err != nil {
			t.Fatalf("the bytes a restored store persists do not restore: %v", err)
		}
		if second := persistBytes(t, back); !bytes.Equal(first, second) {
			t.Fatal("restore then persist does not give the persisted bytes back")
		}
	})
}

// The golden states restore and persist back byte for byte.
func TestRestoreGoldenStates(t *testing.T) {
	for _, g := range goldenStates(t) {
		s, err := Restore(bytes.NewReader(g))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(persistBytes(t, s), g) {
			t.Fatal("a golden state does not persist back to its bytes")
		}
		if s.LatestIndex() == 0 || s.ClusterID() == "" {
			t.Fatalf("golden state restored empty: index %d, cluster %q", s.LatestIndex(), s.ClusterID())
		}
	}
}
