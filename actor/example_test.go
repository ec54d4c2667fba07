package actor_test

import (
	"context"
	"fmt"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/spec"
)

func newExampleRuntime() *actor.Runtime {
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Catalog = behaviors.NewCatalog()
	rt, err := actor.New(cfg)
	if err != nil {
		panic(err)
	}
	return rt
}

// A tree from a spec: start it, reach a nested child by path, update the
// tree in place.
func ExampleRuntime_ApplyTree() {
	ctx := context.Background()
	rt := newExampleRuntime()
	defer rt.Shutdown(ctx)

	t := spec.Tree{Name: "app", SupervisorSpec: spec.SupervisorSpec{
		Strategy: spec.OneForOne, MaxRestarts: 3, MaxSeconds: 5,
		Children: []spec.ChildSpec{
			{ID: "hits", Behavior: "counter", Name: "hits"},
			{ID: "cache", Type: spec.Supervisor, SupervisorSpec: spec.SupervisorSpec{
				Strategy: spec.OneForAll,
				Children: []spec.ChildSpec{{ID: "kv", Behavior: "kv"}},
			}},
		},
	}}
	if err := rt.ApplyTree(ctx, t); err != nil {
		fmt.Println(err)
		return
	}
	kv, _ := rt.Resolve(actor.Target{Tree: "app", Path: "cache/kv"})
	rt.Call(ctx, kv, actor.Message{Body: []byte("put color blue")})
	v, _ := rt.Call(ctx, kv, actor.Message{Body: []byte("get color")})
	fmt.Println("cache/kv is", kv, "color =", string(v))

	// Add a child; the others keep their processes.
	t.Children = append(t.Children, spec.ChildSpec{ID: "echo", Behavior: "echo"})
	rt.ApplyTree(ctx, t)
	same, _ := rt.Resolve(actor.Target{Tree: "app", Path: "cache/kv"})
	info, _ := rt.Tree("app")
	fmt.Println("kv untouched:", same == kv, "processes:", info.Processes)

	// A refused spec changes nothing.
	t.Children[0].Behavior = "no-such-behavior"
	err := rt.ApplyTree(ctx, t)
	fmt.Println(err != nil, rt.ProcessCount())
	// Output:
	// cache/kv is n1/4 color = blue
	// kv untouched: true processes: 5
	// true 5
}

// Processes, calls and casts with the native behaviors.
func ExampleRuntime_Call() {
	ctx := context.Background()
	rt := newExampleRuntime()
	defer rt.Shutdown(ctx)

	c, _ := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "counter", Args: map[string]string{"start": "40"}})
	rt.Cast(c, actor.Message{Body: []byte("inc 2")})
	n, _ := rt.Call(ctx, c, actor.Message{Body: []byte("get")})
	fmt.Println(c, "counts", string(n))

	rt.Kill(c, "")
	_, err := rt.Call(ctx, c, actor.Message{Body: []byte("get")})
	fmt.Println(err)
	// Output:
	// n1/1 counts 42
	// process not alive: n1/1 has exited
}

// Watching a supervisor restart a crashed child.
func ExampleRuntime_Subscribe() {
	ctx := context.Background()
	rt := newExampleRuntime()
	defer rt.Shutdown(ctx)
	rt.ApplyTree(ctx, spec.Tree{Name: "t", SupervisorSpec: spec.SupervisorSpec{
		Children: []spec.ChildSpec{{ID: "w", Behavior: "crasher"}},
	}})

	sub := rt.Subscribe(16)
	defer sub.Close()
	w, _ := rt.Resolve(actor.Target{Tree: "t", Path: "w"})
	rt.Cast(w, actor.Message{Body: []byte("crash")})
	for ev := range sub.C {
		fmt.Printf("%s %s/%s %q\n", ev.Type, ev.Tree, ev.ChildID, ev.Reason)
		if ev.Type == actor.EventRestarted {
			break
		}
	}
	// Output:
	// exited t/w "crash"
	// spawned t/w ""
	// restarted t/w "crash"
}

// Target strings as the CLI takes them.
func ExampleParseTarget() {
	for _, s := range []string{"n1/7", "hits", "app/cache/kv", "tree:app"} {
		t, _ := actor.ParseTarget(s)
		fmt.Println(t)
	}
	// Output:
	// pid:n1/7
	// name:hits
	// tree:app/cache/kv
	// tree:app
}

// A consistency check of the whole runtime.
func ExampleRuntime_Validate() {
	ctx := context.Background()
	rt := newExampleRuntime()
	defer rt.Shutdown(ctx)
	a, _ := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "echo"})
	b, _ := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "echo", Link: a})
	rt.Monitor(a, b)
	rep := rt.Validate(ctx)
	fmt.Println(rep.Checked, rep.OK())
	// Output:
	// 2 true
}
