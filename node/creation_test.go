package node_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/node"
)

// Each start counts one more run, and the count is on disk for the next.
func TestNextCreationCounts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1")
	for want := uint64(1); want <= 3; want++ {
		got, err := node.NextCreation(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("start %d: creation %d", want, got)
		}
		b, err := os.ReadFile(filepath.Join(dir, node.CreationFile))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(b)) != strconv.FormatUint(want, 10) {
			t.Fatalf("start %d: %s holds %q", want, node.CreationFile, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, node.CreationFile+".tmp")); !os.IsNotExist(err) {
		t.Fatalf("the temporary file is left behind: %v", err)
	}
}

// A file that holds no count stops the start, naming the file; it is not
// reset (that would reuse the PIDs of earlier runs) and stays as it was.
func TestNextCreationCorrupt(t *testing.T) {
	for _, body := range []string{"", "garbage\n", "0\n", "-4\n", "18446744073709551616\n"} {
		dir := t.TempDir()
		path := filepath.Join(dir, node.CreationFile)
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := node.NextCreation(dir)
		if err == nil {
			t.Fatalf("%q: no error", body)
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("%q: %q does not name %s as corrupt", body, err, path)
		}
		if b, _ := os.ReadFile(path); string(b) != body {
			t.Fatalf("%q: the file was rewritten to %q", body, b)
		}
	}
}

// The largest count still leaves a creation the runtime accepts; past it
// the start fails.
func TestNextCreationLimit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, node.CreationFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strconv.FormatUint(actor.MaxCreation-1, 10)), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := node.NextCreation(dir); err != nil || c != actor.MaxCreation {
		t.Fatalf("creation %d, %v; want %d", c, err, uint64(actor.MaxCreation))
	}
	if _, err := node.NextCreation(dir); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("past MaxCreation: %v, want an error naming %s", err, path)
	}
}
