package coordination

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/plan"
)

// ErrImportRefused: an import_states imported nothing, because a process
// it names is not as the operation expects (gone, outside the tree, a
// supervisor, or running another behavior).
var ErrImportRefused = errors.New("import_states refused")

// importWorkers bounds the imports an import_states runs at once: each is
// a round trip to its process's goroutine, so a few overlap the waits
// without flooding the scheduler.
const importWorkers = 8

// maxNamed bounds the processes an import_states error names (the count
// of the others follows).
const maxNamed = 10

// importStates runs an import_states on this node, with its own checks
// around the imports. Before: every process an entry names exists here,
// runs in the target tree (a worker, not a supervisor) and runs the
// entry's behavior; if one does not, nothing is imported and the error
// (ErrImportRefused) names them. Then each state is imported
// (sys:replace_state), a few at a time. After: each state is read back
// from its process and must be the one imported (see sameState); the
// error names the processes that refused their state or hold another one.
// pid is the tree's root supervisor.
func (l *Layer) importStates(ctx context.Context, op plan.Operation) (actor.PID, error) {
	rt, tree, states := l.rt, op.Target.Supervisor, op.Params.States
	start := time.Now()
	defer func() {
		l.logger.Debug("import_states", "op", op.ID, "tree", tree, "states", len(states), "duration", time.Since(start))
	}()
	root, err := rt.Resolve(actor.Target{Tree: tree})
	if err != nil {
		return root, fmt.Errorf("resolve %s: %w", op.Target, err)
	}
	pids := make([]actor.PID, len(states))
	var refused []string
	for i, s := range states {
		pid, why := l.importTarget(tree, s)
		if why != "" {
			refused = append(refused, s.Where()+": "+why)
			continue
		}
		pids[i] = pid
	}
	if len(refused) > 0 {
		return root, fmt.Errorf("%w: nothing imported into tree %s: %d of the %d processes are not as expected: %s",
			ErrImportRefused, tree, len(refused), len(states), named(refused))
	}
	failures := make([]string, len(states))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(importWorkers, len(states)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				failures[i] = importOne(ctx, rt, pids[i], states[i])
			}
		}()
	}
	for i := range states {
		next <- i
	}
	close(next)
	wg.Wait()
	var failed []string
	for i, f := range failures {
		if f != "" {
			failed = append(failed, states[i].Where()+" ("+pids[i].String()+"): "+f)
		}
	}
	if len(failed) > 0 {
		return root, fmt.Errorf("import_states into tree %s: %d of %d states not in place: %s", tree, len(failed), len(states), named(failed))
	}
	return root, nil
}

// importTarget resolves an entry's process and says why it cannot take
// the entry's state ("": it can).
func (l *Layer) importTarget(tree string, s plan.StateImport) (actor.PID, string) {
	var pid actor.PID
	var err error
	if s.PID != "" {
		pid, err = actor.ParsePID(s.PID)
	} else {
		pid, err = l.rt.Resolve(actor.Target{Tree: tree, Path: s.ChildID})
	}
	if err != nil {
		return pid, err.Error()
	}
	info, err := l.rt.Process(pid)
	switch {
	case err != nil:
		return pid, err.Error()
	case info.Tree != tree:
		return pid, fmt.Sprintf("%s does not run in tree %s", pid, tree)
	case info.Supervisor:
		return pid, fmt.Sprintf("%s is a supervisor", pid)
	case info.Behavior != s.Behavior:
		return pid, fmt.Sprintf("%s runs behavior %q, not %q", pid, info.Behavior, s.Behavior)
	}
	return pid, ""
}

// importOne imports s's state into pid and reads it back: "" when the
// process holds it, else why not.
func importOne(ctx context.Context, rt *actor.Runtime, pid actor.PID, s plan.StateImport) string {
	if err := rt.ReplaceState(ctx, pid, []byte(s.State)); err != nil {
		return "refused: " + err.Error()
	}
	got, err := rt.GetState(ctx, pid)
	if err != nil {
		return "imported, then its state could not be read back: " + err.Error()
	}
	if !sameState(got, []byte(s.State)) {
		return fmt.Sprintf("imported, then it holds %.64q, not %.64q", got, s.State)
	}
	return ""
}

// sameState reports whether got, a state read back, is imported, the
// state imported: equal bytes, or the same JSON value (a behavior may
// re-encode its state), or, imported being a JSON object, an object that
// holds each of its fields with the same value (a behavior may add the
// fields it defaults, as the counter does its message count).
func sameState(got, imported []byte) bool {
	if bytes.Equal(got, imported) {
		return true
	}
	var vg, vi any
	if json.Unmarshal(got, &vg) != nil || json.Unmarshal(imported, &vi) != nil {
		return false
	}
	if reflect.DeepEqual(vg, vi) {
		return true
	}
	og, ok1 := vg.(map[string]any)
	oi, ok2 := vi.(map[string]any)
	if !ok1 || !ok2 {
		return false
	}
	for k, v := range oi {
		if w, ok := og[k]; !ok || !reflect.DeepEqual(v, w) {
			return false
		}
	}
	return true
}

// named joins the first maxNamed reasons and counts the others.
func named(reasons []string) string {
	if len(reasons) <= maxNamed {
		return strings.Join(reasons, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(reasons[:maxNamed], "; "), len(reasons)-maxNamed)
}
