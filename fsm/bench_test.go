package fsm

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
)

// BenchmarkApplyBatchKVPut is the FSM's cost per committed kv put as the
// benchmark harness writes them (256-byte values over 10,000 keys), in
// batches of 64 as hashicorp/raft hands them over under load: the cost
// every node pays per write.
func BenchmarkApplyBatchKVPut(b *testing.B) {
	f, err := New(Config{OnApply: func(string, time.Duration, bool) {}})
	if err != nil {
		b.Fatal(err)
	}
	const keys, batch = 10000, 64
	value := make([]byte, 256)
	data := make([][]byte, keys)
	for i := range data {
		data[i], err = Encode(pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: fmt.Sprintf("bench/steward/%d", i), Value: value}, time.Unix(1, 0), "n1")
		if err != nil {
			b.Fatal(err)
		}
	}
	logs := make([]*raft.Log, batch)
	for i := range logs {
		logs[i] = &raft.Log{Type: raft.LogCommand}
	}
	idx, k := uint64(0), 0
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += batch {
		for i := range logs {
			idx++
			logs[i].Index, logs[i].Data = idx, data[k]
			k = (k*7919 + 1) % keys
		}
		for _, r := range f.ApplyBatch(logs) {
			if res := r.(*Result); res.Err != nil {
				b.Fatal(res.Err)
			}
		}
	}
}
