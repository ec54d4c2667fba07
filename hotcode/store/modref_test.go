package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// exampleModule reads examples/modules/FILE.
func exampleModule(t *testing.T, file string) []byte {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join("..", "..", "examples", "modules", file))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestModuleVersionRule: spec's module version rule (ParseModuleRef,
// which spec keeps because it sits below hotcode) is hotcode's.
func TestModuleVersionRule(t *testing.T) {
	for _, v := range []string{"", "0", "1", "3", "10", "01", "1.2", "1.2.0", "1.2.3.4", "1.2.3.4.5", "1..2", ".1", "1.",
		"v1", "1a", "123456789", "1234567890", "4294967295", "-1", "+1", " 1", "1.02", "0.0.0.0"} {
		_, err := hotcode.CompareVersions(v, v)
		if got, want := spec.ValidModuleVersion(v), err == nil; got != want {
			t.Errorf("version %q: spec says %v, hotcode %v (%v)", v, got, want, err)
		}
	}
}

// A tree naming module = "counter" starts on the active version and one
// naming "counter@2" on version 2; the leader refuses a ref to a module or
// version not stored, committing nothing; a killed process restarts on
// the version its ref resolves to; moving the active record (committed
// directly, as a deployment would) makes new starts follow while running
// processes stay on theirs, and leaves pinned refs alone.
func TestModuleRefsOnCluster(t *testing.T) {
	c := newCluster(t)
	leader := c.WaitForLeader()
	ctx := testkit.Ctx(t, 90*time.Second)
	mods := pb.NewModulesClient(c.Conn(0))
	for _, bin := range [][]byte{exampleModule(t, "counter-v1.wasm"), exampleModule(t, "counter-v2.wasm")} {
		if _, err := push(ctx, mods, "counter", "", bin); err != nil {
			t.Fatalf("push: %v", err)
		}
	}
	runOn := c.Node(1).Name()
	c.Eventually(10*time.Second, func() error {
		for _, v := range []string{"1", "2"} {
			if !c.Stack(runOn).Modules.Loaded("counter", v) {
				return fmt.Errorf("%s has not loaded counter@%s", runOn, v)
			}
		}
		return nil
	}, "both versions loaded")
	if a, err := leader.State().ModuleActive("counter"); err != nil || a == nil || a.Version != "1" {
		t.Fatalf("active %+v (%v), want version 1 (the first pushed)", a, err)
	}

	sup := pb.NewSupervisionClient(c.Conn(2))
	apply := func(src string) error {
		return retry(ctx, func() error {
			_, err := sup.ApplyTree(ctx, &pb.ApplyTreeRequest{Spec: []byte(src), Filename: "spec.hcl"})
			return err
		})
	}
	treeSpec := func(name string, children ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "tree %q {\n  node = %q\n  max_restarts = 10\n", name, runOn)
		for i := 0; i+1 < len(children); i += 2 {
			fmt.Fprintf(&b, "  child %q { module = %q }\n", children[i], children[i+1])
		}
		b.WriteString("}\n")
		return b.String()
	}

	// Refused by the leader's validation: nothing is committed.
	for _, tt := range []struct{ ref, want string }{
		{"nope", `children[0].module: unknown module: module "nope": no module "nope" in the store`},
		{"counter@9", `children[0].module: unknown module: module "counter@9": module "counter" has no version "9" in the store (stored: 1, 2)`},
		{"counter@01", `children[0].module: "counter@01": version "01" must be`},
	} {
		err := apply(treeSpec("refused", "f", tt.ref))
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.want) {
			t.Fatalf("apply with module %q: %v, want InvalidArgument with %q", tt.ref, err, tt.want)
		}
	}
	if rec, err := leader.State().Tree("refused"); err != nil || rec != nil {
		t.Fatalf("a refused tree was committed: %+v (%v)", rec, err)
	}

	if err := apply(treeSpec("tally", "f", "counter", "p1", "counter@1", "p2", "counter@2")); err != nil {
		t.Fatalf("apply: %v", err)
	}
	rt := pb.NewRuntimeClient(c.Conn(0))
	proc := func(tree, path string) (*pb.ProcessInfo, error) {
		return rt.GetProcess(ctx, &pb.ProcessRequest{Ref: &pb.ProcessRef{Tree: tree, Path: path}})
	}
	// runs waits until tree/path runs behavior with the module ref; it
	// returns the PID.
	runs := func(tree, path, behavior, module string) string {
		t.Helper()
		var pid string
		c.Eventually(15*time.Second, func() error {
			p, err := proc(tree, path)
			if err != nil {
				return err
			}
			if p.Behavior != behavior || p.Module != module || p.Status != "running" {
				return fmt.Errorf("%s/%s is %s %s (module %q), want %s (module %q)", tree, path, p.Pid, p.Behavior, p.Module, behavior, module)
			}
			pid = p.Pid
			return nil
		}, "%s/%s on %s", tree, path, behavior)
		return pid
	}
	// restartOn kills tree/path, running from, and waits for its
	// supervisor to start it again on behavior.
	local := c.Stack(runOn).Runtime
	restartOn := func(tree, path, from, behavior, module string) {
		t.Helper()
		old := runs(tree, path, from, module)
		pid, err := local.Resolve(actor.Target{Tree: tree, Path: path})
		if err != nil || pid.String() != old {
			t.Fatalf("resolve %s/%s: %v %v", tree, path, pid, err)
		}
		if err := local.Kill(pid, "boom"); err != nil {
			t.Fatal(err)
		}
		c.Eventually(15*time.Second, func() error {
			p, err := proc(tree, path)
			if err != nil {
				return err
			}
			if p.Pid == old {
				return fmt.Errorf("%s/%s not restarted yet", tree, path)
			}
			return nil
		}, "%s/%s restarted", tree, path)
		runs(tree, path, behavior, module)
	}

	f := runs("tally", "f", "wasm:counter@1", "counter")
	runs("tally", "p1", "wasm:counter@1", "counter@1")
	p2 := runs("tally", "p2", "wasm:counter@2", "counter@2")
	restartOn("tally", "f", "wasm:counter@1", "wasm:counter@1", "counter")
	f = runs("tally", "f", "wasm:counter@1", "counter")

	// A deployment moves the active record.
	if _, err := leader.Propose(ctx, pb.CommandType_COMMAND_TYPE_MODULE_ACTIVATE, &pb.ModuleActivateCommand{Name: "counter", Version: "2"}); err != nil {
		t.Fatalf("activate: %v", err)
	}
	c.Eventually(10*time.Second, func() error {
		if a, err := c.Node(1).State().ModuleActive("counter"); err != nil || a == nil || a.Version != "2" {
			return fmt.Errorf("%s: active %+v (%v)", runOn, a, err)
		}
		return nil
	}, "the activation applied on %s", runOn)

	// New starts follow it: a new tree, and f's next restart.
	if err := apply(treeSpec("fresh", "g", "counter")); err != nil {
		t.Fatalf("apply: %v", err)
	}
	runs("fresh", "g", "wasm:counter@2", "counter")
	// Running processes stay as they are.
	if got := runs("tally", "f", "wasm:counter@1", "counter"); got != f {
		t.Fatalf("f moved from %s to %s", f, got)
	}
	if got := runs("tally", "p2", "wasm:counter@2", "counter@2"); got != p2 {
		t.Fatalf("p2 moved from %s to %s", p2, got)
	}
	restartOn("tally", "f", "wasm:counter@1", "wasm:counter@2", "counter")
	// Pinned refs are left alone.
	restartOn("tally", "p1", "wasm:counter@1", "wasm:counter@1", "counter@1")
	restartOn("tally", "p2", "wasm:counter@2", "wasm:counter@2", "counter@2")

	// A pinned version is protected: it cannot be deleted while the tree
	// runs it.
	err := retry(ctx, func() error {
		_, err := mods.Delete(ctx, &pb.DeleteModuleRequest{Name: "counter", Version: "1"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "tree tally runs it") {
		t.Fatalf("delete of a pinned version: %v", err)
	}
}
