package hotcode_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/hotcode"
)

// Migrate converts a copy of a live state on throwaway instances, up by
// the new version's code_change and down by the newer one's, exactly as a
// code change would, and frees them; the process keeps its version, state
// and instance. A trapping code_change, a downgrade the newer version does
// not support and a behavior that is not a module's are errors.
func TestMigrate(t *testing.T) {
	h := newHost(t, nil)
	v1 := compile(t, h, counterV1(t))
	v2 := compile(t, h, counterV2(t))
	rt, _ := newRuntime(t, h, v1, v2)
	ctx := actortest.Context(t)
	p := spawn(t, rt, "counter@1", nil)
	cast(t, rt, p, "inc 15")
	live, err := rt.GetState(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if h.Instances() != 1 {
		t.Fatalf("%d instances before, want the process's", h.Instances())
	}

	up, err := v2.Migrate(ctx, "1", live, hotcode.MigrateOptions{})
	if err != nil || string(up) != `{"count":15,"messages":0}` {
		t.Fatalf("up: %q, %v", up, err)
	}
	// The same conversion as the real change produces.
	e, err := rt.Catalog().Lookup("counter@2")
	if err != nil {
		t.Fatal(err)
	}
	nb, err := e.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := hotcode.Migrate(ctx, nb, "1", live); err != nil || string(again) != string(up) {
		t.Fatalf("through the catalog entry: %q, %v", again, err)
	}
	down, err := v1.Migrate(ctx, "2", []byte(`{"count":20,"messages":3}`), hotcode.MigrateOptions{})
	if err != nil || string(down) != `{"count":20}` {
		t.Fatalf("down: %q, %v", down, err)
	}
	if h.Instances() != 1 {
		t.Fatalf("%d instances after, want the process's only: the throwaway ones were not freed", h.Instances())
	}
	info, err := rt.Process(p)
	if err != nil || info.Behavior != "counter@1" || info.Version != "1" {
		t.Fatalf("the process after: %+v, %v", info, err)
	}
	if got := state(t, rt, p); got != `{"count":15}` {
		t.Fatalf("the process's state after: %s", got)
	}

	f := newFixture("counter")
	f.manifest.Version = "5"
	f.bodies["code_change"] = opUnreachable
	bad := compile(t, h, f.bytes())
	if _, err := bad.Migrate(ctx, "1", live, hotcode.MigrateOptions{}); err == nil || !strings.Contains(err.Error(), "code_change: wasm error: unreachable") {
		t.Fatalf("trapping code_change: %v", err)
	}
	v3 := compile(t, h, remanifest(t, counterV2(t), func(m *hotcode.Manifest) { m.Version = "3"; m.SupportsDowngrade = false }))
	if _, err := v1.Migrate(ctx, "3", []byte(`{"count":1,"messages":0}`), hotcode.MigrateOptions{}); !errors.Is(err, hotcode.ErrNoDowngrade) {
		t.Fatalf("down from %s without downgrade support: %v", v3.Ref(), err)
	}
	if _, err := v2.Migrate(ctx, "1", live, hotcode.MigrateOptions{Args: map[string]string{"bogus": "1"}}); !errors.Is(err, actor.ErrBadArgs) {
		t.Fatalf("unknown args: %v", err)
	}
	native, err := behaviors.NewCatalog().Lookup("counter")
	if err != nil {
		t.Fatal(err)
	}
	nat, err := native.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hotcode.Migrate(ctx, nat, "1", live); !errors.Is(err, hotcode.ErrBadOptions) {
		t.Fatalf("a native behavior: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := v2.Migrate(cctx, "1", live, hotcode.MigrateOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled context: %v", err)
	}
	if h.Instances() != 1 {
		t.Fatalf("%d instances after the failures, want 1", h.Instances())
	}
}
