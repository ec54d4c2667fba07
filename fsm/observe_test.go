package fsm

import (
	"testing"
	"time"

	"github.com/steward/steward/pb"
)

// OnApply is told of every command applied, by type name and whether it
// was refused; the results are the same as without it.
func TestOnApplyObservesEveryCommand(t *testing.T) {
	type seen struct {
		command string
		refused bool
	}
	var got []seen
	f, err := New(Config{OnApply: func(command string, d time.Duration, refused bool) {
		if d < 0 {
			t.Errorf("%s: negative duration %v", command, d)
		}
		got = append(got, seen{command, refused})
	}})
	if err != nil {
		t.Fatal(err)
	}
	plain := newFSM(t, nil)
	var zero uint64
	inputs := [][]byte{
		entry(t, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "a", Value: []byte("1")}),
		entry(t, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "a", Value: []byte("2"), Cas: &zero}),
		mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_KV_PUT, Payload: []byte{0x0a, 0xff}}),
		{0xff, 0xff, 0xff},
	}
	for i, in := range inputs {
		a, b := apply(f, uint64(i+1), in), apply(plain, uint64(i+1), in)
		if (a.Err == nil) != (b.Err == nil) || (a.Err != nil && a.Err.Error() != b.Err.Error()) {
			t.Fatalf("input %d: with OnApply %v, without %v", i, a.Err, b.Err)
		}
	}
	want := []seen{{"COMMAND_TYPE_KV_PUT", false}, {"COMMAND_TYPE_KV_PUT", true}, {"COMMAND_TYPE_KV_PUT", true}}
	if len(got) != len(want) {
		t.Fatalf("observed %v, want %v (an undecodable entry has no type to observe)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("observed %v, want %v", got, want)
		}
	}
}
