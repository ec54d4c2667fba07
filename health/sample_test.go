package health

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/behaviors"
)

// The system sampler measures a real runtime: its processes, their
// mailboxes, the agent's memory and (on Linux) its CPU use.
func TestSystemSampler(t *testing.T) {
	cfg := actor.DefaultConfig()
	cfg.NodeName = "t1"
	cfg.Catalog = behaviors.NewCatalog()
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var pids []actor.PID
	for range 3 {
		pid, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	// Queue messages in one suspended mailbox.
	if err := rt.Suspend(pids[0]); err != nil {
		t.Fatal(err)
	}
	for range 7 {
		if err := rt.Send(pids[0], actor.Message{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	s := NewSystemSampler(rt, time.Now)
	deadline := time.Now().Add(5 * time.Second)
	var got Sample
	for {
		got = s.Sample()
		if got.CPUAvailable || runtime.GOOS != "linux" || time.Now().After(deadline) {
			break
		}
	}
	if got.ProcessCount != 3 || got.QueueMax != 7 || got.QueueTotal != 7 {
		t.Fatalf("processes %d, queue max %d, total %d", got.ProcessCount, got.QueueMax, got.QueueTotal)
	}
	if got.HeapBytes <= 0 || got.StackBytes <= 0 || got.MemoryBytes != got.HeapBytes+got.StackBytes || got.RuntimeBytes < 3*actor.ProcessOverheadBytes {
		t.Fatalf("memory: %+v", got)
	}
	if runtime.GOOS == "linux" && (!got.CPUAvailable || got.CPUPercent < 0 || got.CPUPercent > 100*float64(runtime.NumCPU())) {
		t.Fatalf("cpu: %+v", got)
	}
}
