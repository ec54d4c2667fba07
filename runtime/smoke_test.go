package runtime_test

import (
	"testing"

	"github.com/steward/steward/runtime"
	"github.com/steward/steward/spec"
)

func TestSmoke(t *testing.T) {
	e := newEnv(t)
	pid := e.spawn("counter", nil)
	e.cast(pid, "inc")
	e.cast(pid, "inc 5")
	if got := e.call(pid, "get"); got != "6" {
		t.Fatalf("count %s", got)
	}
	e.apply(tree("t1", spec.OneForOne, worker("c1", "counter"), sup("sub", spec.OneForAll, worker("k", "kv")), worker("c2", "echo")))
	c1 := e.resolve("t1", "c1")
	k := e.resolve("t1", "sub/k")
	e.call(k, "put a 1")
	if got := e.call(k, "get a"); got != "1" {
		t.Fatalf("kv %s", got)
	}
	if err := e.rt.Kill(c1, ""); err != nil {
		t.Fatal(err)
	}
	e.awaitChild(runtime.EventRestarted, "t1", "c1")
	if e.resolve("t1", "c1") == c1 {
		t.Fatal("not restarted")
	}
	e.valid()
	t.Log(e.rt.Processes())
}
