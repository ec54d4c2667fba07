package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/steward/steward/actor"
)

// CreationFile is where, in the data dir, a node counts its runs: the
// creation of the latest (actor.Config.Creation), in decimal.
const CreationFile = "runtime/creation"

// NextCreation counts one more run of the node whose data dir is dataDir
// and returns its creation, for actor.Config.Creation: one more than the
// count in CreationFile (1 on a data dir without one). The new count is
// written durably (a temporary file, synced, renamed into place, the
// directory synced) before it is returned, so the runtime starting with
// it never hands out a PID that an earlier run did, even if this run
// crashes at once. Call it before the runtime starts, once per start.
//
// A file that does not hold a count is an error naming it, not a reset to
// 1: a reset would hand out the PIDs of earlier runs again, which plans
// and deployments committed to the cluster may still name.
func NextCreation(dataDir string) (uint64, error) {
	if dataDir == "" {
		return 0, fmt.Errorf("creation: no data dir")
	}
	path := filepath.Join(dataDir, CreationFile)
	var prev uint64
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		v := strings.TrimSpace(string(b))
		prev, err = strconv.ParseUint(v, 10, 64)
		if err != nil || prev == 0 {
			return 0, fmt.Errorf("data-dir %s: %s is corrupt (%q is not a positive run count): the node cannot tell which PIDs its earlier runs handed out; write into it a count at least the largest creation any PID of this node had (a PID's seq divided by %d), or, if nothing names this node's PIDs any more, remove it",
				dataDir, path, clipText(v, 40), actor.CreationSpan)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return 0, fmt.Errorf("data-dir %s: read %s: %w", dataDir, path, err)
	}
	next := prev + 1
	if next > actor.MaxCreation {
		return 0, fmt.Errorf("data-dir %s: %s counts %d runs, the most a node has (actor.MaxCreation)", dataDir, path, prev)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, fmt.Errorf("data-dir %s: create %s: %w", dataDir, dir, err)
	}
	if err := writeFileDurably(path, strconv.FormatUint(next, 10)+"\n"); err != nil {
		return 0, fmt.Errorf("data-dir %s: %w", dataDir, err)
	}
	return next, nil
}

// writeFileDurably replaces path with data: a temporary file, synced,
// renamed into place, and the directory synced.
func writeFileDurably(path, data string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.WriteString(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// clipText shortens s to at most n bytes for an error message.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
