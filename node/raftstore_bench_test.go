package node

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// BenchmarkRaftLogStoreStoreLogs stores batches of 1, 16 and 64 entries of
// 300 bytes in each log store, opened as a server opens it, in the
// benchmark's temp dir (the same disk for both): one op is one StoreLogs,
// so ns/op is the cost of one batch with its sync, ns/entry that per entry.
//
//	go test -run '^$' -bench RaftLogStoreStoreLogs -benchtime 2s ./node/
func BenchmarkRaftLogStoreStoreLogs(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 300)
	for _, store := range raftLogStores {
		for _, batch := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", store, batch), func(b *testing.B) {
				dir := b.TempDir()
				if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o750); err != nil {
					b.Fatal(err)
				}
				s, err := openRaftStores(dir, store, hclog.NewNullLogger())
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = s.Close() }()
				logs := s.logs()
				entries := make([]*raft.Log, batch)
				idx := uint64(1)
				b.SetBytes(int64(len(data) * batch))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for j := range entries {
						entries[j] = &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
						idx++
					}
					if err := logs.StoreLogs(entries); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/entry")
			})
		}
	}
}
