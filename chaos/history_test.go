package chaos

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func op(client int, kind, key, expect, value string, out Outcome, call, ret int64) Op {
	return Op{Client: client, Kind: kind, Key: key, Expect: expect, Value: value, Outcome: out, Call: call, Return: ret}
}

func TestLinearizableHistoryPasses(t *testing.T) {
	ops := []Op{
		op(0, OpCAS, "a", "", "a1", OK, 0, 10),
		op(1, OpRead, "a", "", "a1", OK, 11, 20),
		op(1, OpCAS, "a", "a1", "a2", OK, 21, 30),
		// Concurrent with the CAS to a2: may see either.
		op(2, OpRead, "a", "", "a1", OK, 22, 25),
		// An unknown write that a later read observed: it took effect.
		op(0, OpCAS, "a", "a2", "a3", Unknown, 31, 40),
		op(2, OpRead, "a", "", "a3", OK, 50, 60),
		// An unknown write never observed, and a failed one: no effect.
		op(1, OpCAS, "a", "a3", "lost", Unknown, 61, 70),
		op(0, OpCAS, "a", "a1", "never", Fail, 61, 70),
		op(2, OpRead, "a", "", "a3", OK, 80, 90),
		op(0, OpCAS, "b", "", "b1", OK, 0, 5),
		op(1, OpRead, "b", "", "b1", OK, 6, 7),
		op(1, OpRead, "b", "", "", Unknown, 8, 100),
	}
	r, err := CheckLinearizable(ops, 10*time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Linearizable || r.Result != "Ok" {
		t.Fatalf("result %+v, want Ok", r)
	}
	// Left out: the unobserved unknown CAS, the failed CAS, the unanswered read.
	if r.Operations != len(ops)-3 {
		t.Errorf("%d operations checked, want %d", r.Operations, len(ops)-3)
	}
}

func TestStaleReadIsCaught(t *testing.T) {
	ops := []Op{
		op(0, OpCAS, "a", "", "a1", OK, 0, 10),
		op(0, OpCAS, "a", "a1", "a2", OK, 11, 20),
		// Starts after the write of a2 returned, still sees a1.
		op(1, OpRead, "a", "", "a1", OK, 21, 30),
	}
	html := filepath.Join(t.TempDir(), "viz.html")
	r, err := CheckLinearizable(ops, 10*time.Second, html)
	if err != nil {
		t.Fatal(err)
	}
	if r.Linearizable || r.Result != "Illegal" {
		t.Fatalf("result %+v, want Illegal", r)
	}
	if fi, err := os.Stat(html); err != nil || fi.Size() == 0 {
		t.Fatalf("visualization %s not written: %v", html, err)
	}
	if r.Visualization != html {
		t.Errorf("visualization %q, want %q", r.Visualization, html)
	}
}

// A write the cluster reported as not applied, then read back, cannot be
// explained by any operation of the history.
func TestFailedWriteThatAppliedIsCaught(t *testing.T) {
	ops := []Op{
		op(0, OpCAS, "a", "", "a1", OK, 0, 10),
		op(1, OpCAS, "a", "a1", "ghost", Fail, 11, 20),
		op(2, OpRead, "a", "", "ghost", OK, 21, 30),
	}
	r, err := CheckLinearizable(ops, 10*time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Linearizable {
		t.Fatalf("result %+v, want not linearizable", r)
	}
}

// A lost acknowledged write: the CAS to a2 returned ok, yet a later read
// sees a1 and a CAS from a1 succeeds.
func TestLostAcknowledgedCASIsCaught(t *testing.T) {
	ops := []Op{
		op(0, OpCAS, "k", "", "a1", OK, 0, 10),
		op(0, OpCAS, "k", "a1", "a2", OK, 11, 20),
		op(1, OpCAS, "k", "a1", "a3", OK, 30, 40),
	}
	r, err := CheckLinearizable(ops, 10*time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Linearizable {
		t.Fatalf("result %+v, want not linearizable", r)
	}
}

// A check that runs out of its budget is a failure, not a pass.
func TestCheckTimeoutIsFailure(t *testing.T) {
	const n = 3000
	var ops []Op
	// One chain of CASes, all concurrent, called in the reverse of the only
	// order that explains them: the search has to work for it.
	val := func(i int) string {
		if i == n {
			return ""
		}
		return "v" + strconv.Itoa(i)
	}
	for i := 0; i < n; i++ {
		ops = append(ops, op(i%50, OpCAS, "k", val(i+1), val(i), OK, int64(i), int64(10*n+i)))
	}
	r, err := CheckLinearizable(ops, time.Microsecond, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Result != "Unknown" || r.Linearizable {
		t.Fatalf("result %+v, want Unknown and not linearizable", r)
	}
}
