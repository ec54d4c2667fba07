package floor

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/steward/steward/bench/load"
	"go.etcd.io/bbolt"
)

// Fdatasync writes size bytes at successive offsets of a preallocated file
// in dir, each followed by fdatasync, n times: the cost of a durable
// write-ahead-log append when the file does not grow (etcd's WAL
// preallocates its segments).
func Fdatasync(dir string, n, size int) (load.Summary, error) {
	f, err := os.CreateTemp(dir, "floor-fdatasync-")
	if err != nil {
		return load.Summary{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	total := int64(n+1) * int64(size)
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, total); err != nil {
		// Not every filesystem can; write zeros instead.
		if _, err := f.WriteAt(make([]byte, total), 0); err != nil {
			return load.Summary{}, err
		}
	}
	if err := f.Sync(); err != nil {
		return load.Summary{}, err
	}
	buf := make([]byte, size)
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		buf[0] = byte(i)
		start := time.Now()
		if _, err := f.WriteAt(buf, int64(i)*int64(size)); err != nil {
			return load.Summary{}, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return load.Summary{}, fmt.Errorf("fdatasync: %w", err)
		}
		lat = append(lat, time.Since(start))
	}
	return load.Summarize(lat), nil
}

// AppendFsync appends size bytes to a new file in dir, each followed by
// fsync, n times: the file grows, so metadata is flushed too.
func AppendFsync(dir string, n, size int) (load.Summary, error) {
	f, err := os.CreateTemp(dir, "floor-append-")
	if err != nil {
		return load.Summary{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, size)
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			return load.Summary{}, err
		}
		if err := f.Sync(); err != nil {
			return load.Summary{}, err
		}
		lat = append(lat, time.Since(start))
	}
	return load.Summarize(lat), nil
}

// BoltCommit makes n bbolt read-write transactions in a database in dir,
// each storing one size-byte value under the next uint64 key, with bbolt's
// default options: what raft-boltdb pays for one StoreLogs call.
func BoltCommit(dir string, n, size int) (load.Summary, error) {
	return BoltCommitWith(dir, n, size, &bbolt.Options{Timeout: time.Second})
}

// BoltCommitWith is BoltCommit with the given bbolt options (for instance
// NoFreelistSync, which raft-boltdb's Options.BoltOptions can pass).
func BoltCommitWith(dir string, n, size int, opts *bbolt.Options) (load.Summary, error) {
	path := filepath.Join(dir, "floor-bolt.db")
	_ = os.Remove(path)
	db, err := bbolt.Open(path, 0o600, opts)
	if err != nil {
		return load.Summary{}, err
	}
	defer os.Remove(path)
	defer db.Close()
	bucket := []byte("logs")
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		return load.Summary{}, err
	}
	val := make([]byte, size)
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], uint64(i+1))
		start := time.Now()
		err := db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucket).Put(key[:], val)
		})
		if err != nil {
			return load.Summary{}, err
		}
		lat = append(lat, time.Since(start))
	}
	return load.Summarize(lat), nil
}
