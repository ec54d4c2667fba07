package manager

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
)

// What a sandbox leaves on disk: the WASI directories of its processes,
// under the wasm host's sandbox directory (<dir>/<sandbox>/...). Each node
// removes those of the sandboxes it no longer runs and that are not
// placed on it: after a destroy, a failed creation, or a move, and at
// start for what a sandbox destroyed while the node was down left.

// sweepInterval bounds the wait between sweeps without a change.
const sweepInterval = 30 * time.Second

// SetSandboxDir sets where this node's sandboxes keep files (the wasm
// host's; dir returns "" when there is none).
func (l *Layer) SetSandboxDir(dir func() string) { l.sandboxDir = dir }

// sweepLoop sweeps at start, then each time the sandboxes table or the
// runtime's trees change, until stop closes.
func (l *Layer) sweepLoop(stop <-chan struct{}) {
	rt := l.sup.Runtime()
	sub := rt.Subscribe(64)
	defer sub.Close()
	for {
		st := l.node.State()
		ws := memdb.NewWatchSet()
		_, _, _ = st.Sandboxes(ws, l.node.Name())
		l.sweep()
		ctx, cancel := context.WithCancel(context.Background())
		ch := ws.WatchCh(ctx)
		timer := time.NewTimer(sweepInterval)
	wait:
		for {
			select {
			case <-stop:
				timer.Stop()
				cancel()
				return
			case <-ch:
				break wait
			case <-st.AbandonCh():
				break wait
			case <-timer.C:
				break wait
			case e, ok := <-sub.C:
				if !ok {
					timer.Stop()
					cancel()
					return
				}
				if e.Type == actor.EventTreeStopped {
					break wait
				}
			}
		}
		timer.Stop()
		cancel()
	}
}

// sweep removes the directory of each sandbox that is neither placed on
// this node nor running in its runtime.
func (l *Layer) sweep() {
	if l.sandboxDir == nil {
		return
	}
	dir := l.sandboxDir()
	if dir == "" {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			l.logger.Warn("reading the sandboxes' directory", "dir", dir, "error", err)
		}
		return
	}
	st, rt, self := l.node.State(), l.sup.Runtime(), l.node.Name()
	for _, e := range entries {
		name := e.Name()
		if sb, _ := st.Sandbox(name); sb != nil && sb.Node == self {
			continue
		}
		if _, err := rt.Tree(name); err == nil {
			continue // still stopping
		}
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			l.logger.Warn("removing a sandbox's files", "sandbox", name, "error", err)
			continue
		}
		l.logger.Info("removed the files of a sandbox no longer here", "sandbox", name)
	}
}
