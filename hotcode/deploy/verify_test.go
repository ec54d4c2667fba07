package deploy_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
)

func (f *fixture) verify(module, targets string) *pb.VerifyResponse {
	f.T.Helper()
	var resp *pb.VerifyResponse
	err := f.Retry(func() error {
		var err error
		resp, err = pb.NewDeploymentsClient(f.C.Conn(1)).Verify(f.Ctx, &pb.VerifyRequest{Module: module, Targets: targets})
		return err
	})
	if err != nil {
		f.T.Fatalf("verify %s: %v", module, err)
	}
	return resp
}

// module verify on 3 nodes, counters on two of them, one counting 13:
// counter@2 migrates every process (state sizes before and after
// reported); the adversarial counter@3, whose code_change traps on 13,
// fails exactly that process, naming the trap; --targets narrows the same
// way as deploy. Afterwards every process still runs v1 with its count,
// none changed code or was suspended, and no throwaway instance is left.
func TestVerifyTriesEveryMigrationAndMovesNothing(t *testing.T) {
	f := newFixture(t, nil)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	f.Push("3", v3Trap(t))
	nodes := []string{f.C.Node(0).Name(), f.C.Node(2).Name()}
	pids := f.Trees(3, nodes...)
	sub := map[string]*actor.Subscription{}
	for _, n := range nodes {
		sub[n] = f.C.Stack(n).Runtime.Subscribe(1024)
		defer sub[n].Close()
	}
	count := map[actor.PID]int{}
	node := map[actor.PID]string{}
	trap := pids[nodes[1]][1]
	for k, n := range nodes {
		for i, p := range pids[n] {
			c := 20*k + 5*i + 1
			if p == trap {
				c = 13 // counter@3's code_change traps on this count
			}
			count[p], node[p] = c, n
			f.Call(n, p, fmt.Sprintf("inc %d", c))
			if got := f.Call(n, p, "get"); got != strconv.Itoa(c) {
				t.Fatalf("%s counts %s, want %d", p, got, c)
			}
		}
	}

	ok := f.verify("counter@2", "")
	if !ok.Ok || len(ok.Errors) != 0 || len(ok.Processes) != 6 || ok.Version != "2" || strings.Join(ok.FromVersions, ",") != "1" {
		t.Fatalf("verify counter@2: %+v", ok)
	}
	if ok.Safety != "moderate" || len(ok.Capabilities) == 0 {
		t.Errorf("the stored capability report is missing: safety %q, %d uses", ok.Safety, len(ok.Capabilities))
	}
	for _, w := range ok.Warnings {
		if strings.Contains(w, "imports host functions") {
			t.Errorf("v2 imports what v1 does: warning %q", w)
		}
	}
	seen := map[string]bool{}
	for _, r := range ok.Processes {
		p, err := actor.ParsePID(r.Pid)
		if err != nil {
			t.Fatal(err)
		}
		seen[r.Pid] = true
		before, after := len(fmt.Sprintf(`{"count":%d}`, count[p])), len(fmt.Sprintf(`{"count":%d,"messages":0}`, count[p]))
		if !r.Ok || r.Error != "" || r.Node != node[p] || r.Tree != "w-"+node[p] || !strings.HasPrefix(r.ChildId, "c") || r.FromVersion != "1" ||
			r.StateBytesBefore != uint64(before) || r.StateBytesAfter != uint64(after) || r.DurationUs < 0 {
			t.Errorf("%s: %+v, want ok from 1 on %s, %d bytes then %d", p, r, node[p], before, after)
		}
	}
	if len(seen) != 6 {
		t.Errorf("%d distinct processes verified, want 6", len(seen))
	}

	bad := f.verify("counter@3", "")
	if bad.Ok || len(bad.Processes) != 6 {
		t.Fatalf("verify counter@3: ok %v, %d processes", bad.Ok, len(bad.Processes))
	}
	for _, r := range bad.Processes {
		if r.Pid == trap.String() {
			t.Logf("%s under counter@3: %s", r.Pid, r.Error)
			if r.Ok || !strings.Contains(r.Error, "code_change") || !strings.Contains(r.Error, "unreachable") || r.StateBytesBefore == 0 || r.StateBytesAfter != 0 {
				t.Errorf("the count of 13 on %s: %+v, want the trap named", r.Pid, r)
			}
		} else if !r.Ok || r.Error != "" || r.StateBytesAfter == 0 {
			t.Errorf("%s under counter@3: %+v, want ok", r.Pid, r)
		}
	}

	// --targets narrows exactly as deploy's does.
	if one := f.verify("counter@3", "pid="+trap.String()); one.Ok || len(one.Processes) != 1 || one.Processes[0].Pid != trap.String() {
		t.Errorf("verify --targets pid=%s: %+v", trap, one)
	}
	if tree := f.verify("counter@3", "tree=w-"+nodes[0]); !tree.Ok || len(tree.Processes) != 3 {
		t.Errorf("verify --targets tree=w-%s: %+v", nodes[0], tree)
	}
	_, err := pb.NewDeploymentsClient(f.C.Conn(0)).Verify(f.Ctx, &pb.VerifyRequest{Module: "counter@2", Targets: "tree=nowhere"})
	if err == nil || !strings.Contains(err.Error(), "matches no process") {
		t.Errorf("a selector matching nothing: %v", err)
	}
	if _, err := pb.NewDeploymentsClient(f.C.Conn(0)).Verify(f.Ctx, &pb.VerifyRequest{Module: "counter@9"}); err == nil || !strings.Contains(err.Error(), "not stored") {
		t.Errorf("a version not stored: %v", err)
	}

	// Nothing moved.
	for _, n := range nodes {
		for _, p := range pids[n] {
			if v := f.Version(n, p); v != "1" {
				t.Errorf("%s runs version %s after verify, want 1", p, v)
			}
			if got := f.Call(n, p, "get"); got != strconv.Itoa(count[p]) {
				t.Errorf("%s counts %s after verify, want %d", p, got, count[p])
			}
		}
		if got := len(f.Workers(n, "wasm:counter@1")); got != 3 {
			t.Errorf("%s has %d counters on v1, want 3", n, got)
		}
		if got := f.C.Stack(n).Modules.Host().Instances(); got != 3 {
			t.Errorf("%s holds %d module instances, want its 3 processes': a throwaway one was left", n, got)
		}
		for drained := false; !drained; {
			select {
			case ev := <-sub[n].C:
				switch ev.Type {
				case actor.EventCodeChanged, actor.EventSuspended, actor.EventResumed, actor.EventStateReplaced:
					t.Errorf("%s: %s during verify (%s)", ev.PID, ev.Type, ev.Detail)
				}
			default:
				drained = true
			}
		}
	}
}
