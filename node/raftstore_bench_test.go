package node

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// BenchmarkRaftLogStoreStoreLogs stores batches of 1, 16 and 64 entries of
// 300 bytes in each log store, opened as a server opens it, in the
// benchmark's temp dir (the same disk for both): one op is one StoreLogs,
// so ns/op is the cost of one batch with its sync, ns/entry that per entry,
// and disk-B/op the bytes the process dirtied for the disk per batch
// (write_bytes of /proc/self/io, where Linux has it).
//
//	go test -run '^$' -bench RaftLogStoreStoreLogs -benchtime 2s ./node/
func BenchmarkRaftLogStoreStoreLogs(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 300)
	// Batch-major, so that the two stores of a batch size run side by side
	// in time on a machine whose disk load drifts.
	for _, batch := range []int{1, 16, 64} {
		for _, store := range raftLogStores {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, store), func(b *testing.B) {
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
				written := procWriteBytes()
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
				if written >= 0 {
					b.ReportMetric(float64(procWriteBytes()-written)/float64(b.N), "disk-B/op")
				}
			})
		}
	}
}

// procWriteBytes is write_bytes of /proc/self/io: the bytes this process
// has caused to be sent to storage (-1 where there is no such file).
func procWriteBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}
