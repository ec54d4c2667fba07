package actor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/spec"
)

// holder hands its Proc to the benchmark, which sends from it.
type holder struct {
	idle
	procs chan<- actor.Proc
}

func (h holder) Init(p actor.Proc) error { h.procs <- p; return nil }

// BenchmarkSandboxSend is the cost of the boundary check per send: the
// same Proc.Send from a process of an unsandboxed tree (the fast path: two
// nil checks), from a sandboxed one to a sibling (inside), from a
// permissive sandbox to an outside process (a recorded crossing), and
// from a strict sandbox whose sends out are refused (response log, so the
// sender survives).
func BenchmarkSandboxSend(b *testing.B) {
	cases := []struct {
		name   string
		pol    *actor.SandboxPolicy
		inside bool
	}{
		{"unsandboxed", nil, false},
		{"sandboxed-inside", &actor.SandboxPolicy{Isolation: actor.IsolationStrict}, true},
		{"permissive-outside", &actor.SandboxPolicy{Isolation: actor.IsolationPermissive}, false},
		{"moderate-outside", &actor.SandboxPolicy{Isolation: actor.IsolationModerate}, false},
		{"strict-refused", &actor.SandboxPolicy{Isolation: actor.IsolationStrict, Response: actor.ResponseLog}, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rt := benchRuntime(b, nil)
			ctx := context.Background()
			procs := make(chan actor.Proc, 1)
			for _, e := range []actor.Entry{
				{Name: "holder", New: func(map[string]string) (actor.Behavior, error) { return holder{procs: procs}, nil }},
				{Name: "idle", New: func(map[string]string) (actor.Behavior, error) { return idle{}, nil }},
			} {
				if err := rt.Catalog().Register(e); err != nil {
					b.Fatal(err)
				}
			}
			tr := spec.Tree{Name: "t", SupervisorSpec: spec.SupervisorSpec{Strategy: spec.OneForOne, MaxRestarts: 10, MaxSeconds: 10,
				Children: []spec.ChildSpec{{ID: "h", Behavior: "holder"}, {ID: "sib", Behavior: "idle"}}}}
			var err error
			if c.pol != nil {
				err = rt.ApplySandbox(ctx, tr, *c.pol)
			} else {
				err = rt.ApplyTree(ctx, tr)
			}
			if err != nil {
				b.Fatal(err)
			}
			p := <-procs
			to, err := rt.Resolve(actor.Target{Tree: "t", Path: "sib"})
			if err != nil {
				b.Fatal(err)
			}
			if !c.inside {
				if to, err = rt.Spawn(ctx, actor.SpawnOptions{Behavior: "idle"}); err != nil {
					b.Fatal(err)
				}
			}
			body := []byte("m")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for {
					err := p.Send(to, body)
					if err == nil || errors.Is(err, actor.ErrBoundary) {
						break
					}
					if !errors.Is(err, actor.ErrMailboxFull) {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
