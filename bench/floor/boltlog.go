package floor

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/steward/steward/bench/load"
	"go.etcd.io/bbolt"
)

// BoltLogResult is a bbolt database used as a Raft log store: latency and
// bytes written per commit at the end of a long run.
type BoltLogResult struct {
	Latency load.Summary
	// BytesPerCommit is what this process wrote to the block layer per
	// measured commit (/proc/self/io write_bytes).
	BytesPerCommit float64
	// FileBytes is the database file's size at the end.
	FileBytes int64
	// FreePages is bbolt's free page count at the end.
	FreePages int
}

// BoltLog uses a bbolt database in dir the way raft-boltdb's StoreLogs and
// DeleteRange do under hashicorp/raft: one transaction per appended entry
// of size bytes, and, every truncateEvery entries (a snapshot), one that
// deletes every entry but the last trailing. After entries appends it
// reports the last measure commits. opts are bbolt's options (nil: the
// defaults raft-boltdb uses).
func BoltLog(dir string, entries, truncateEvery, trailing, measure, size int, opts *bbolt.Options) (BoltLogResult, error) {
	var res BoltLogResult
	if opts == nil {
		opts = &bbolt.Options{Timeout: time.Second}
	}
	path := filepath.Join(dir, "floor-boltlog.db")
	_ = os.Remove(path)
	db, err := bbolt.Open(path, 0o600, opts)
	if err != nil {
		return res, err
	}
	defer os.Remove(path)
	defer db.Close()
	bucket := []byte("logs")
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		return res, err
	}
	key := func(i int) []byte {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], uint64(i))
		return k[:]
	}
	val := make([]byte, size)
	first := 1
	lat := make([]time.Duration, 0, measure)
	var wrote int64
	for i := 1; i <= entries; i++ {
		measuring := i > entries-measure
		var before int64
		if measuring {
			before = selfWriteBytes()
		}
		start := time.Now()
		if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucket).Put(key(i), val) }); err != nil {
			return res, err
		}
		if measuring {
			lat = append(lat, time.Since(start))
			wrote += selfWriteBytes() - before
		}
		if truncateEvery > 0 && i%truncateEvery == 0 && i-trailing > first {
			last := i - trailing
			if err := db.Update(func(tx *bbolt.Tx) error {
				c := tx.Bucket(bucket).Cursor()
				for k, _ := c.Seek(key(first)); k != nil && binary.BigEndian.Uint64(k) <= uint64(last); k, _ = c.Next() {
					if err := c.Delete(); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return res, err
			}
			first = last + 1
		}
	}
	res.Latency = load.Summarize(lat)
	if len(lat) > 0 {
		res.BytesPerCommit = float64(wrote) / float64(len(lat))
	}
	if st, err := os.Stat(path); err == nil {
		res.FileBytes = st.Size()
	}
	res.FreePages = db.Stats().FreePageN
	return res, nil
}

// selfWriteBytes is this process's write_bytes from /proc/self/io.
func selfWriteBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
