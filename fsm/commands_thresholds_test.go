package fsm

import (
	"errors"
	"testing"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

func TestApplyThresholdsSet(t *testing.T) {
	f := newFSM(t, nil)
	rec := state.DefaultThresholds()
	rec.MaxCpuPercent = 90
	r := apply(f, 5, entry(t, pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET, &pb.ThresholdsSetCommand{Thresholds: rec}))
	got, ok := r.Value.(*pb.ThresholdsRecord)
	if r.Err != nil || !ok || got.ModifyIndex != 5 || got.UpdatedBy != "n1" || got.UpdatedAtUnixNano != 100e9 {
		t.Fatalf("set: %+v %#v", r, r.Value)
	}
	bad := state.DefaultThresholds()
	bad.MaxCpuPercent = 101
	r = apply(f, 6, entry(t, pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET, &pb.ThresholdsSetCommand{Thresholds: bad}))
	if !errors.Is(r.Err, state.ErrInvalidThresholds) {
		t.Fatalf("bad thresholds: %+v", r)
	}
	stale := uint64(4)
	r = apply(f, 7, entry(t, pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET, &pb.ThresholdsSetCommand{Thresholds: rec, Cas: &stale}))
	if !errors.Is(r.Err, state.ErrCASConflict) {
		t.Fatalf("stale cas: %+v", r)
	}
	if _, cur, _, _ := f.State().Thresholds(nil); cur.MaxCpuPercent != 90 || cur.ModifyIndex != 5 {
		t.Fatalf("state after refusals: %+v", cur)
	}
}
