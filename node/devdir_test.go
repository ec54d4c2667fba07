package node_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/node"
	"github.com/steward/steward/testkit"
)

// devConfig is a dev node's configuration on free ports.
func devConfig(t *testing.T, dataDir string) node.Config {
	cfg := testkit.FastConfig("", dataDir)
	cfg.Dev = true
	cfg.Logger = testkit.Logger(t, "dev")
	return cfg
}

// busyPort holds a TCP port on 127.0.0.1 until the test ends.
func busyPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr().String()
}

// startFailures are start-ups that fail once the data dir is in use: on
// the gRPC port, before Raft opens the data dir, and on the gossip port,
// after it has.
var startFailures = []struct {
	name  string
	clash func(t *testing.T, c *node.Config)
	want  string
}{
	{"grpc port in use", func(t *testing.T, c *node.Config) { c.GRPCAddr = busyPort(t) }, "grpc-addr"},
	{"gossip port in use", func(t *testing.T, c *node.Config) { c.BindAddr = busyPort(t) }, "bind-addr"},
}

func startDev(t *testing.T, cfg node.Config) *node.Node {
	t.Helper()
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	if _, err := n.WaitForLeader(testkit.Ctx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	return n
}

// withFile returns a new directory holding one file, and the file's path.
func withFile(t *testing.T) (dir, file string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(file, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func mustSurvive(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil || string(b) != "mine" {
		t.Fatalf("%s after the node stopped: %q, %v", file, b, err)
	}
}

// A dev node on a given data dir keeps it and what was in it: after a clean
// exit, after a failed start-up, and when dev and data_dir come from a
// configuration file.
func TestDevKeepsGivenDataDir(t *testing.T) {
	t.Run("clean exit", func(t *testing.T) {
		dir, file := withFile(t)
		n := startDev(t, devConfig(t, dir))
		if n.TempDataDir() || n.DataDir() != dir {
			t.Fatalf("data dir %s, temporary %v; want %s, given", n.DataDir(), n.TempDataDir(), dir)
		}
		_ = n.Shutdown()
		mustSurvive(t, file)
		if _, err := os.Stat(filepath.Join(dir, "raft", "raft.db")); err != nil {
			t.Fatalf("raft log: %v", err)
		}
	})
	for _, f := range startFailures {
		t.Run(f.name, func(t *testing.T) {
			dir, file := withFile(t)
			cfg := devConfig(t, dir)
			f.clash(t, &cfg)
			n, err := node.New(cfg)
			if err == nil {
				_ = n.Shutdown()
				t.Fatal("started on a port in use")
			}
			if !strings.Contains(err.Error(), f.want) {
				t.Fatalf("err = %v; want it to name %s", err, f.want)
			}
			mustSurvive(t, file)
		})
	}
	t.Run("dev and data_dir in a config file", func(t *testing.T) {
		dir, file := withFile(t)
		conf := filepath.Join(t.TempDir(), "agent.hcl")
		if err := os.WriteFile(conf, []byte("dev = true\ndata_dir = \""+dir+"\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fc, err := node.ParseConfigFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		cfg := devConfig(t, "")
		cfg.Dev = false
		if err := fc.ApplyTo(&cfg); err != nil {
			t.Fatal(err)
		}
		if !cfg.Dev || cfg.DataDir != dir {
			t.Fatalf("from the file: dev %v, data dir %q", cfg.Dev, cfg.DataDir)
		}
		n := startDev(t, cfg)
		if n.TempDataDir() {
			t.Fatal("the file's data_dir is taken for a temporary one")
		}
		_ = n.Shutdown()
		mustSurvive(t, file)
	})
}

// A dev node without a data dir runs on a temporary one, which it removes
// when it stops and when its start-up fails.
func TestDevRemovesTemporaryDataDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	empty := func(t *testing.T) {
		t.Helper()
		left, err := os.ReadDir(tmp)
		if err != nil || len(left) != 0 {
			t.Fatalf("left in %s: %v %v", tmp, left, err)
		}
	}
	t.Run("clean exit", func(t *testing.T) {
		n := startDev(t, devConfig(t, ""))
		if !n.TempDataDir() || filepath.Dir(n.DataDir()) != tmp {
			t.Fatalf("data dir %s, temporary %v; want one under %s", n.DataDir(), n.TempDataDir(), tmp)
		}
		_ = n.Shutdown()
		empty(t)
	})
	for _, f := range startFailures {
		t.Run(f.name, func(t *testing.T) {
			cfg := devConfig(t, "")
			f.clash(t, &cfg)
			n, err := node.New(cfg)
			if err == nil {
				_ = n.Shutdown()
				t.Fatal("started on a port in use")
			}
			if !strings.Contains(err.Error(), f.want) {
				t.Fatalf("err = %v; want it to name %s", err, f.want)
			}
			empty(t)
		})
	}
	t.Run("invalid config", func(t *testing.T) {
		cfg := devConfig(t, "")
		cfg.RaftAddr = "nowhere"
		if _, err := node.New(cfg); err == nil || !strings.Contains(err.Error(), "raft-addr") {
			t.Fatalf("err = %v", err)
		}
		empty(t)
	})
}
