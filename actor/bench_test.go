package actor_test

import (
	"context"
	"errors"
	goruntime "runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/spec"
)

// Every benchmark has a runtime variant and a baseline variant built from
// bare goroutines and channels doing the same job, so the two can be read
// side by side in one run (docs/perf/runtime.md).

func benchRuntime(b *testing.B, clock actor.Clock) *actor.Runtime {
	b.Helper()
	cfg := actor.DefaultConfig()
	cfg.NodeName = "bench"
	cfg.Logger = hclog.NewNullLogger()
	cfg.Catalog = behaviors.NewCatalog()
	cfg.MaxProcesses = 10_000_000
	cfg.EventBuffer = 1024
	if clock != nil {
		cfg.Clock = clock
	}
	rt, err := actor.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	return rt
}

// idle is the cheapest behavior: it does nothing, and answers calls with
// their body.
type idle struct{}

func (idle) Init(actor.Proc) error                                    { return nil }
func (idle) HandleInfo(actor.Proc, actor.Message) error               { return nil }
func (idle) HandleCast(actor.Proc, actor.Message) error               { return nil }
func (idle) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) { return m.Body, nil }
func (idle) Terminate(actor.Proc, actor.Reason)                       {}
func (idle) CodeChange(string, []byte) error                          { return nil }
func (idle) ExportState() ([]byte, error)                             { return nil, nil }
func (idle) ImportState([]byte) error                                 { return nil }

// bareActor is the baseline: a goroutine with a buffered mailbox channel that
// acknowledges its start.
type bareActor struct {
	mailbox chan []byte
}

func startActor(handle func([]byte)) *bareActor {
	a := &bareActor{mailbox: make(chan []byte, 16)}
	started := make(chan struct{})
	go func() {
		close(started)
		for m := range a.mailbox {
			if handle != nil {
				handle(m)
			}
		}
	}()
	<-started
	return a
}

func BenchmarkSpawn(b *testing.B) {
	b.Run("runtime", func(b *testing.B) {
		rt := benchRuntime(b, nil)
		ctx := context.Background()
		pids := make([]actor.PID, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			pid, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "idle", Impl: idle{}})
			if err != nil {
				b.Fatal(err)
			}
			pids = append(pids, pid)
		}
		b.StopTimer()
		for _, p := range pids {
			_ = rt.Kill(p, "")
		}
	})
	b.Run("baseline", func(b *testing.B) {
		actors := make([]*bareActor, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			actors = append(actors, startActor(nil))
		}
		b.StopTimer()
		for _, a := range actors {
			close(a.mailbox)
		}
	})
}

// memDelta measures the heap and stack growth of making n of something.
func memDelta(n int, make func(i int)) float64 {
	goruntime.GC()
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		make(i)
	}
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	used := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
	return float64(used) / float64(n)
}

// BenchmarkIdleProcessMemory reports bytes per idle process (bytes/proc);
// its ns/op is the spawn cost and not the point.
func BenchmarkIdleProcessMemory(b *testing.B) {
	b.Run("runtime", func(b *testing.B) {
		rt := benchRuntime(b, nil)
		ctx := context.Background()
		pids := make([]actor.PID, b.N)
		per := memDelta(b.N, func(i int) {
			pid, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "idle", Impl: idle{}})
			if err != nil {
				b.Fatal(err)
			}
			pids[i] = pid
		})
		b.ReportMetric(per, "bytes/proc")
		if b.N >= 1000 {
			info, _ := rt.Process(pids[0])
			b.ReportMetric(float64(info.MemoryBytes), "estimate-bytes/proc")
		}
		b.StopTimer()
		for _, p := range pids {
			_ = rt.Kill(p, "")
		}
	})
	b.Run("baseline", func(b *testing.B) {
		actors := make([]*bareActor, b.N)
		per := memDelta(b.N, func(i int) { actors[i] = startActor(nil) })
		b.ReportMetric(per, "bytes/proc")
		b.StopTimer()
		for _, a := range actors {
			close(a.mailbox)
		}
	})
}

// pinger bounces a message with its peer until rounds reach zero.
type pinger struct {
	idle
	peer   actor.PID
	rounds int
	done   chan struct{}
}

func (p *pinger) HandleInfo(proc actor.Proc, m actor.Message) error {
	if p.done != nil {
		p.rounds--
		if p.rounds == 0 {
			close(p.done)
			return nil
		}
	}
	return proc.Send(m.From, m.Body)
}

// BenchmarkPingPong: one op is a round trip, two messages.
func BenchmarkPingPong(b *testing.B) {
	b.Run("runtime", func(b *testing.B) {
		rt := benchRuntime(b, nil)
		ctx := context.Background()
		pong, _ := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "pong", Impl: &pinger{}})
		done := make(chan struct{})
		ping, _ := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "ping", Impl: &pinger{rounds: b.N, done: done}})
		body := []byte("ping")
		b.ReportAllocs()
		b.ResetTimer()
		if err := rt.Send(pong, actor.Message{From: ping, Body: body}); err != nil {
			b.Fatal(err)
		}
		<-done
	})
	b.Run("baseline", func(b *testing.B) {
		pingBox, pongBox := make(chan []byte, 16), make(chan []byte, 16)
		done := make(chan struct{})
		go func() {
			for m := range pongBox {
				pingBox <- m
			}
		}()
		go func() {
			n := b.N
			for m := range pingBox {
				n--
				if n == 0 {
					close(done)
					return
				}
				pongBox <- m
			}
		}()
		b.ReportAllocs()
		b.ResetTimer()
		pongBox <- []byte("ping")
		<-done
		b.StopTimer()
		close(pongBox)
	})
}

// BenchmarkCall: a synchronous request/reply from outside any process.
func BenchmarkCall(b *testing.B) {
	b.Run("runtime", func(b *testing.B) {
		rt := benchRuntime(b, nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		pid, _ := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "idle", Impl: idle{}})
		msg := actor.Message{Body: []byte("hi")}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := rt.Call(ctx, pid, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		type req struct {
			body  []byte
			reply chan []byte
		}
		box := make(chan req, 16)
		go func() {
			for r := range box {
				r.reply <- r.body
			}
		}()
		reply := make(chan []byte, 1)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			box <- req{[]byte("hi"), reply}
			<-reply
		}
		b.StopTimer()
		close(box)
	})
}

// sink counts messages and signals when it has seen want of them.
type sink struct {
	idle
	n, want int
	done    chan struct{}
}

func (s *sink) HandleCast(actor.Proc, actor.Message) error {
	s.n++
	if s.n == s.want {
		close(s.done)
	}
	return nil
}

const senders = 16

// BenchmarkManyToOne: 16 goroutines send b.N messages in all to one
// process. A full mailbox is backpressure: the sender yields and retries,
// as the baseline's send blocks on a full channel of the same capacity.
func BenchmarkManyToOne(b *testing.B) {
	b.Run("runtime", func(b *testing.B) {
		rt := benchRuntime(b, nil)
		done := make(chan struct{})
		pid, _ := rt.Spawn(context.Background(), actor.SpawnOptions{Behavior: "sink", Impl: &sink{want: b.N, done: done}})
		msg := actor.Message{Kind: actor.KindCast, Body: []byte("x")}
		b.ReportAllocs()
		b.ResetTimer()
		var wg sync.WaitGroup
		for s := 0; s < senders; s++ {
			n := b.N / senders
			if s == 0 {
				n += b.N % senders
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n; i++ {
					for {
						err := rt.Send(pid, msg)
						if err == nil {
							break
						}
						if !errors.Is(err, actor.ErrMailboxFull) {
							b.Error(err)
							return
						}
						goruntime.Gosched()
					}
				}
			}()
		}
		wg.Wait()
		<-done
	})
	b.Run("baseline", func(b *testing.B) {
		box := make(chan []byte, actor.DefaultMailboxLimit)
		done := make(chan struct{})
		go func() {
			for n := 0; n < b.N; n++ {
				<-box
			}
			close(done)
		}()
		body := []byte("x")
		b.ReportAllocs()
		b.ResetTimer()
		var wg sync.WaitGroup
		for s := 0; s < senders; s++ {
			n := b.N / senders
			if s == 0 {
				n += b.N % senders
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n; i++ {
					box <- body
				}
			}()
		}
		wg.Wait()
		<-done
	})
}

// BenchmarkCrashToRestartedCall: one op is a crash of a supervised child
// followed by a successful call to its restarted incarnation.
func BenchmarkCrashToRestartedCall(b *testing.B) {
	b.Run("runtime", func(b *testing.B) {
		clock := actortest.NewManualClock(time.Time{})
		rt := benchRuntime(b, clock)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		tr := spec.Tree{Name: "t", SupervisorSpec: spec.SupervisorSpec{
			Strategy: spec.OneForOne, MaxRestarts: 1, MaxSeconds: 1,
			Children: []spec.ChildSpec{{ID: "w", Behavior: "crasher"}},
		}}
		if err := rt.ApplyTree(ctx, tr); err != nil {
			b.Fatal(err)
		}
		target := actor.Target{Tree: "t", Path: "w"}
		pid, _ := rt.Resolve(target)
		crash, ping := actor.Message{Body: []byte("crash")}, actor.Message{Body: []byte("ping")}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			clock.Advance(2 * time.Second) // keep the intensity window clear
			if err := rt.Cast(pid, crash); err != nil {
				b.Fatal(err)
			}
			for {
				next, err := rt.Resolve(target)
				if err == nil && next != pid {
					if _, err := rt.Call(ctx, next, ping); err == nil {
						pid = next
						break
					}
				}
				goruntime.Gosched()
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		// A supervisor goroutine restarts a worker goroutine that panics on
		// "crash"; the caller waits for the new worker's channel and calls.
		type req struct {
			body  []byte
			reply chan []byte
		}
		var current atomic.Pointer[chan req]
		exits := make(chan struct{}, 1)
		startWorker := func() {
			box := make(chan req, 16)
			go func() {
				defer func() {
					if recover() != nil {
						exits <- struct{}{}
					}
				}()
				for r := range box {
					if string(r.body) == "crash" {
						panic("crash")
					}
					r.reply <- []byte("pong")
				}
			}()
			current.Store(&box)
		}
		stop := make(chan struct{})
		startWorker()
		go func() {
			for {
				select {
				case <-exits:
					startWorker()
				case <-stop:
					return
				}
			}
		}()
		reply := make(chan []byte, 1)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			old := current.Load()
			*old <- req{body: []byte("crash")}
			for {
				next := current.Load()
				if next != old {
					*next <- req{body: []byte("ping"), reply: reply}
					<-reply
					break
				}
				goruntime.Gosched()
			}
		}
		b.StopTimer()
		close(stop)
	})
}

// BenchmarkScaleStartStopManyChildren is supervisor_SUITE's
// scale_start_stop_many_children: a one_for_one supervisor takes n
// static children with StartChild, one after the other, then stops them
// with TerminateChild in the same order, for n = 1 000 and 100 000
// (MaxChildren raised to n). Each start and each terminate publishes its
// one change at the cost of that change (supsnapshot.go), so both
// phases grow linearly with n; OTP fails the case beyond 10 times
// linear. Reported: ns per child for each phase.
func BenchmarkScaleStartStopManyChildren(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			cfg := actor.DefaultConfig()
			cfg.NodeName = "bench"
			cfg.Logger = hclog.NewNullLogger()
			cfg.Catalog = behaviors.NewCatalog()
			cfg.MaxProcesses = 10_000_000
			cfg.EventBuffer = 1024
			cfg.MaxChildren = n
			rt, err := actor.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
			ctx := context.Background()
			specs := make([]spec.ChildSpec, n)
			for i := range specs {
				specs[i] = spec.ChildSpec{ID: "c" + strconv.Itoa(i+1), Behavior: "counter", Shutdown: "1s"}
			}
			var start, stop time.Duration
			b.ResetTimer()
			for i := range b.N {
				// A fresh supervisor each round, stopped untimed.
				b.StopTimer()
				name := "t" + strconv.Itoa(i)
				if err := rt.ApplyTree(ctx, spec.Tree{Name: name, SupervisorSpec: spec.SupervisorSpec{
					Strategy: spec.OneForOne, MaxRestarts: 2, MaxSeconds: 3600}}); err != nil {
					b.Fatal(err)
				}
				root, err := rt.Resolve(actor.Target{Tree: name})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				for _, cs := range specs {
					if _, err := rt.StartChild(ctx, root, cs); err != nil {
						b.Fatal(err)
					}
				}
				t1 := time.Now()
				for _, cs := range specs {
					if err := rt.TerminateChild(ctx, root, cs.ID); err != nil {
						b.Fatal(err)
					}
				}
				t2 := time.Now()
				start, stop = start+t1.Sub(t0), stop+t2.Sub(t1)
				b.StopTimer()
				if err := rt.StopTree(ctx, name); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(start.Nanoseconds())/float64(b.N*n), "start-ns/child")
			b.ReportMetric(float64(stop.Nanoseconds())/float64(b.N*n), "stop-ns/child")
		})
	}
}
