package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func counterV1(t *testing.T) []byte {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join("..", "..", "examples", "modules", "counter-v1.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func newCluster(t *testing.T) *testkit.Cluster {
	t.Helper()
	return testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		mods := store.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Modules: &mods}
	}))
}

// transient reports whether an error says nothing was decided: no leader
// yet, or leadership lost mid-commit (a push, idempotent, is sent again).
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted:
		return true
	}
	return false
}

// retry runs f again while it fails with a transient error, until ctx ends.
func retry(ctx context.Context, f func() error) error {
	var last error
	err := poll.Until(ctx, clock.System(), poll.Doubling(10*time.Millisecond, 320*time.Millisecond), func() (bool, error) {
		last = f()
		return !transient(last), nil
	})
	if last == nil {
		return err
	}
	return last
}

// push sends bin in messages of at most 4 KiB, so the stream has several;
// a transient failure (an election under load) is tried again.
func push(ctx context.Context, c pb.ModulesClient, name, safety string, bin []byte) (*pb.ModulePushResponse, error) {
	var resp *pb.ModulePushResponse
	err := retry(ctx, func() error {
		var err error
		resp, err = pushOnce(ctx, c, name, safety, bin)
		return err
	})
	return resp, err
}

func pushOnce(ctx context.Context, c pb.ModulesClient, name, safety string, bin []byte) (*pb.ModulePushResponse, error) {
	up, err := c.Push(ctx)
	if err != nil {
		return nil, err
	}
	first := true
	for first || len(bin) > 0 {
		n := min(len(bin), 4096)
		m := &pb.ModulePushChunk{Data: bin[:n]}
		if first {
			m.Name, m.Safety, m.PushedBy, first = name, safety, "test", false
		}
		if err := up.Send(m); err != nil {
			return nil, err
		}
		bin = bin[n:]
	}
	return up.CloseAndRecv()
}

func stored(ctx context.Context, c pb.ModulesClient) (string, error) {
	resp, err := c.List(ctx, &pb.ListModulesRequest{})
	if err != nil {
		return "", err
	}
	var out []string
	for _, m := range resp.Modules {
		out = append(out, fmt.Sprintf("%s active=%s versions=%d", m.Name, m.Active, m.Versions))
	}
	return strings.Join(out, "; "), nil
}

// A module pushed to a follower is validated and committed by the leader,
// listed on every node, loaded into every node's catalog; the same bytes
// again change nothing; bad modules are refused with their reasons and
// nothing is stored; a tree running the stored module starts on another
// node than the one pushed to and answers calls; a version a tree runs,
// or the active one, cannot be deleted.
func TestPushListRunDelete(t *testing.T) {
	c := newCluster(t)
	leader := c.WaitForLeader()
	var pushTo, runOn int
	for i := 0; i < c.Size(); i++ {
		if c.Node(i).Name() != leader.Name() {
			pushTo = i
			break
		}
	}
	runOn = (pushTo + 1) % c.Size()
	ctx := testkit.Ctx(t, 60*time.Second)
	mods := pb.NewModulesClient(c.Conn(pushTo))
	bin := counterV1(t)

	// Refused: another name than the manifest's, and bytes that are not wasm.
	_, err := push(ctx, mods, "ticker", "", bin)
	if err == nil || !strings.Contains(err.Error(), "name:") || !strings.Contains(err.Error(), "refused at moderate") {
		t.Fatalf("push under another name: %v, want a refusal naming the name check", err)
	}
	_, err = push(ctx, mods, "junk", "strict", []byte("not a wasm module at all"))
	if err == nil || !strings.Contains(err.Error(), "binary: bad wasm binary") {
		t.Fatalf("push of junk: %v, want a refusal naming the binary check", err)
	}
	if got, err := stored(ctx, mods); err != nil || got != "" {
		t.Fatalf("after refusals the store holds %q (%v), want nothing", got, err)
	}

	resp, err := push(ctx, mods, "counter", "moderate", bin)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if resp.Unchanged || resp.Module.Id != "counter@1" || resp.Module.Size != uint64(len(bin)) || resp.Module.Safety != "moderate" || len(resp.Module.Capabilities) == 0 {
		t.Fatalf("push answered %+v", resp)
	}
	for i := 0; i < c.Size(); i++ {
		cl := pb.NewModulesClient(c.Conn(i))
		c.Eventually(10*time.Second, func() error {
			got, err := stored(ctx, cl)
			if err != nil {
				return err
			}
			if want := "counter active=1 versions=1"; got != want {
				return fmt.Errorf("%s lists %q, want %q", c.Node(i).Name(), got, want)
			}
			if !c.Stack(c.Node(i).Name()).Modules.Loaded("counter", "1") {
				return fmt.Errorf("%s has not loaded counter@1", c.Node(i).Name())
			}
			return nil
		}, "module listed and loaded on every node")
	}
	tables := func() uint64 { return leader.State().TableIndex("modules", "module_chunks", "module_active") }
	index := tables()
	again, err := push(ctx, pb.NewModulesClient(c.Conn(runOn)), "counter", "moderate", bin)
	if err != nil || !again.Unchanged || again.Module.Sha256 != resp.Module.Sha256 {
		t.Fatalf("re-push: %+v, %v; want unchanged", again, err)
	}
	if after := tables(); after != index { // nothing committed to the module tables
		t.Fatalf("re-push moved the module tables from index %d to %d", index, after)
	}

	// A tree on another node than the one pushed to runs the stored module.
	sup := pb.NewSupervisionClient(c.Conn(pushTo))
	spec := fmt.Sprintf(`tree "wasmweb" {
  node = %q
  strategy = "one_for_one"
  child "c1" {
    behavior = "wasm:counter@1"
  }
}`, c.Node(runOn).Name())
	if err := retry(ctx, func() error {
		_, err := sup.ApplyTree(ctx, &pb.ApplyTreeRequest{Spec: []byte(spec), Filename: "spec.hcl"})
		return err
	}); err != nil {
		t.Fatalf("apply tree: %v", err)
	}
	rt := pb.NewRuntimeClient(c.Conn(pushTo))
	ref := &pb.ProcessRef{Tree: "wasmweb", Path: "c1"}
	c.Eventually(15*time.Second, func() error {
		_, err := rt.Send(ctx, &pb.SendRequest{Ref: ref, Kind: "cast", Body: []byte("inc 5")})
		return err
	}, "the wasm process runs")
	c.Eventually(10*time.Second, func() error {
		r, err := rt.Send(ctx, &pb.SendRequest{Ref: ref, Kind: "call", Body: []byte("get")})
		if err != nil {
			return err
		}
		if string(r.Reply) != "5" {
			return fmt.Errorf("get answered %q, want 5", r.Reply)
		}
		return nil
	}, "the count")
	info, err := rt.GetProcess(ctx, &pb.ProcessRequest{Ref: ref})
	if err != nil || !strings.HasPrefix(info.Pid, c.Node(runOn).Name()+"/") {
		t.Fatalf("process %+v (%v), want it on %s", info, err, c.Node(runOn).Name())
	}

	ins, err := mods.Inspect(ctx, &pb.InspectModuleRequest{Name: "counter", Version: "1"})
	if err != nil || !ins.Active || len(ins.PinnedBy) != 1 || ins.PinnedBy[0] != "wasmweb" {
		t.Fatalf("inspect: %+v, %v", ins, err)
	}
	err = retry(ctx, func() error {
		_, err := mods.Delete(ctx, &pb.DeleteModuleRequest{Name: "counter", Version: "1"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "tree wasmweb runs it") {
		t.Fatalf("delete of a version a tree runs: %v", err)
	}
	if err := retry(ctx, func() error {
		_, err := sup.DeleteTree(ctx, &pb.DeleteTreeRequest{Name: "wasmweb"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	err = retry(ctx, func() error {
		_, err := mods.Delete(ctx, &pb.DeleteModuleRequest{Name: "counter", Version: "1"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "active version") {
		t.Fatalf("delete of the active version: %v", err)
	}
}

// Validation events reach the event stream of the node that validated
// (the leader): one refusal naming the failed check, one validation.
func TestPushEvents(t *testing.T) {
	c := newCluster(t)
	leader := c.WaitForLeader()
	ctx := testkit.Ctx(t, 60*time.Second)
	li := c.Index(leader.Name())
	mods := pb.NewModulesClient(c.Conn(li))
	if _, err := push(ctx, mods, "ticker", "", counterV1(t)); err == nil {
		t.Fatal("push under another name was accepted")
	}
	if _, err := push(ctx, mods, "counter", "", counterV1(t)); err != nil {
		t.Fatal(err)
	}
	stream, err := pb.NewRuntimeClient(c.Conn(li)).Events(ctx, &pb.EventsRequest{ // every node: leadership may move under load

		Types: []string{string(store.EventModuleValidated), string(store.EventModuleRefused)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		e, err := stream.Recv()
		if err != nil {
			break
		}
		got = append(got, e.Type+" "+e.Reason+e.Detail)
	}
	var refused, validated int
	for _, e := range got {
		switch {
		case strings.HasPrefix(e, "module_refused") && strings.Contains(e, "name:"):
			refused++
		case strings.HasPrefix(e, "module_validated counter@1"):
			validated++
		}
	}
	if refused != 1 || validated != 1 || len(got) != 2 {
		t.Fatalf("events %q", got)
	}
}

// withPadding appends a custom section of n bytes (not the manifest), so
// the same module takes several chunks.
func withPadding(bin []byte, n int) []byte {
	name := "padding"
	payload := append(appendULEB(nil, uint64(len(name))), name...)
	payload = append(payload, make([]byte, n)...)
	out := append([]byte{}, bin...)
	out = append(out, 0)
	out = appendULEB(out, uint64(len(payload)))
	return append(out, payload...)
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

// A module larger than a chunk, pushed at strict, is stored in chunks and comes back whole on
// every node, a restarted node included; other bytes under the stored
// version are refused and change nothing.
func TestChunkedPushAndRestart(t *testing.T) {
	c := newCluster(t)
	c.WaitForLeader()
	ctx := testkit.Ctx(t, 90*time.Second)
	big := withPadding(counterV1(t), 600<<10)
	resp, err := push(ctx, pb.NewModulesClient(c.Conn(0)), "counter", "strict", big)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Module.Safety != "strict" {
		t.Fatalf("validated at %s, want strict (with its smoke run)", resp.Module.Safety)
	}
	if len(resp.Module.Chunks) != 3 || resp.Module.Size != uint64(len(big)) {
		t.Fatalf("stored in %d chunks, %d bytes; want 3 chunks of %d bytes", len(resp.Module.Chunks), resp.Module.Size, len(big))
	}
	_, err = push(ctx, pb.NewModulesClient(c.Conn(1)), "counter", "", counterV1(t))
	if err == nil || !strings.Contains(err.Error(), "already stored with other bytes") {
		t.Fatalf("other bytes under counter@1: %v", err)
	}
	for i := 0; i < c.Size(); i++ {
		name := c.Node(i).Name()
		c.Eventually(10*time.Second, func() error {
			if !c.Stack(name).Modules.Loaded("counter", "1") {
				return fmt.Errorf("%s has not loaded counter@1", name)
			}
			return nil
		}, "loaded everywhere")
		v, err := c.Node(i).State().ModuleVersion("counter", "1")
		if err != nil || v == nil {
			t.Fatalf("%s: %v", name, err)
		}
		data, err := c.Node(i).State().ModuleData(v)
		if err != nil || string(data) != string(big) {
			t.Fatalf("%s: the stored bytes differ (%v)", name, err)
		}
	}
	victim := 2
	name := c.Node(victim).Name()
	c.Kill(victim)
	c.Restart(victim)
	c.Eventually(20*time.Second, func() error {
		if !c.Stack(name).Modules.Loaded("counter", "1") {
			return fmt.Errorf("restarted %s has not loaded counter@1", name)
		}
		return nil
	}, "loaded after a restart")
}
