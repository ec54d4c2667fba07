package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/steward/steward/internal/fuzzseed"
)

// fuzzMaxEntries bounds the entries one input applies, so that an input
// of many tiny entries stays a short run.
const fuzzMaxEntries = 512

// splitFuzzLog reads data as a log in the golden entries.bin format
// (uvarint length | raft.Log data, per entry). Where a length does not
// fit, the rest of the input is one last entry as it is, so every input
// is a log and any byte string is a single entry.
func splitFuzzLog(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 && len(out) < fuzzMaxEntries {
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(len(data)-k) {
			return append(out, data)
		}
		out = append(out, data[k:k+int(n)])
		data = data[k+int(n):]
	}
	return out
}

// storeBytes persists the FSM's store, halted or not (FSM.Snapshot refuses
// while halted; the store underneath still has a state to compare).
func storeBytes(tb testing.TB, f *FSM) []byte {
	tb.Helper()
	sn := f.State().Snapshot()
	defer sn.Release()
	var buf bytes.Buffer
	if err := sn.Persist(&buf); err != nil {
		tb.Fatalf("persisting the store: %v", err)
	}
	return buf.Bytes()
}

// outcome renders a Result for comparison: its index, its error's text
// (the text is built from the command, so it is deterministic too) and
// whether it carries a value.
func outcome(tb testing.TB, idx uint64, r interface{}) string {
	tb.Helper()
	res, ok := r.(*Result)
	if !ok {
		tb.Fatalf("entry %d: Apply returned %T, not a *Result", idx, r)
	}
	if res.Index != idx {
		tb.Fatalf("entry %d: the Result says index %d", idx, res.Index)
	}
	msg := "ok"
	if res.Err != nil {
		msg = res.Err.Error()
	}
	return fmt.Sprintf("%d %s value=%t", idx, msg, res.Value != nil)
}

// FuzzApplyLog: a log of arbitrary entries applied to fresh FSMs never
// panics, and applies deterministically. Two FSMs given the same entries
// one at a time, and a third given them as one ApplyBatch, end with the
// same outcome for every entry and byte-identical state snapshots; once an
// unknown command halts an FSM, every later entry is refused with
// ErrUnknownCommand and nothing more changes. The seeds are the golden
// logs (every command type a steward version committed) and each of their
// entries alone (testdata/fuzz/FuzzApplyLog and below).
func FuzzApplyLog(f *testing.F) {
	for _, v := range goldenVersions(f) {
		fuzzseed.Add(f, encodeEntries(v.entries))
		for _, e := range v.entries {
			fuzzseed.Add(f, encodeEntries([][]byte{e}))
		}
	}
	fuzzseed.Add(f, []byte{})
	fuzzseed.Add(f, []byte{0x00})
	fuzzseed.Add(f, []byte{0x05, 0x08})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries := splitFuzzLog(data)
		newFSM := func() *FSM {
			m, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		a, b, batched := newFSM(), newFSM(), newFSM()
		logs := make([]*raft.Log, len(entries))
		for i, e := range entries {
			logs[i] = &raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: e}
		}
		var want []string
		for _, l := range logs {
			wasHalted := a.Halted() != nil
			var before []byte
			if wasHalted {
				before = storeBytes(t, a)
			}
			ra := a.Apply(l)
			rb := b.Apply(&raft.Log{Index: l.Index, Type: l.Type, Data: append([]byte(nil), l.Data...)})
			oa, ob := outcome(t, l.Index, ra), outcome(t, l.Index, rb)
			if oa != ob {
				t.Fatalf("the same entry gives two outcomes:\n%s\n%s", oa, ob)
			}
			if wasHalted {
				if err := ra.(*Result).Err; !errors.Is(err, ErrUnknownCommand) {
					t.Fatalf("entry %d after the halt: %v, want ErrUnknownCommand", l.Index, err)
				}
				if !bytes.Equal(before, storeBytes(t, a)) {
					t.Fatalf("entry %d changed the state of a halted FSM", l.Index)
				}
			}
			want = append(want, oa)
		}
		results := batched.ApplyBatch(logs)
		if len(results) != len(logs) {
			t.Fatalf("ApplyBatch gave %d results for %d entries", len(results), len(logs))
		}
		for i, r := range results {
			if got := outcome(t, logs[i].Index, r); got != want[i] {
				t.Fatalf("entry %d applied in a batch: %s; one at a time: %s", i+1, got, want[i])
			}
		}
		sa := storeBytes(t, a)
		if sb := storeBytes(t, b); !bytes.Equal(sa, sb) {
			t.Fatal("two FSMs given the same entries end in different states")
		}
		if sc := storeBytes(t, batched); !bytes.Equal(sa, sc) {
			t.Fatal("the entries applied as a batch end in another state than applied one at a time")
		}
		if (a.Halted() == nil) != (batched.Halted() == nil) {
			t.Fatalf("halted one at a time: %v; in a batch: %v", a.Halted(), batched.Halted())
		}
	})
}
