package actor

import "testing"

// BenchmarkBoundaryCheck isolates the boundary's cost on the send path
// from the delivery's (BenchmarkSandboxSend measures both): what a send
// between two unsandboxed processes pays (the nil checks), and the whole
// gate for a send inside a sandbox, and out of a permissive, a moderate
// and a rate-limited one.
func BenchmarkBoundaryCheck(b *testing.B) {
	cfg := DefaultConfig()
	cfg.NodeName = "n"
	rt, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	seq := uint64(0)
	proc := func(ts *treeState) *process {
		seq++
		p := &process{rt: rt, pid: PID{Node: "n", Seq: seq}, tree: ts}
		if ts != nil {
			p.sb = ts.sb
			p.sbp = ts.sb.joined(p)
		}
		return p
	}
	box := func(pol SandboxPolicy) *treeState {
		ts := &treeState{rt: rt, name: "box"}
		ts.sb = newSandbox(rt, ts, pol.withDefaults())
		return ts
	}
	plainA, plainB := proc(nil), proc(nil)
	var sink error
	run := func(name string, from, to *process) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if sandboxed(from, to) {
					sink = rt.gate(OpSend, from, to, to.pid, true)
				}
			}
		})
	}
	run("unsandboxed", plainA, plainB)
	strict := box(SandboxPolicy{Isolation: IsolationStrict})
	run("inside", proc(strict), proc(strict))
	run("permissive-outside", proc(box(SandboxPolicy{Isolation: IsolationPermissive})), plainB)
	run("moderate-outside", proc(box(SandboxPolicy{Isolation: IsolationModerate})), plainB)
	rated := box(SandboxPolicy{Isolation: IsolationStrict, MaxMessagesPerSecond: 1 << 30})
	run("inside-rate-limited", proc(rated), proc(rated))
	_ = sink
}
