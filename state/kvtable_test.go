package state

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
)

// A batch that breaks leaves the kv table as it was: its writes are dropped
// with the rest of the batch, and readers never saw them.
func TestKVBrokenBatchLeavesNothing(t *testing.T) {
	s := mustStore(t)
	if _, err := s.KVSet(2, "a", []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	s.BeginBatch()
	if _, err := s.KVSet(3, "a", []byte("2"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KVSet(4, "b", []byte("3"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KVDelete(5, "", nil, true); err != nil {
		t.Fatal(err)
	}
	if idx, rec, _ := s.KVGet(nil, "a"); idx != 2 || rec == nil || string(rec.Value) != "1" {
		t.Fatalf("a reader saw the batch before it committed: %d %v", idx, rec)
	}
	s.batchBroken = true // what a write failing halfway does
	if s.EndBatch() {
		t.Fatal("a broken batch committed")
	}
	idx, list, _ := s.KVList(nil, "")
	if idx != 2 || len(list) != 1 || list[0].Key != "a" || string(list[0].Value) != "1" {
		t.Fatalf("after the broken batch: index %d, %v", idx, list)
	}
	if s.TableIndex(tableKV) != 2 {
		t.Fatalf("index table moved to %d", s.TableIndex(tableKV))
	}
	// The next write starts from the committed tree, not the dropped one.
	if rec, err := s.KVSet(6, "a", []byte("4"), u64(2)); err != nil || rec.CreateIndex != 2 {
		t.Fatalf("write after the broken batch: %v, %v", rec, err)
	}
}

// A write transaction that fails after changing the kv table drops the
// change (Store.write's rule for every table).
func TestKVFailedWriteLeavesNothing(t *testing.T) {
	s := mustStore(t)
	boom := errors.New("boom")
	err := s.write(func(txn *memdb.Txn) error {
		s.kv.tree().ReplaceOrInsert(&pb.KVRecord{Key: "x", CreateIndex: 7, ModifyIndex: 7})
		s.kv.bump(7)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("write: %v", err)
	}
	if idx, rec, _ := s.KVGet(nil, "x"); idx != 0 || rec != nil {
		t.Fatalf("a failed write left %d %v", idx, rec)
	}
	if _, err := s.KVSet(8, "y", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, list, _ := s.KVList(nil, ""); len(list) != 1 || list[0].Key != "y" {
		t.Fatalf("after: %v", list)
	}
}

// Readers see whole commits: a batch that writes ten keys at one index is
// seen all or not at all, with the view's index, while the FSM writes.
// Snapshots taken meanwhile hold the kv table and the index table at the
// same point (restored, the two agree).
func TestKVReadersSeeWholeCommits(t *testing.T) {
	s := mustStore(t)
	const rounds, keys = 300, 10
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 3)
	// loop runs check until the writer is done or check fails.
	loop := func(check func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := check(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	loop(func() error {
		idx, list, _ := s.KVList(nil, "k/")
		if len(list) != 0 && len(list) != keys {
			return fmt.Errorf("a list saw %d of a batch's %d keys", len(list), keys)
		}
		for _, r := range list {
			if r.ModifyIndex != idx {
				return fmt.Errorf("key %s at %d in a view at %d", r.Key, r.ModifyIndex, idx)
			}
		}
		return nil
	})
	loop(func() error {
		var buf bytes.Buffer
		sn := s.Snapshot()
		err := sn.Persist(&buf)
		sn.Release()
		if err != nil {
			return err
		}
		r, err := Restore(&buf)
		if err != nil {
			return err
		}
		idx, list, _ := r.KVList(nil, "")
		if ti := r.TableIndex(tableKV); ti != idx {
			return fmt.Errorf("a snapshot's kv view is at %d, its index table at %d", idx, ti)
		}
		for _, rec := range list {
			if rec.ModifyIndex != idx {
				return fmt.Errorf("a snapshot at %d holds %s at %d", idx, rec.Key, rec.ModifyIndex)
			}
		}
		return nil
	})
	for i := uint64(1); i <= rounds; i++ {
		s.BeginBatch()
		for k := range keys {
			if _, err := s.KVSet(i, fmt.Sprintf("k/%d", k), []byte{byte(i)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if !s.EndBatch() {
			t.Fatal("batch broken")
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if idx, list, _ := s.KVList(nil, "k/"); idx != rounds || len(list) != keys {
		t.Fatalf("at the end: index %d, %d keys", idx, len(list))
	}
}

// A snapshot that holds one key twice is corrupt, not silently merged.
func TestRestoreRefusesADuplicateKey(t *testing.T) {
	s := mustStore(t)
	if _, err := s.KVSet(2, "a", []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sn := s.Snapshot()
	if err := sn.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	b := buf.Bytes()
	// The stream: header, then the records in table order; the kv record
	// is the only tag-3 one. Repeat it.
	var rec []byte
	for i := 5; i < len(b); {
		n := int(b[i+1]) // records here are under 128 bytes
		if b[i] == 3 {
			rec = b[i : i+2+n]
			break
		}
		i += 2 + n
	}
	if rec == nil {
		t.Fatal("no kv record in the snapshot")
	}
	at := bytes.Index(b, rec)
	dup := append(append(append([]byte(nil), b[:at]...), rec...), b[at:]...)
	if _, err := Restore(bytes.NewReader(dup)); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("restore of a duplicate key: %v", err)
	}
}
