package hotcode_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/steward/steward/actor"
)

// Instantiating per process: the behavior and its instance (Init), then
// Terminate, which frees it.
func BenchmarkInstantiate(b *testing.B) {
	h := newHost(b, nil)
	m := compile(b, h, counterV1(b))
	b.ReportAllocs()
	for b.Loop() {
		beh, err := m.Behavior(nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := beh.Init(nil); err != nil {
			b.Fatal(err)
		}
		beh.Terminate(nil, actor.Normal)
	}
}

// A whole process: spawn (instantiate, init) and stop.
func BenchmarkSpawn(b *testing.B) {
	h := newHost(b, nil)
	m := compile(b, h, counterV1(b))
	rt, _ := newRuntime(b, h, m)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		pid, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "counter@1"})
		if err != nil {
			b.Fatal(err)
		}
		if err := rt.Exit(pid, actor.Shutdown); err != nil {
			b.Fatal(err)
		}
	}
}

// A call round trip to a wasm counter, a native one for comparison, and
// a wasm counter calling a native one through the host (two round trips).
func BenchmarkCall(b *testing.B) {
	h := newHost(b, nil)
	m := compile(b, h, counterV1(b))
	rt, _ := newRuntime(b, h, m)
	ctx := context.Background()
	w := spawn(b, rt, "counter@1", nil)
	n, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "counter", Name: "native"})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		pid  actor.PID
		body string
	}{{"wasm", w, "get"}, {"native", n, "get"}, {"wasm-calls-native", w, "ask native get"}} {
		b.Run(bc.name, func(b *testing.B) {
			msg := actor.Message{Body: []byte(bc.body)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.Call(ctx, bc.pid, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Suspend, code change and resume N processes in-process, as a deployment
// will do on one node: all suspended, each changed, all resumed. Each
// iteration goes v1 -> v2 or back down, keeping the counts. "sequential"
// changes one process at a time; "parallel" from GOMAXPROCS goroutines
// (each process's change runs in its own goroutine either way).
func BenchmarkCodeChange(b *testing.B) {
	const n = 1000
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		name := "sequential"
		if workers > 1 {
			name = fmt.Sprintf("parallel-%d", workers)
		}
		b.Run(fmt.Sprintf("%d/%s", n, name), func(b *testing.B) {
			h := newHost(b, nil)
			v1 := compile(b, h, counterV1(b))
			v2 := compile(b, h, counterV2(b))
			rt, _ := newRuntime(b, h, v1, v2)
			ctx := context.Background()
			pids := make([]actor.PID, n)
			for i := range pids {
				pids[i] = spawn(b, rt, "counter@1", map[string]string{"start": fmt.Sprint(i)})
			}
			to := "counter@2"
			for b.Loop() {
				for _, p := range pids {
					if err := rt.Suspend(p); err != nil {
						b.Fatal(err)
					}
				}
				var wg sync.WaitGroup
				errs := make(chan error, workers)
				for w := 0; w < workers; w++ {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						for i := w; i < n; i += workers {
							if _, err := rt.ChangeCode(ctx, pids[i], to); err != nil {
								errs <- err
								return
							}
						}
					}(w)
				}
				wg.Wait()
				close(errs)
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
				for _, p := range pids {
					if err := rt.Resume(p); err != nil {
						b.Fatal(err)
					}
				}
				if to == "counter@2" {
					to = "counter@1"
				} else {
					to = "counter@2"
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/process")
			got, err := rt.Call(ctx, pids[n-1], actor.Message{Body: []byte("get")})
			if err != nil || string(got) != fmt.Sprint(n-1) {
				b.Fatalf("count after the changes %s %v", got, err)
			}
		})
	}
}
