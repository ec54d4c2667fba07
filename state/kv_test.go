package state

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
)

func u64(v uint64) *uint64 { return &v }

func mustStore(t *testing.T) *Store {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKVSetGet(t *testing.T) {
	s := mustStore(t)
	rec, err := s.KVSet(5, "a/b", []byte("v1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.CreateIndex != 5 || rec.ModifyIndex != 5 {
		t.Fatalf("indexes = %d/%d, want 5/5", rec.CreateIndex, rec.ModifyIndex)
	}
	if _, err := s.KVSet(7, "a/b", []byte("v2"), nil); err != nil {
		t.Fatal(err)
	}
	idx, got, err := s.KVGet(nil, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	if idx != 7 || string(got.Value) != "v2" || got.CreateIndex != 5 || got.ModifyIndex != 7 {
		t.Fatalf("got idx=%d %+v", idx, got)
	}
	_, missing, err := s.KVGet(nil, "nope")
	if err != nil || missing != nil {
		t.Fatalf("missing key: %v %v", missing, err)
	}
}

func TestKVCheckAndSet(t *testing.T) {
	s := mustStore(t)
	if _, err := s.KVSet(2, "k", []byte("x"), u64(0)); err != nil {
		t.Fatalf("cas 0 on absent key: %v", err)
	}
	if _, err := s.KVSet(3, "k", []byte("y"), u64(0)); !errors.Is(err, ErrCASConflict) {
		t.Fatalf("cas 0 on present key: %v", err)
	}
	if _, err := s.KVSet(4, "k", []byte("y"), u64(9)); !errors.Is(err, ErrCASConflict) || !strings.Contains(err.Error(), "modify index 2, not 9") {
		t.Fatalf("stale cas: %v", err)
	}
	if _, err := s.KVSet(5, "k", []byte("z"), u64(2)); err != nil {
		t.Fatalf("matching cas: %v", err)
	}
	_, rec, _ := s.KVGet(nil, "k")
	if string(rec.Value) != "z" {
		t.Fatalf("value %q after refused writes", rec.Value)
	}
	if _, err := s.KVDelete(6, "k", u64(2), false); !errors.Is(err, ErrCASConflict) {
		t.Fatalf("stale cas delete: %v", err)
	}
	if n, err := s.KVDelete(7, "k", u64(5), false); err != nil || n != 1 {
		t.Fatalf("cas delete: %d %v", n, err)
	}
}

func TestKVLimits(t *testing.T) {
	s := mustStore(t)
	cases := []struct {
		key   string
		value []byte
		want  error
	}{
		{"", nil, ErrInvalidKey},
		{"/abs", nil, ErrInvalidKey},
		{strings.Repeat("k", MaxKVKeySize+1), nil, ErrInvalidKey},
		{"bad\xff", nil, ErrInvalidKey},
		{"ok", make([]byte, MaxKVValueSize+1), ErrValueTooLarge},
	}
	for _, c := range cases {
		if _, err := s.KVSet(1, c.key, c.value, nil); !errors.Is(err, c.want) {
			t.Errorf("KVSet(%.20q, %d bytes) = %v, want %v", c.key, len(c.value), err, c.want)
		}
	}
	if _, err := s.KVSet(1, "ok", make([]byte, MaxKVValueSize), nil); err != nil {
		t.Errorf("value at the limit refused: %v", err)
	}
	if s.TableIndex(tableKV) != 1 {
		t.Errorf("only the accepted write should move the index")
	}
}

func TestKVListAndPrefixDelete(t *testing.T) {
	s := mustStore(t)
	for i, k := range []string{"app/b", "app/a", "other", "app/c/d"} {
		if _, err := s.KVSet(uint64(10+i), k, []byte(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	_, list, err := s.KVList(nil, "app/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range list {
		keys = append(keys, r.Key)
	}
	if strings.Join(keys, ",") != "app/a,app/b,app/c/d" {
		t.Fatalf("list = %v", keys)
	}
	n, err := s.KVDelete(20, "app/", nil, true)
	if err != nil || n != 3 {
		t.Fatalf("prefix delete = %d, %v", n, err)
	}
	_, list, _ = s.KVList(nil, "")
	if len(list) != 1 || list[0].Key != "other" {
		t.Fatalf("after prefix delete: %v", list)
	}
	if _, err := s.KVDelete(21, "app/", u64(1), true); err == nil {
		t.Fatal("cas with prefix delete accepted")
	}
}

func TestKVWatchFires(t *testing.T) {
	s := mustStore(t)
	ws := memdb.NewWatchSet()
	if _, _, err := s.KVGet(ws, "w"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KVSet(3, "w", []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := ws.WatchCtx(ctx); err != nil {
		t.Fatalf("watch did not fire: %v", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := mustStore(t)
	_, _ = s.KVSet(3, "a", []byte("1"), nil)
	_, _ = s.KVSet(4, "b", []byte("2"), nil)
	_ = s.ClusterInit(1, "c-1", 42)
	if err := s.NodeUpsert(2, nodeRec("n1", NodeAlive)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sn := s.Snapshot()
	if sn.Index() != 4 {
		t.Fatalf("snapshot index %d", sn.Index())
	}
	if err := sn.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	first := append([]byte(nil), buf.Bytes()...)

	r, err := Restore(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r.ClusterID() != "c-1" || r.LatestIndex() != 4 {
		t.Fatalf("restored cluster=%q index=%d", r.ClusterID(), r.LatestIndex())
	}
	_, v, _ := r.KVGet(nil, "b")
	if v == nil || string(v.Value) != "2" || v.ModifyIndex != 4 {
		t.Fatalf("restored kv %+v", v)
	}
	_, nodes, _ := r.Nodes(nil)
	if len(nodes) != 1 || nodes[0].Name != "n1" {
		t.Fatalf("restored nodes %v", nodes)
	}
	// Same content, same bytes.
	var again bytes.Buffer
	sn2 := r.Snapshot()
	if err := sn2.Persist(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again.Bytes()) {
		t.Fatal("snapshot of a restored store differs from the original")
	}
}

func TestRestoreRefusesCorruptStreams(t *testing.T) {
	s := mustStore(t)
	_, _ = s.KVSet(3, "a", []byte("hello"), nil)
	var buf bytes.Buffer
	if err := s.Snapshot().Persist(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	cases := map[string][]byte{
		"empty":       nil,
		"bad magic":   append([]byte("XXXX"), good[4:]...),
		"bad version": append(append([]byte(nil), good[:4]...), append([]byte{9}, good[5:]...)...),
		"truncated":   good[:len(good)-3],
		"unknown tag": append(append([]byte(nil), good[:5]...), 0xEE, 1, 0, 0),
		"no end":      good[:len(good)-1],
	}
	for name, data := range cases {
		if _, err := Restore(bytes.NewReader(data)); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: err = %v, want ErrCorruptSnapshot", name, err)
		}
	}
}

// A batch commits its writes together; a broken batch commits none.
func TestBatch(t *testing.T) {
	s := mustStore(t)
	s.BeginBatch()
	if _, err := s.KVSet(1, "a", []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KVSet(2, "a", []byte("2"), u64(0)); !errors.Is(err, ErrCASConflict) {
		t.Fatalf("cas inside a batch: %v", err)
	}
	if _, rec, _ := s.KVGet(nil, "a"); rec != nil {
		t.Fatal("a batch's write is visible before the batch commits")
	}
	if !s.EndBatch() {
		t.Fatal("a batch with only domain refusals is broken")
	}
	if _, rec, _ := s.KVGet(nil, "a"); rec == nil || string(rec.Value) != "1" {
		t.Fatalf("after commit: %v", rec)
	}
	s.BeginBatch()
	if _, err := s.KVSet(3, "b", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	s.batchBroken = true // as a failed write would leave it
	if s.EndBatch() {
		t.Fatal("a broken batch committed")
	}
	if _, rec, _ := s.KVGet(nil, "b"); rec != nil {
		t.Fatal("a broken batch's write survived")
	}
	if !IsDomainError(casError("k", 1, 2)) || IsDomainError(errors.New("memdb: index missing")) {
		t.Fatal("IsDomainError misclassifies")
	}
}
