package metrics

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/spec"
)

// The runtime watcher counts a sandbox's violations by kind, exits by
// reason class and spawns, and reads the live processes.
func TestWatchRuntimeCountsViolationsAndExits(t *testing.T) {
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Catalog = behaviors.NewCatalog()
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer rt.Shutdown(ctx)
	r := New("n1")
	w, err := WatchRuntime(r, rt)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	tmpl := spec.ChildSpec{ID: "w", Behavior: "echo", Restart: spec.Temporary}
	box := spec.Tree{Name: "box", SupervisorSpec: spec.SupervisorSpec{Strategy: spec.SimpleOneForOne, MaxRestarts: 10, MaxSeconds: 10, Children: []spec.ChildSpec{tmpl}}}
	if err := rt.ApplySandbox(ctx, box, actor.SandboxPolicy{MaxProcesses: 2}); err != nil {
		t.Fatal(err)
	}
	root, err := rt.Resolve(actor.Target{Tree: "box"})
	if err != nil {
		t.Fatal(err)
	}
	child, err := rt.StartDynamicChild(ctx, root, nil)
	if err != nil {
		t.Fatalf("first child under max_processes 2: %v", err)
	}
	if _, err := rt.StartDynamicChild(ctx, root, nil); err == nil {
		t.Fatal("a third process started under max_processes 2")
	}
	if err := rt.Kill(child, actor.Kill); err != nil {
		t.Fatal(err)
	}
	testkitEventually(t, 20*time.Second, func() error {
		fams := gather(t, r)
		if m := findSeries(fams["steward_sandbox_violations_total"], map[string]string{"kind": string(actor.ViolationProcesses)}); m == nil || m.GetCounter().GetValue() < 1 {
			return fmt.Errorf("max_processes violations: %v", m)
		}
		if m := findSeries(fams["steward_runtime_exits_total"], map[string]string{"reason_class": "killed"}); m == nil || m.GetCounter().GetValue() != 1 {
			return fmt.Errorf("killed exits: %v, want 1", m)
		}
		if m := findSeries(fams["steward_runtime_events_total"], map[string]string{"type": string(actor.EventSpawned)}); m == nil || m.GetCounter().GetValue() < 2 {
			return fmt.Errorf("spawned events: %v, want the root and the child", m)
		}
		if m := findSeries(fams["steward_runtime_processes"], map[string]string{}); m == nil || m.GetGauge().GetValue() != float64(rt.ProcessCount()) {
			return fmt.Errorf("processes %v, the runtime has %d", m, rt.ProcessCount())
		}
		if m := findSeries(fams["steward_runtime_trees"], map[string]string{}); m == nil || m.GetGauge().GetValue() != 1 {
			return fmt.Errorf("trees %v, want 1", m)
		}
		return nil
	})
}
