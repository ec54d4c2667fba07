package node

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"go.etcd.io/bbolt"
)

// The Raft log stores a server can keep its log in (Config.RaftLogStore).
// The stable store (current term, vote) is raft.db's, raft-boltdb, with
// either; so are the snapshots, in raft/snapshots. docs/PERFORMANCE.md says
// when each store syncs.
const (
	// RaftLogStoreBoltDB keeps the log in raft.db (hashicorp/raft-boltdb/v2,
	// bbolt): one bbolt transaction per batch of entries.
	RaftLogStoreBoltDB = "boltdb"
	// RaftLogStoreWAL keeps the log in append-only segment files under
	// raft/wal (hashicorp/raft-wal, Consul's "wal" backend): one write and
	// one fsync per batch of entries.
	RaftLogStoreWAL = "wal"
	// DefaultRaftLogStore is the log store of a new data dir when the
	// configuration names none: wal, chosen by the harness's figures (wal
	// beside boltdb on the same disk in one run: 1.21/1.68/1.06x the
	// writes/s at 1/16/64 clients, p99 0.80/0.74/1.02x, 13.2 k against
	// 88-101 k bytes written per write at one client; bench/results
	// 20261201-231407, docs/PERFORMANCE.md "Raft log store"). A data dir
	// keeps the store it was created with, and with no store configured a
	// node uses the one its data dir holds (see openRaftStores).
	DefaultRaftLogStore = RaftLogStoreWAL
)

// raftLogStores lists the valid Config.RaftLogStore values, for errors.
var raftLogStores = []string{RaftLogStoreBoltDB, RaftLogStoreWAL}

// ErrRaftLogStore: the data dir holds its Raft log in another store than
// the one configured.
var ErrRaftLogStore = errors.New("data dir holds its Raft log in another store")

const (
	// logStoreMarker is the file, in the data dir's raft/ dir, that names
	// the log store the data dir was created with ("boltdb" or "wal" and a
	// newline), written once at its first start.
	logStoreMarker = "log-store"
	// walDirName is raft-wal's directory in the data dir's raft/ dir.
	walDirName = "wal"
	// raftDBName is raft-boltdb's file in the data dir's raft/ dir: the
	// stable store always, the log too with RaftLogStoreBoltDB.
	raftDBName = "raft.db"
)

// checkRaftLogStore checks a Config.RaftLogStore value ("": the data
// dir's store, DefaultRaftLogStore for a new one).
func checkRaftLogStore(v string) error {
	if v == "" || slices.Contains(raftLogStores, v) {
		return nil
	}
	return badRaftLogStore(v)
}

func badRaftLogStore(v string) error {
	return fmt.Errorf("raft_log_store: %q is not a Raft log store; use %q or %q", v, RaftLogStoreBoltDB, RaftLogStoreWAL)
}

// RaftLogStoreValue is the --raft-log-store flag (a pflag.Value): it
// accepts only a Raft log store's name.
type RaftLogStoreValue struct{ p *string }

// RaftLogStoreFlag is the flag value that sets *p, which it sets to ""
// first: unset, a node keeps the store its data dir holds, and a new data
// dir takes DefaultRaftLogStore.
func RaftLogStoreFlag(p *string) *RaftLogStoreValue {
	*p = ""
	return &RaftLogStoreValue{p: p}
}

// String is the current value.
func (v *RaftLogStoreValue) String() string { return *v.p }

// Set sets the value, refusing what is not a Raft log store's name.
func (v *RaftLogStoreValue) Set(s string) error {
	if !slices.Contains(raftLogStores, s) {
		return fmt.Errorf("%q is not a Raft log store; use %q or %q", s, RaftLogStoreBoltDB, RaftLogStoreWAL)
	}
	*v.p = s
	return nil
}

// Type names the value's kind in usage.
func (v *RaftLogStoreValue) Type() string { return "boltdb|wal" }

// raftStores are a server's Raft log and stable stores.
type raftStores struct {
	// bolt is raft.db: the stable store, and the log store with boltdb.
	bolt *raftboltdb.BoltStore
	// wal is the log store with wal; nil with boltdb.
	wal *raftwal.WAL
	// walMeta is wal's meta db (raft/wal/wal-meta.db). raft-wal v0.4.0's
	// Close left it open (its exclusive lock then blocked the next open of
	// the data dir in this process: a restart in tests); v0.4.2 closes it.
	// Close closes it after wal too, which is harmless (BoltMetaDB.Close
	// is idempotent) and also covers an Open that failed after opening it.
	walMeta *metadb.BoltMetaDB
	// kind is the log store in use, RaftLogStoreBoltDB or RaftLogStoreWAL.
	kind string
}

// logs is the log store (without a cache).
func (s *raftStores) logs() raft.LogStore {
	if s.wal != nil {
		return s.wal
	}
	return s.bolt
}

// Close closes both stores.
func (s *raftStores) Close() error {
	var errs []error
	if s.wal != nil {
		errs = append(errs, s.wal.Close())
	}
	if s.walMeta != nil {
		errs = append(errs, s.walMeta.Close())
	}
	if s.bolt != nil {
		errs = append(errs, s.bolt.Close())
	}
	return errors.Join(errs...)
}

// openRaftStores opens the Raft stores of the data dir dataDir with the log
// in store want. A data dir keeps the log store it was created with: when
// it holds its log in another one than want, the node refuses to start
// (ErrRaftLogStore), before anything in the data dir is written. With want
// "" (none configured) the node uses the store the data dir holds, and a
// new data dir takes DefaultRaftLogStore. A fresh data dir records its
// store in raft/log-store.
func openRaftStores(dataDir, want string, logger hclog.Logger) (*raftStores, error) {
	if err := checkRaftLogStore(want); err != nil {
		return nil, err
	}
	dir := filepath.Join(dataDir, "raft")
	held, why, marked, err := heldRaftLogStore(dataDir)
	if err != nil {
		return nil, err
	}
	if want == "" {
		want = held
		if want == "" {
			want = DefaultRaftLogStore
		}
	}
	if held != "" && held != want {
		return nil, fmt.Errorf("%w: data-dir %s holds its Raft log in %s (%s), but raft_log_store is %q: start it with --raft-log-store %s (raft_log_store = %q), or, to change stores, stop the node, move the data dir away and start it on an empty one: it rejoins and the leader sends it a snapshot",
			ErrRaftLogStore, dataDir, held, why, want, held, held)
	}
	s := &raftStores{kind: want}
	s.bolt, err = raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(dir, raftDBName),
		// The freelist is not written on every commit (it is rebuilt from
		// the pages at open) and kept as a hash map: a Raft log frees many
		// pages at each truncation, and the default array freelist, synced
		// per commit, made every commit after a burst write hundreds of KB
		// (docs/PERFORMANCE.md).
		BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
	})
	if err != nil {
		return nil, raftDBOpenErr(dataDir, err)
	}
	if !marked {
		// Recorded before raft-wal creates anything: a data dir with a
		// raft/wal dir always has its marker. A data dir from before the
		// marker gets it at its first start.
		if err := writeLogStoreMarker(dir, want); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("data-dir %s: %w", dataDir, err)
		}
	}
	if want == RaftLogStoreWAL {
		wdir := filepath.Join(dir, walDirName)
		if err := os.MkdirAll(wdir, 0o750); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("data-dir %s: create %s: %w", dataDir, wdir, err)
		}
		s.walMeta = &metadb.BoltMetaDB{}
		s.wal, err = raftwal.Open(wdir, raftwal.WithLogger(logger), raftwal.WithMetaStore(s.walMeta))
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("data-dir %s: open the Raft log in %s: %w", dataDir, wdir, err)
		}
	}
	return s, nil
}

func raftDBOpenErr(dataDir string, err error) error {
	if errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("data-dir %s: raft.db is locked by another steward process", dataDir)
	}
	return fmt.Errorf("data-dir %s: open raft.db: %w", dataDir, err)
}

// heldRaftLogStore says which log store the data dir holds its Raft log
// in, and why it says so; "" for a data dir that has none yet. The marker
// raft/log-store decides; a data dir without one (from before the marker,
// when raft.db was the only store) holds its log in boltdb when raft.db
// has Raft state (a log entry or a current term) or a snapshot is on disk,
// and in wal when a raft/wal dir with raft-wal's meta db exists. It writes
// nothing: raft.db is opened read-only. marked reports whether the marker
// exists.
func heldRaftLogStore(dataDir string) (store, why string, marked bool, err error) {
	dir := filepath.Join(dataDir, "raft")
	marker := filepath.Join(dir, logStoreMarker)
	b, err := os.ReadFile(marker)
	switch {
	case err == nil:
		v := strings.TrimSpace(string(b))
		if !slices.Contains(raftLogStores, v) {
			return "", "", true, fmt.Errorf("data-dir %s: %s names no Raft log store (%q; want %q or %q)", dataDir, marker, v, RaftLogStoreBoltDB, RaftLogStoreWAL)
		}
		return v, "as " + marker + " records", true, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", "", false, fmt.Errorf("data-dir %s: read %s: %w", dataDir, marker, err)
	}
	if _, err := os.Stat(filepath.Join(dir, walDirName, "wal-meta.db")); err == nil {
		return RaftLogStoreWAL, "it has " + filepath.Join(dir, walDirName) + " and no " + logStoreMarker + " file", false, nil
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "meta.json"))
	dbPath := filepath.Join(dir, raftDBName)
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		if len(snaps) > 0 {
			return RaftLogStoreBoltDB, "it has Raft snapshots and no " + logStoreMarker + " file, as data dirs from before raft-wal", false, nil
		}
		return "", "", false, nil
	}
	state, err := boltHasRaftState(dbPath)
	if err != nil {
		return "", "", false, raftDBOpenErr(dataDir, err)
	}
	if state || len(snaps) > 0 {
		return RaftLogStoreBoltDB, "raft.db has Raft state and there is no " + logStoreMarker + " file, as in data dirs from before raft-wal", false, nil
	}
	return "", "", false, nil
}

// boltHasRaftState reports whether raft.db (opened read-only) has a log
// entry or a current term.
func boltHasRaftState(path string) (bool, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return false, err
	}
	defer func() { _ = db.Close() }()
	var has bool
	err = db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket([]byte("logs")); b != nil {
			if k, _ := b.Cursor().First(); k != nil {
				has = true
			}
		}
		if b := tx.Bucket([]byte("conf")); b != nil {
			if v := b.Get([]byte("CurrentTerm")); len(v) > 0 && !bytes.Equal(v, make([]byte, len(v))) {
				has = true
			}
		}
		return nil
	})
	return has, err
}

// writeLogStoreMarker records store in raft/log-store durably: a temporary
// file, synced, renamed into place, and the directory synced.
func writeLogStoreMarker(dir, store string) error {
	return writeFileDurably(filepath.Join(dir, logStoreMarker), store+"\n")
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
