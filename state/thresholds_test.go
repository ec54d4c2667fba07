package state

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
)

func TestThresholdsDefaultsSetAndCAS(t *testing.T) {
	s := mustStore(t)
	idx, rec, isDefault, err := s.Thresholds(nil)
	if err != nil || !isDefault || idx != 0 {
		t.Fatalf("before any set: idx=%d default=%t err=%v", idx, isDefault, err)
	}
	if rec.MaxMemoryBytes != 1_000_000_000 || rec.MaxProcessCount != 10_000 || rec.MaxMessageQueueLength != 1_000 || rec.MaxCpuPercent != 80 {
		t.Fatalf("defaults: %+v", rec)
	}

	ws := memdb.NewWatchSet()
	if _, _, _, err := s.Thresholds(ws); err != nil {
		t.Fatal(err)
	}
	want := DefaultThresholds()
	want.MaxCpuPercent = 50
	got, err := s.ThresholdsSet(7, want, u64(0))
	if err != nil || got.ModifyIndex != 7 || got.CreateIndex != 7 || got.MaxCpuPercent != 50 || got.Id != ThresholdsID {
		t.Fatalf("first set: %+v %v", got, err)
	}
	// Watch returns true on timeout; the set has already closed the channel.
	if ws.Watch(time.After(5 * time.Second)) {
		t.Fatal("the set did not wake a watcher of the thresholds")
	}
	if _, err := s.ThresholdsSet(8, want, u64(0)); !errors.Is(err, ErrCASConflict) {
		t.Fatalf("create-only cas on an existing record: %v", err)
	}
	// The same limits again keep the record and its index.
	same, err := s.ThresholdsSet(8, want, u64(7))
	if err != nil || same.ModifyIndex != 7 || s.TableIndex(tableThresholds) != 7 {
		t.Fatalf("unchanged set: %+v %v", same, err)
	}
	want.MaxProcessCount = 0 // off
	next, err := s.ThresholdsSet(9, want, u64(7))
	if err != nil || next.ModifyIndex != 9 || next.CreateIndex != 7 {
		t.Fatalf("second set: %+v %v", next, err)
	}
	idx, rec, isDefault, _ = s.Thresholds(nil)
	if idx != 9 || isDefault || rec.MaxProcessCount != 0 || rec.MaxCpuPercent != 50 {
		t.Fatalf("read back: idx=%d default=%t %+v", idx, isDefault, rec)
	}
}

func TestThresholdsRefusedWithFieldNames(t *testing.T) {
	s := mustStore(t)
	bad := &pb.ThresholdsRecord{
		MaxMemoryBytes:        -1,
		MaxProcessCount:       MaxThresholdProcessCount + 1,
		MaxMessageQueueLength: 10,
		MaxCpuPercent:         150,
	}
	_, err := s.ThresholdsSet(3, bad, nil)
	if !errors.Is(err, ErrInvalidThresholds) || !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("bad thresholds: %v", err)
	}
	for _, field := range []string{"max_memory_bytes", "max_process_count", "max_cpu_percent"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
	if strings.Contains(err.Error(), "max_message_queue_length") {
		t.Errorf("error names a valid field: %v", err)
	}
	for _, cpu := range []float64{-0.5, math.NaN(), math.Inf(1)} {
		r := DefaultThresholds()
		r.MaxCpuPercent = cpu
		if _, err := s.ThresholdsSet(4, r, nil); !errors.Is(err, ErrInvalidThresholds) {
			t.Errorf("cpu %v accepted: %v", cpu, err)
		}
	}
	if _, err := s.ThresholdsSet(5, nil, nil); !errors.Is(err, ErrInvalidThresholds) {
		t.Errorf("nil accepted: %v", err)
	}
	if s.TableIndex(tableThresholds) != 0 {
		t.Fatal("refused thresholds changed the table")
	}
}

func TestThresholdsSurviveSnapshot(t *testing.T) {
	s := mustStore(t)
	r := DefaultThresholds()
	r.MaxMemoryBytes = 12345
	if _, err := s.ThresholdsSet(4, r, nil); err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot()
	defer snap.Release()
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	restored, err := Restore(&buf)
	if err != nil {
		t.Fatal(err)
	}
	idx, got, isDefault, err := restored.Thresholds(nil)
	if err != nil || isDefault || idx != 4 || got.MaxMemoryBytes != 12345 {
		t.Fatalf("restored: idx=%d default=%t %+v %v", idx, isDefault, got, err)
	}
}
