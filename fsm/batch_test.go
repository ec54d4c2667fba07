package fsm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// randomCommands mixes writes that succeed with writes the domain rules
// refuse (CAS conflicts, bad keys, unknown nodes, invalid trees).
func randomCommands(t *testing.T, r *rand.Rand, n int) [][]byte {
	var out [][]byte
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("k%d", r.IntN(20))
		var typ pb.CommandType
		var msg proto.Message
		switch r.IntN(7) {
		case 0, 1:
			typ, msg = pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: key, Value: []byte{byte(i)}}
		case 2:
			cas := uint64(r.IntN(40))
			typ, msg = pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: key, Value: []byte("cas"), Cas: &cas}
		case 3:
			typ, msg = pb.CommandType_COMMAND_TYPE_KV_DELETE, &pb.KVDeleteCommand{Key: key}
		case 4:
			typ, msg = pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "/bad"}
		case 5:
			typ, msg = pb.CommandType_COMMAND_TYPE_NODE_UPSERT, &pb.NodeUpsertCommand{Node: &pb.NodeRecord{Name: key, Status: []string{"alive", "left", "bogus"}[r.IntN(3)]}}
		default:
			spec := `{"name":"t","node":"auto","strategy":"one_for_one","max_restarts":3,"max_seconds":5,"children":[]}`
			if r.IntN(2) == 0 {
				spec = `{"name":"t","strategy":"sideways"}`
			}
			typ, msg = pb.CommandType_COMMAND_TYPE_TREE_APPLY, &pb.TreeApplyCommand{Tree: &pb.TreeRecord{Name: "t", Node: "n1", SpecJson: []byte(spec)}}
		}
		out = append(out, entry(t, typ, msg))
	}
	return out
}

// Applying entries in batches gives the same results and the same state as
// applying them one by one, refused commands included.
func TestApplyBatchMatchesSequential(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		cmds := randomCommands(t, r, 400)
		seq, bat := newFSM(t, nil), newFSM(t, nil)
		var want []string
		for i, c := range cmds {
			res := apply(seq, uint64(i+1), c)
			want = append(want, fmt.Sprint(res.Err))
		}
		var got []string
		for i := 0; i < len(cmds); {
			n := 1 + r.IntN(64)
			var logs []*raft.Log
			for j := i; j < len(cmds) && j < i+n; j++ {
				logs = append(logs, &raft.Log{Index: uint64(j + 1), Type: raft.LogCommand, Data: cmds[j]})
			}
			// A configuration entry in the middle is skipped.
			logs = append(logs, &raft.Log{Index: 0, Type: raft.LogConfiguration})
			out := bat.ApplyBatch(logs)
			if len(out) != len(logs) || out[len(out)-1] != nil {
				t.Fatalf("ApplyBatch returned %d results (last %v) for %d logs", len(out), out[len(out)-1], len(logs))
			}
			for _, o := range out[:len(out)-1] {
				got = append(got, fmt.Sprint(o.(*Result).Err))
			}
			i += len(logs) - 1
		}
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("seed %d entry %d: sequential %q, batched %q", seed, i+1, want[i], got[i])
			}
		}
		if a, b := snapshotBytes(t, seq), snapshotBytes(t, bat); !bytes.Equal(a, b) {
			t.Fatalf("seed %d: states differ after batched and sequential application", seed)
		}
	}
}

func snapshotBytes(t *testing.T, f *FSM) []byte {
	t.Helper()
	s, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sk sink
	if err := s.Persist(&sk); err != nil {
		t.Fatal(err)
	}
	return sk.Bytes()
}
