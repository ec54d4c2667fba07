package node_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
	"go.etcd.io/bbolt"
)

// startSingle starts a one-server cluster on dir with the given log store.
func startSingle(t *testing.T, dir, store string) (*node.Node, error) {
	t.Helper()
	cfg := testkit.FastConfig("s1", dir)
	cfg.BootstrapExpect = 1
	cfg.RaftHeartbeatTimeout = 100 * time.Millisecond
	cfg.RaftElectionTimeout = 100 * time.Millisecond
	cfg.RaftLeaderLeaseTimeout = 100 * time.Millisecond
	cfg.RaftLogStore = store
	cfg.Logger = testkit.Logger(t, "s1")
	n, err := node.New(cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	testkit.Eventually(t, 20*time.Second, func() error {
		if !n.IsLeader() {
			return errors.New("not leader yet")
		}
		return nil
	}, "s1 leads")
	return n, nil
}

func singleKV(t *testing.T, n *node.Node) pb.KVClient {
	return pb.NewKVClient(testkit.Dial(t, n.GRPCAddr()))
}

// dirFiles maps every regular file under dir to the sha256 of its content.
func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameFiles(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, h := range before {
		if after[p] != h {
			t.Errorf("%s changed or removed by the refused start", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s created by the refused start", p)
		}
	}
}

// boltLogEntries counts the entries in raft.db's logs bucket.
func boltLogEntries(t *testing.T, dir string) int {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, "raft", "raft.db"), 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	n := 0
	if err := db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket([]byte("logs")); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func readMarker(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "raft", "log-store"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func other(store string) string {
	if store == node.RaftLogStoreWAL {
		return node.RaftLogStoreBoltDB
	}
	return node.RaftLogStoreWAL
}

// refused starts dir with store and checks that the start is refused with
// ErrRaftLogStore, a message that names the data dir, what it holds and
// why, what was asked and what to do, and that nothing in the data dir
// changed.
func refused(t *testing.T, dir, store, held, why string) {
	t.Helper()
	before := dirFiles(t, dir)
	n, err := startSingle(t, dir, store)
	if err == nil {
		_ = n.Shutdown()
		t.Fatalf("a data dir holding a %s log started with raft_log_store %q", held, store)
	}
	if !errors.Is(err, node.ErrRaftLogStore) {
		t.Fatalf("err = %v, want ErrRaftLogStore", err)
	}
	for _, want := range []string{
		"data-dir " + dir,
		"holds its Raft log in " + held,
		why,
		fmt.Sprintf("raft_log_store is %q", store),
		"--raft-log-store " + held,
		"move the data dir away",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	sameFiles(t, before, dirFiles(t, dir))
}

// A fresh data dir takes the configured log store and records it; the log
// is where the store says (raft-wal's segments or raft.db's logs bucket),
// a restart on the same store keeps the writes, and a start with the other
// store is refused with nothing changed on disk.
func TestRaftLogStoreDataDirs(t *testing.T) {
	for _, store := range []string{node.RaftLogStoreBoltDB, node.RaftLogStoreWAL} {
		t.Run(store, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "s1")
			n, err := startSingle(t, dir, store)
			if err != nil {
				t.Fatal(err)
			}
			put(t, singleKV(t, n), "k", store)
			if got := readMarker(t, dir); got != store+"\n" {
				t.Errorf("raft/log-store = %q, want %q", got, store+"\n")
			}
			segs, _ := filepath.Glob(filepath.Join(dir, "raft", "wal", "*.wal"))
			if store == node.RaftLogStoreWAL && len(segs) == 0 {
				t.Error("wal: no raft-wal segment in raft/wal")
			}
			if store == node.RaftLogStoreBoltDB {
				if _, err := os.Stat(filepath.Join(dir, "raft", "wal")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("boltdb: raft/wal exists (%v)", err)
				}
			}
			if err := n.Shutdown(); err != nil {
				t.Fatal(err)
			}
			entries := boltLogEntries(t, dir)
			if store == node.RaftLogStoreWAL && entries != 0 {
				t.Errorf("wal: raft.db's logs bucket has %d entries, want none", entries)
			}
			if store == node.RaftLogStoreBoltDB && entries == 0 {
				t.Error("boltdb: raft.db's logs bucket is empty")
			}

			n, err = startSingle(t, dir, store)
			if err != nil {
				t.Fatalf("restart on %s: %v", store, err)
			}
			got, err := singleKV(t, n).Get(testkit.Ctx(t, 10*time.Second), &pb.KVGetRequest{Key: "k"})
			if err != nil || string(got.Entry.Value) != store {
				t.Fatalf("after restart: %v %v", got, err)
			}
			if err := n.Shutdown(); err != nil {
				t.Fatal(err)
			}

			refused(t, dir, other(store), store, "as "+filepath.Join(dir, "raft", "log-store")+" records")
		})
	}
}

// A data dir from before the marker (raft.db holding the log, no
// raft/log-store) is boltdb's: started as wal it is refused with nothing
// changed; started as boltdb it runs with its writes and gets the marker.
// One whose marker was lost but has raft/wal is wal's.
func TestRaftLogStoreDataDirWithoutMarker(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s1")
	n, err := startSingle(t, dir, node.RaftLogStoreBoltDB)
	if err != nil {
		t.Fatal(err)
	}
	put(t, singleKV(t, n), "old", "bolt")
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "raft", "log-store")); err != nil {
		t.Fatal(err)
	}
	refused(t, dir, node.RaftLogStoreWAL, node.RaftLogStoreBoltDB, "raft.db has Raft state")

	n, err = startSingle(t, dir, node.RaftLogStoreBoltDB)
	if err != nil {
		t.Fatal(err)
	}
	got, err := singleKV(t, n).Get(testkit.Ctx(t, 10*time.Second), &pb.KVGetRequest{Key: "old"})
	if err != nil || string(got.Entry.Value) != "bolt" {
		t.Fatalf("old data dir as boltdb: %v %v", got, err)
	}
	if m := readMarker(t, dir); m != "boltdb\n" {
		t.Errorf("marker after the first start with a marker = %q", m)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}

	wdir := filepath.Join(t.TempDir(), "s1")
	n, err = startSingle(t, wdir, node.RaftLogStoreWAL)
	if err != nil {
		t.Fatal(err)
	}
	put(t, singleKV(t, n), "w", "wal")
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(wdir, "raft", "log-store")); err != nil {
		t.Fatal(err)
	}
	refused(t, wdir, node.RaftLogStoreBoltDB, node.RaftLogStoreWAL, "it has "+filepath.Join(wdir, "raft", "wal"))
}

// A marker naming no store stops the start, naming the file.
func TestRaftLogStoreBadMarker(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s1")
	if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o750); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "raft", "log-store")
	if err := os.WriteFile(marker, []byte("sqlite\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := startSingle(t, dir, node.RaftLogStoreWAL)
	if err == nil || !strings.Contains(err.Error(), marker) || !strings.Contains(err.Error(), `"sqlite"`) {
		t.Fatalf("err = %v, want one naming %s and its content", err, marker)
	}
}

// With no store configured, a new data dir takes DefaultRaftLogStore (wal)
// and a data dir that holds its log keeps its store, whichever it is, with
// its writes: an upgraded node with a boltdb data dir and no setting runs.
func TestRaftLogStoreUnsetKeepsTheDataDirs(t *testing.T) {
	if node.DefaultRaftLogStore != node.RaftLogStoreWAL {
		t.Fatalf("DefaultRaftLogStore = %q", node.DefaultRaftLogStore)
	}
	fresh := filepath.Join(t.TempDir(), "fresh")
	n, err := startSingle(t, fresh, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if m := readMarker(t, fresh); m != node.DefaultRaftLogStore+"\n" {
		t.Errorf("a new data dir with no store configured recorded %q, want %q", m, node.DefaultRaftLogStore)
	}
	for _, store := range []string{node.RaftLogStoreBoltDB, node.RaftLogStoreWAL} {
		dir := filepath.Join(t.TempDir(), store)
		n, err := startSingle(t, dir, store)
		if err != nil {
			t.Fatal(err)
		}
		put(t, singleKV(t, n), "k", store)
		if err := n.Shutdown(); err != nil {
			t.Fatal(err)
		}
		n, err = startSingle(t, dir, "")
		if err != nil {
			t.Fatalf("%s data dir with no store configured: %v", store, err)
		}
		got, err := singleKV(t, n).Get(testkit.Ctx(t, 10*time.Second), &pb.KVGetRequest{Key: "k"})
		if err != nil || string(got.Entry.Value) != store {
			t.Errorf("%s data dir with no store configured: %v %v", store, got, err)
		}
		if err := n.Shutdown(); err != nil {
			t.Fatal(err)
		}
		if m := readMarker(t, dir); m != store+"\n" {
			t.Errorf("%s data dir's marker is now %q", store, m)
		}
	}
}

// raft_log_store accepts "boltdb" and "wal" (and "" for the default) and
// refuses anything else naming the key and the allowed values, in the
// configuration and in the config file.
func TestRaftLogStoreSetting(t *testing.T) {
	if node.DefaultConfig().RaftLogStore != "" {
		t.Errorf("DefaultConfig().RaftLogStore = %q, want \"\" (the data dir's)", node.DefaultConfig().RaftLogStore)
	}
	for _, v := range []string{"", "boltdb", "wal", "WAL", "bolt", "sqlite"} {
		c := testkit.FastConfig("n1", t.TempDir())
		c.RaftLogStore = v
		err := c.Validate()
		ok := v == "" || v == "boltdb" || v == "wal"
		if ok != (err == nil) {
			t.Errorf("Validate(%q) = %v", v, err)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf(`raft_log_store: %q is not a Raft log store; use "boltdb" or "wal"`, v)) {
			t.Errorf("Validate(%q) = %v, want it naming the key and the values", v, err)
		}
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, src, want, err string
	}{
		{"a.hcl", `raft_log_store = "wal"`, "wal", ""},
		{"a.json", `{"raft_log_store": "boltdb"}`, "boltdb", ""},
		{"b.hcl", `raft_log_store = "bbolt"`, "", `raft_log_store: "bbolt" is not a Raft log store; use "boltdb" or "wal"`},
		{"c.hcl", `raft_log_store = ""`, "", `raft_log_store: "" is not a Raft log store; use "boltdb" or "wal"`},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
			t.Fatal(err)
		}
		fc, err := node.ParseConfigFile(path)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		c := node.DefaultConfig()
		err = fc.ApplyTo(&c)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && c.RaftLogStore != tc.want:
			t.Errorf("%s: RaftLogStore = %q, want %q", tc.name, c.RaftLogStore, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
	}
}
