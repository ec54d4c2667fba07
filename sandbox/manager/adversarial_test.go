package manager_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox/manager"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// newModuleFixture is newFixture with the module store, and the abuse,
// bigmem and files modules pushed (hotcode/testdata).
func newModuleFixture(t *testing.T) *fixture {
	t.Helper()
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		sb := manager.DefaultConfig()
		sb.ResyncInterval = 200 * time.Millisecond
		coord := coordination.DefaultConfig()
		mods := store.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(),
			Coordination: &coord, Modules: &mods, Sandboxes: &sb}
	}))
	c.WaitForLeader()
	f := &fixture{t: t, c: c, ctx: testkit.Ctx(t, 120*time.Second)}
	for _, m := range []string{"abuse", "bigmem", "files"} {
		bin, err := os.ReadFile("../../hotcode/testdata/sandbox-" + m + ".wasm")
		if err != nil {
			t.Fatal(err)
		}
		safety := "moderate"
		if m == "files" {
			safety = "permissive" // it imports WASI
		}
		f.push(m, safety, bin)
	}
	return f
}

func (f *fixture) push(name, safety string, bin []byte) {
	f.t.Helper()
	f.c.Eventually(30*time.Second, func() error {
		up, err := pb.NewModulesClient(f.c.Conn(0)).Push(f.ctx)
		if err != nil {
			return err
		}
		if err := up.Send(&pb.ModulePushChunk{Name: name, Safety: safety, PushedBy: "test", Data: bin}); err != nil {
			return err
		}
		_, err = up.CloseAndRecv()
		return err
	}, "push %s", name)
	for _, n := range f.c.Live() {
		f.c.Eventually(20*time.Second, func() error {
			if !f.c.Stack(n.Name()).Modules.Loaded(name, "1") {
				return fmt.Errorf("%s has not loaded %s@1", n.Name(), name)
			}
			return nil
		}, "%s@1 loaded", name)
	}
}

func (f *fixture) call(rt *actor.Runtime, tree, path string, body string) ([]byte, error) {
	pid, err := rt.Resolve(actor.Target{Tree: tree, Path: path})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	return rt.Call(ctx, pid, actor.Message{Body: []byte(body)})
}

// A module whose memory minimum is over the sandbox's memory limit is
// refused at creation, before anything is committed.
func TestSandboxModuleOverMemoryCapRefused(t *testing.T) {
	f := newModuleFixture(t)
	file := `
name = "big"
limits { max_memory_bytes = 1048576 }
tree {
  child "m" { module = "bigmem@1" }
}
`
	_, err := f.sandboxes(1).Create(f.ctx, &pb.CreateSandboxRequest{File: []byte(file), Filename: "sb.hcl"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "bigmem") || !strings.Contains(err.Error(), "4194304") {
		t.Fatalf("create with a module over the cap: %v", err)
	}
	if list, err := f.sandboxes(0).List(f.ctx, &pb.ListSandboxesRequest{}); err != nil || len(list.Sandboxes) != 0 {
		t.Fatalf("after the refusal: %v %v", list, err)
	}
}

// Hostile guests in a sandbox created through the cluster: a runaway loop
// stopped at its deadline, a memory.grow bomb stopped at the cap, a send
// across a strict boundary refused and recorded; the neighbouring sandbox
// on the same node keeps serving throughout.
func TestSandboxHostileModules(t *testing.T) {
	f := newModuleFixture(t)
	node := f.c.Node(1).Name()
	abuser := fmt.Sprintf(`
name      = "abuser"
node      = "%s"
isolation = "strict"
response  = "log"
limits {
  max_memory_bytes = 2097152
  message_deadline = "100ms"
  cpu_percent      = 20
}
tree {
  max_restarts = 1000
  max_seconds  = 1
  child "a" { module = "abuse@1" }
}
`, node)
	calm := fmt.Sprintf(echoSandbox, "calm", node, "calm")
	for _, file := range []string{abuser, calm} {
		if _, err := f.sandboxes(0).Create(f.ctx, &pb.CreateSandboxRequest{File: []byte(file), Filename: "sb.hcl"}); err != nil {
			t.Fatal(err)
		}
	}
	rt := f.runtime(1)

	// The neighbour is called all along, from another goroutine.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls int
	var callErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.call(rt, "calm", "echo", "ping"); err != nil {
				callErr = err
				return
			}
			calls++
		}
	}()

	// A runaway loop: the call fails when the guest is stopped at its
	// deadline; the supervisor restarts it.
	if _, err := f.call(rt, "abuser", "a", "L"); err == nil {
		t.Fatal("a guest looping forever answered")
	}
	// A memory.grow bomb: growth stops at the cap (2 MiB = 32 pages).
	var reply []byte
	f.c.Eventually(10*time.Second, func() error {
		var err error
		reply, err = f.call(rt, "abuser", "a", "G")
		return err
	}, "the grow bomb's answer")
	if pages := binary.LittleEndian.Uint64(reply); pages > 32 {
		t.Fatalf("memory grew to %d pages, over the 32-page cap", pages)
	}
	// A send across the strict boundary is refused and recorded.
	outside, err := rt.Resolve(actor.Target{Tree: "calm", Path: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	// The grow bomb's child may be restarting still (its violation's
	// response): the send is tried once it answers.
	f.c.Eventually(10*time.Second, func() error {
		var err error
		reply, err = f.call(rt, "abuser", "a", "S"+outside.String())
		return err
	}, "the boundary send's answer")
	if sent := binary.LittleEndian.Uint32(reply); sent != 0 {
		t.Fatalf("%d sends crossed a strict boundary", sent)
	}
	close(stop)
	wg.Wait()
	if callErr != nil || calls == 0 {
		t.Fatalf("the neighbour stopped serving: %d calls, then %v", calls, callErr)
	}

	// The violations, read from another node.
	f.c.Eventually(10*time.Second, func() error {
		v, err := f.sandboxes(2).Violations(f.ctx, &pb.SandboxLiveRequest{Name: "abuser"})
		if err != nil {
			return err
		}
		kinds := map[string]bool{}
		for _, x := range v.View.Fields["violations"].GetListValue().GetValues() {
			kinds[x.GetStructValue().Fields["kind"].GetStringValue()] = true
		}
		for _, k := range []string{"message_deadline", "boundary"} {
			if !kinds[k] {
				return fmt.Errorf("no %s violation among %v", k, kinds)
			}
		}
		return nil
	}, "the abuser's violations")
	// verify: the message isolation held (the crossing was refused); the
	// resource check fails, naming the deadline.
	rep, err := f.sandboxes(0).Verify(f.ctx, &pb.SandboxLiveRequest{Name: "abuser"})
	if err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]string{}
	for _, c := range rep.View.Fields["checks"].GetListValue().GetValues() {
		fs := c.GetStructValue().Fields
		verdicts[fs["name"].GetStringValue()] = fs["verdict"].GetStringValue()
	}
	if verdicts["message_isolation"] != "pass" || verdicts["resource_isolation"] != "fail" || verdicts["code_isolation"] != "pass" {
		t.Fatalf("verify verdicts %v", verdicts)
	}
	calmRep, err := f.sandboxes(0).Verify(f.ctx, &pb.SandboxLiveRequest{Name: "calm"})
	if err != nil {
		t.Fatal(err)
	}
	if got := calmRep.View.Fields["verdict"].GetStringValue(); got != "pass" {
		t.Fatalf("the neighbour's verdict: %s (%v)", got, calmRep.View)
	}
}

// A running auto-placed sandbox whose node fails is placed on another
// node and runs there (ReplaceAfter is 500 ms in the fixture).
func TestSandboxReplacedWhenItsNodeFails(t *testing.T) {
	f := newFixture(t)
	v, err := f.sandboxes(0).Create(f.ctx, &pb.CreateSandboxRequest{File: []byte(fmt.Sprintf(echoSandbox, "mover", "auto", "mover")), Filename: "sb.hcl"})
	if err != nil {
		t.Fatal(err)
	}
	// Its node fails, the leader perhaps: the leader then (a new one)
	// moves it.
	from := v.Sandbox.Node
	f.c.Kill(f.c.Index(from))
	leader := f.c.Leader()
	f.c.Eventually(30*time.Second, func() error {
		sb, err := leader.State().Sandbox("mover")
		if err != nil || sb == nil {
			return fmt.Errorf("record: %v %v", sb, err)
		}
		if sb.Node == from || sb.Status != "running" {
			return fmt.Errorf("on %s, %s", sb.Node, sb.Status)
		}
		if _, err := f.runtime(f.c.Index(sb.Node)).SandboxStatus("mover"); err != nil {
			return err
		}
		return nil
	}, "mover re-placed off %s", from)
}

// WASI only in a permissive sandbox, with its directory under the node's
// data dir; destroy removes the files with the rest.
func TestSandboxWASIFilesRemovedWithTheSandbox(t *testing.T) {
	f := newModuleFixture(t)
	file := func(name, isolation string) []byte {
		return []byte(fmt.Sprintf(`
name      = "%s"
node      = "n2"
isolation = "%s"
limits { max_file_handles = 4 }
tree {
  child "w" { module = "files@1" }
}
`, name, isolation))
	}
	if _, err := f.sandboxes(0).Create(f.ctx, &pb.CreateSandboxRequest{File: file("wasi-strict", "strict"), Filename: "sb.hcl"}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "WASI") {
		t.Fatalf("a WASI module in a strict sandbox: %v", err)
	}
	if _, err := f.sandboxes(0).Create(f.ctx, &pb.CreateSandboxRequest{File: file("wasi-ok", "permissive"), Filename: "sb.hcl"}); err != nil {
		t.Fatal(err)
	}
	rt := f.runtime(1)
	for i := 0; i < 6; i++ {
		reply, err := f.call(rt, "wasi-ok", "w", fmt.Sprintf("f%d", i))
		if err != nil {
			t.Fatal(err)
		}
		// The preopen counts as one: 3 files open, then EAGAIN (6).
		if want := map[bool]byte{true: 0, false: 6}[i < 3]; reply[0] != want {
			t.Fatalf("open %d: errno %d, want %d", i, reply[0], want)
		}
	}
	dir := filepath.Join(f.c.Config(1).DataDir, "wasi", "_sandboxes", "wasi-ok")
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 3 {
		t.Fatalf("files under %s: %v", dir, files)
	}
	if _, err := f.sandboxes(2).Destroy(f.ctx, &pb.DestroySandboxRequest{Name: "wasi-ok"}); err != nil {
		t.Fatal(err)
	}
	f.nowhere("wasi-ok")
	f.c.Eventually(10*time.Second, func() error {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			return fmt.Errorf("%s: %v", dir, err)
		}
		return nil
	}, "the sandbox's files removed")
}
