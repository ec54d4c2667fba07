package testkit_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/node"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// A node restarted on its data dir starts its runtime at the next
// creation: a PID from before the restart resolves to no process (the
// error says it is from an earlier run), and the new run's PIDs differ
// from every PID of the earlier one, so a committed operation naming an
// old PID cannot reach a new process.
func TestRestartedNodeReusesNoPID(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig()}
	}))
	ctx := testkit.Ctx(t, 30*time.Second)
	rt := c.Stack("n1").Runtime
	if got := rt.Config().Creation; got != 1 {
		t.Fatalf("first start: creation %d, want 1", got)
	}
	var old []actor.PID
	for range 5 {
		pid, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, pid)
	}

	c.Kill(0)
	c.Restart(0)
	c.WaitForLeader()
	rt2 := c.Stack("n1").Runtime
	if rt2 == rt {
		t.Fatal("the restart built no new runtime")
	}
	if got := rt2.Config().Creation; got != 2 {
		t.Fatalf("after a restart: creation %d, want 2", got)
	}
	b, err := os.ReadFile(filepath.Join(c.Config(0).DataDir, node.CreationFile))
	if err != nil || strings.TrimSpace(string(b)) != "2" {
		t.Fatalf("%s: %q, %v; want 2", node.CreationFile, b, err)
	}

	// As many processes as before, so the old run's seqs would all have
	// been handed out again had the sequence started afresh.
	seen := map[actor.PID]bool{}
	for _, p := range old {
		seen[p] = true
	}
	for range len(old) {
		pid, err := rt2.Spawn(ctx, actor.SpawnOptions{Behavior: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		if seen[pid] {
			t.Fatalf("the restarted node handed out %s again", pid)
		}
	}
	for _, p := range old {
		_, err := rt2.Process(p)
		if !errors.Is(err, actor.ErrNoProc) || !strings.Contains(err.Error(), "earlier run") {
			t.Fatalf("Process(%s) after the restart: %v, want ErrNoProc from an earlier run", p, err)
		}
		if err := rt2.Kill(p, ""); !errors.Is(err, actor.ErrNoProc) {
			t.Fatalf("Kill(%s) after the restart: %v, want ErrNoProc", p, err)
		}
	}
	if n := rt2.ProcessCount(); n < len(old) {
		t.Fatalf("%d processes live, want at least the %d spawned after the restart", n, len(old))
	}
}
