package state

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/steward/steward/pb"
)

const testModuleTotal = 1 << 20

func putModule(t *testing.T, s *Store, idx *uint64, at int64, version string, data []byte, protected ...string) *pb.ModuleCommitResult {
	t.Helper()
	sum := sha256.Sum256(data)
	*idx++
	if err := s.ModulePutChunk(*idx, at, &pb.ModulePutChunkCommand{Sha256: sum[:], Data: data, MaxTotalBytes: testModuleTotal}); err != nil {
		t.Fatal(err)
	}
	*idx++
	res, err := s.ModuleCommit(*idx, at, &pb.ModuleCommitCommand{
		Version:      &pb.ModuleVersion{Name: "m", Version: version, Sha256: hex.EncodeToString(sum[:]), Size: uint64(len(data)), Chunks: []string{hex.EncodeToString(sum[:])}},
		HistoryLimit: 3, Protected: protected, MaxModuleBytes: 1 << 10, MaxTotalBytes: testModuleTotal, ActivateIfNone: true, GcGraceNanos: int64(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The history keeps the last versions, never the active one nor a
// protected one, and unreferenced chunks go once past the grace period.
func TestModuleHistoryEviction(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var idx uint64
	at := time.Second.Nanoseconds()
	for i := 1; i <= 3; i++ {
		putModule(t, s, &idx, at, fmt.Sprint(i), []byte(fmt.Sprintf("bytes of %d", i)))
	}
	if res := putModule(t, s, &idx, at, "3", []byte("bytes of 3")); !res.Unchanged {
		t.Fatalf("re-commit of the same bytes: %+v, want unchanged", res)
	}
	// 1 is active, 2 protected: 3 goes when 4 comes, 4 stays.
	res := putModule(t, s, &idx, at, "4", []byte("bytes of 4"), "2")
	if len(res.Evicted) != 1 || res.Evicted[0] != "m@3" {
		t.Fatalf("evicted %v, want [m@3]", res.Evicted)
	}
	_, vs, _ := s.ModuleVersions(nil, "m")
	var got []string
	for _, v := range vs {
		got = append(got, v.Version)
	}
	if fmt.Sprint(got) != "[1 2 4]" {
		t.Fatalf("versions %v, want [1 2 4]", got)
	}
	// m@3's chunk is dropped by a commit more than the grace period later.
	stored, _ := s.ModuleStoredBytes()
	putModule(t, s, &idx, at+2*time.Second.Nanoseconds(), "5", []byte("bytes of 5"), "2")
	after, _ := s.ModuleStoredBytes()
	if want := stored - uint64(len("bytes of 3")) - uint64(len("bytes of 4")) + uint64(len("bytes of 5")); after != want {
		t.Fatalf("stored %d bytes, want %d", after, want) // 4 evicted by 5, 3 and 4's chunks collected
	}
	if err := s.ModuleDelete(idx+1, at, &pb.ModuleDeleteCommand{Name: "m", Version: "1"}); !errors.Is(err, ErrInUse) {
		t.Fatalf("delete of the active version: %v, want ErrInUse", err)
	}
	v, _ := s.ModuleVersion("m", "5")
	if data, err := s.ModuleData(v); err != nil || string(data) != "bytes of 5" {
		t.Fatalf("data %q, %v", data, err)
	}
}
