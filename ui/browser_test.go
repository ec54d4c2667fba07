package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// The browser tests drive Debian's headless Chromium (chromiumPath;
// scripts/install-browser.sh installs it, and make test runs that first)
// against a 3-node in-process cluster whose agents serve the dashboard.
//
// Screenshots of each view go to the test's artifact directory
// (t.ArtifactDir: kept with go test -artifacts). With
// STEWARD_UPDATE_SCREENSHOTS=1 they are also written to docs/ui/, the
// ones docs/OBSERVABILITY.md shows:
//
//	STEWARD_UPDATE_SCREENSHOTS=1 go test -count=1 -run TestDashboardInBrowser ./ui/
const chromiumPath = "/usr/bin/chromium"

// browserDeadline bounds the whole browser test; waitFor bounds each DOM
// condition (generous: the machine may be loaded).
const (
	browserDeadline = 150 * time.Second
	waitFor         = 45 * time.Second
)

// startBrowser starts a fresh headless Chromium, in the background while
// the test starts its cluster, with the flags that keep it off the
// network (no background networking, component updates, sync, QUIC), and
// returns a tab's context; started receives the outcome of the start.
func startBrowser(t *testing.T, ctx context.Context) (tab context.Context, started <-chan error) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Debian's chromium at %s (%v): run scripts/install-browser.sh (make test runs it)", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelTab)
	ch := make(chan error, 1)
	go func() { ch <- chromedp.Do(tab) }() // starts the browser
	return tab, ch
}

// waitJS waits until the JavaScript expression is true in the page,
// re-evaluated at every DOM change, for at most d; on failure the view's
// text is in the message.
func waitJS(t *testing.T, tab context.Context, what, expr string, d time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(d))); err != nil {
		text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: waited %v for %s: %v\npage:\n%s", what, d, expr, err, text)
	}
}

func evalJS[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// goTo changes the page's hash route (no reload).
func goTo(t *testing.T, tab context.Context, hash string) {
	t.Helper()
	evalJS[bool](t, tab, fmt.Sprintf(`(location.hash = %q, true)`, hash))
}

// docShots are the screenshots docs/OBSERVABILITY.md shows.
var docShots = map[string]bool{"members": true, "trees": true, "events": true, "plan": true}

// screenshot saves the page as name.png in the artifact directory, and in
// docs/ui/ with STEWARD_UPDATE_SCREENSHOTS=1.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := []string{t.ArtifactDir()}
	if os.Getenv("STEWARD_UPDATE_SCREENSHOTS") == "1" && docShots[name] {
		dirs = append(dirs, filepath.Join("..", "docs", "ui"))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s.png in %s", name, strings.Join(dirs, ", "))
}

const uiTree = `
tree "shop" {
  strategy     = "one_for_one"
  max_restarts = 10
  max_seconds  = 60
  child "cart" {
    behavior = "counter"
  }
  child "backend" {
    type     = "supervisor"
    strategy = "rest_for_one"
    child "db" {
      behavior = "kv"
    }
    child "cache" {
      behavior = "echo"
    }
  }
}
`

// slowTree's children each take startMS to start, so a plan that kills
// them one after the other runs one phase per restart.
const slowTree = `
tree "slow" {
  strategy     = "one_for_one"
  max_restarts = 10
  max_seconds  = 60
  child "s1" {
    behavior = "slow_start"
    args     = { start_ms = "1500" }
  }
  child "s2" {
    behavior = "slow_start"
    args     = { start_ms = "1500" }
  }
  child "s3" {
    behavior = "slow_start"
    args     = { start_ms = "1500" }
  }
}
`

const slowPlan = `
safety_level = "moderate"
timeout      = "60s"
operation "k1" {
  type = "kill_process"
  target {
    supervisor = "slow"
    child_id   = "s1"
  }
}
operation "k2" {
  type = "kill_process"
  target {
    supervisor = "slow"
    child_id   = "s2"
  }
  depends_on = ["k1"]
}
operation "k3" {
  type = "kill_process"
  target {
    supervisor = "slow"
    child_id   = "s3"
  }
  depends_on = ["k2"]
}
`

// applyTree applies an HCL tree through the gRPC client, as `steward sup
// apply` does, on the node named ("": placed by the leader), retrying
// through a leader change.
func applyTree(t *testing.T, c *testkit.Cluster, src, on string) {
	t.Helper()
	c.Eventually(30*time.Second, func() error {
		_, err := pb.NewSupervisionClient(c.Conn(1)).ApplyTree(testkit.Ctx(t, 10*time.Second), &pb.ApplyTreeRequest{Spec: []byte(src), Filename: "tree.hcl", Node: on})
		return err
	}, "apply tree")
}

// TestDashboardInBrowser: the members view lists the 3 nodes and one
// leader; a tree applied through gRPC appears in the trees view without
// a reload; a killed child's restart shows in its tree (new pid, restart
// count) and in the event stream; a running plan's progress advances in
// its view; a sandbox's interaction graph is drawn. One cluster and one
// browser serve the subtests, in order.
func TestDashboardInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), browserDeadline)
	defer cancel()
	tab, started := startBrowser(t, ctx)
	c := testkit.NewCluster(t, 3,
		testkit.WithConfig(func(cfg *node.Config) { cfg.HTTPAddr = "127.0.0.1:0" }),
		testkit.WithStack(func(string) stack.Config { return stack.DefaultConfig() }))
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	base := "http://" + c.Node(0).HTTPAddr()

	if err := chromedp.Do(tab, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	// "/" redirected to the application, whose live feed connected.
	waitJS(t, tab, "live feed", `location.pathname === "/ui/" && document.querySelector('#live[data-live="open"]') !== null`, waitFor)
	// Set once per page load: still there after a change means no reload.
	evalJS[bool](t, tab, `(window.__loaded = "once", true)`)
	noReload := `window.__loaded === "once"`

	t.Run("members", func(t *testing.T) {
		goTo(t, tab, "#/members")
		waitJS(t, tab, "3 members, one leader", `document.querySelectorAll('#members tr[data-member]').length === 3 &&
			document.querySelectorAll('#members tr[data-role="leader"]').length === 1 &&
			document.querySelectorAll('#members tr[data-role="follower"]').length === 2`, waitFor)
		leader := evalJS[string](t, tab, `document.querySelector('#members tr[data-role="leader"]').dataset.member`)
		if want := c.Leader().Name(); leader != want {
			// A leader change between the two reads is possible, not
			// likely; the page must then show the new one.
			waitJS(t, tab, "the current leader", fmt.Sprintf(`document.querySelector('#members tr[data-role="leader"]')?.dataset.member === %q`, c.Leader().Name()), waitFor)
		}
		screenshot(t, tab, "members")
	})

	t.Run("tree appears live", func(t *testing.T) {
		goTo(t, tab, "#/trees")
		waitJS(t, tab, "the trees view", `document.querySelector('#trees-view h2') !== null && document.querySelector('details.tree[data-tree="shop"]') === null`, waitFor)
		// On n3, while n1 serves the page: its processes are read
		// through n1's gRPC services, forwarded to n3.
		applyTree(t, c, uiTree, "n3")
		waitJS(t, tab, "tree shop running on n3, without a reload", `document.querySelector('div[data-node="n3"] details.tree[data-tree="shop"][data-status="running"]') !== null && `+noReload, waitFor)
	})

	t.Run("restart shows", func(t *testing.T) {
		goTo(t, tab, "#/trees/shop")
		waitJS(t, tab, "shop expanded", `(() => { const li = document.querySelector('details.tree[data-tree="shop"] li[data-child="backend/db"]');
			return li !== null && li.dataset.pid !== "" && li.dataset.state === "running"; })()`, waitFor)
		old := evalJS[string](t, tab, `document.querySelector('details.tree[data-tree="shop"] li[data-child="backend/db"]').dataset.pid`)
		restarts := evalJS[string](t, tab, `document.querySelector('details.tree[data-tree="shop"] li[data-child="backend/db"]').dataset.restarts`)
		if restarts != "0" {
			t.Fatalf("db restarted %s times before the kill", restarts)
		}
		if _, err := pb.NewRuntimeClient(c.Conn(2)).Kill(testkit.Ctx(t, 10*time.Second), &pb.KillRequest{Ref: &pb.ProcessRef{Tree: "shop", Path: "backend/db"}, Reason: "browser test"}); err != nil {
			t.Fatal(err)
		}
		waitJS(t, tab, "db restarted in the tree", fmt.Sprintf(`(() => { const li = document.querySelector('details.tree[data-tree="shop"] li[data-child="backend/db"]');
			return li !== null && li.dataset.pid !== "" && li.dataset.pid !== %q && li.dataset.restarts === "1" && li.dataset.state === "running"; })() && %s`, old, noReload), waitFor)
		screenshot(t, tab, "trees")

		goTo(t, tab, "#/events?kind=restarted")
		waitJS(t, tab, "the restart in the event stream", `document.querySelector('#events tr.event[data-type="restarted"][data-tree="shop"][data-child="backend/db"]') !== null &&
			document.querySelectorAll('#events tr.event:not([data-type="restarted"])').length === 0 && `+noReload, waitFor)
		// The kill itself is in the unfiltered stream, and the event's
		// tree links to its tree.
		goTo(t, tab, "#/events")
		waitJS(t, tab, "the kill in the event stream", `document.querySelector('#events tr.event[data-type="killed"][data-tree="shop"][data-child="backend/db"]') !== null`, waitFor)
		screenshot(t, tab, "events")
		href := evalJS[string](t, tab, `document.querySelector('#events tr.event[data-type="restarted"][data-tree="shop"] a[href^="#/trees/"]').getAttribute("href")`)
		if href != "#/trees/shop" {
			t.Fatalf("the restart event links to %q, want #/trees/shop", href)
		}
		// Filtered by node and text: only that node's events naming db.
		on := evalJS[string](t, tab, `document.querySelector('#events tr.event[data-type="restarted"][data-tree="shop"]').dataset.node`)
		goTo(t, tab, "#/events?node="+on+"&q=backend/db")
		waitJS(t, tab, "the events filtered by node and text", fmt.Sprintf(`(() => { const rows = [...document.querySelectorAll('#events tr.event')];
			return rows.length >= 3 && rows.every((r) => r.dataset.node === %q && r.innerText.includes("backend/db")) &&
				document.querySelector('#events-view select[name="node"]').value === %q &&
				document.querySelector('#events-view input[name="q"]').value === "backend/db"; })()`, on, on), waitFor)
	})

	t.Run("plan progress advances", func(t *testing.T) {
		applyTree(t, c, slowTree, "")
		c.Eventually(60*time.Second, func() error {
			resp, err := pb.NewSupervisionClient(c.Conn(0)).ListTrees(testkit.Ctx(t, 10*time.Second), &pb.ListTreesRequest{Live: true, Name: "slow"})
			if err != nil || len(resp.Trees) != 1 || resp.Trees[0].Status != "running" || resp.Trees[0].Processes != 4 {
				return fmt.Errorf("tree slow not running: %v %v", resp, err)
			}
			return nil
		}, "tree slow running")
		var id string
		c.Eventually(30*time.Second, func() error {
			resp, err := pb.NewCoordinationClient(c.Conn(0)).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(slowPlan), Filename: "slow.hcl"})
			if err != nil {
				return err
			}
			id = resp.Id
			return nil
		}, "apply plan")
		goTo(t, tab, "#/plans/"+id)
		waitJS(t, tab, "the plan's view", fmt.Sprintf(`document.querySelector('#plan[data-plan=%q]') !== null`, id), waitFor)
		screenshot(t, tab, "plan")
		// Record every progress the view renders, as it renders it.
		evalJS[bool](t, tab, `(() => {
			window.__progress = [];
			const note = () => { const p = document.querySelector('#plan');
				if (!p) return;
				const v = p.dataset.status + " " + p.dataset.done + "/" + p.dataset.total;
				if (window.__progress[window.__progress.length - 1] !== v) window.__progress.push(v); };
			new MutationObserver(note).observe(document.getElementById("view"), { childList: true, subtree: true, attributes: true });
			note();
			return true; })()`)
		waitJS(t, tab, "the plan succeeded", fmt.Sprintf(`document.querySelector('#plan[data-plan=%q][data-status="succeeded"]') !== null && `+noReload, id), 90*time.Second)
		seen := evalJS[[]string](t, tab, `window.__progress`)
		total := evalJS[string](t, tab, `document.querySelector('#plan').dataset.total`)
		t.Logf("progress rendered: %v", seen)
		if total == "0" || seen[len(seen)-1] != "succeeded "+total+"/"+total {
			t.Fatalf("last progress %v, want succeeded %s/%s", seen, total, total)
		}
		advanced := false
		for _, v := range seen {
			var done, all int
			if _, err := fmt.Sscanf(v, "running %d/%d", &done, &all); err == nil && done > 0 && done < all {
				advanced = true
			}
		}
		if !advanced {
			t.Fatalf("the view never showed the plan part done while running: %v", seen)
		}
		screenshot(t, tab, "plan-succeeded")
		goTo(t, tab, "#/plans")
		waitJS(t, tab, "the plan in the list", fmt.Sprintf(`document.querySelector('#plans tr[data-plan=%q][data-status="succeeded"] a[href="#/plans/%s"]') !== null`, id, id), waitFor)
	})

	t.Run("sandbox graph", func(t *testing.T) {
		file, err := os.ReadFile(filepath.Join("..", "examples", "sandboxes", "echo.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		c.Eventually(60*time.Second, func() error {
			_, err := pb.NewSandboxesClient(c.Conn(0)).Create(testkit.Ctx(t, 40*time.Second), &pb.CreateSandboxRequest{File: file, Filename: "echo.hcl"})
			if err != nil && !strings.Contains(err.Error(), "exists") {
				return err
			}
			return nil
		}, "create sandbox echo-box")
		// Its pinger pings echo every 200 ms: wait until the flow graph
		// has the edge, then draw it.
		c.Eventually(60*time.Second, func() error {
			resp, err := pb.NewSandboxesClient(c.Conn(0)).Interactions(testkit.Ctx(t, 10*time.Second), &pb.SandboxLiveRequest{Name: "echo-box"})
			if err != nil {
				return err
			}
			if l := resp.GetView().GetFields()["interactions"].GetListValue(); len(l.GetValues()) == 0 {
				return fmt.Errorf("no interactions yet")
			}
			return nil
		}, "echo-box interactions")
		goTo(t, tab, "#/sandboxes/echo-box")
		waitJS(t, tab, "the interaction graph", `document.querySelector('#sandboxes tr[data-sandbox="echo-box"]') !== null &&
			document.querySelectorAll('#interactions svg.graph path.edge').length > 0 &&
			document.querySelector('#interactions svg.graph g[data-vertex="echo-box/pinger"]') !== null &&
			document.querySelector('#interactions svg.graph g[data-vertex="echo-box/echo"]') !== null`, waitFor)
		screenshot(t, tab, "sandbox")
	})

	t.Run("deployments", func(t *testing.T) {
		goTo(t, tab, "#/deployments")
		waitJS(t, tab, "the deployments view", `document.querySelector('#deployments-view h2') !== null && document.querySelector('#deployments-view').innerText.includes("No deployments.")`, waitFor)
		screenshot(t, tab, "deployments")
	})

	// Every JSON endpoint the views read answered; none was refused.
	errs := evalJS[string](t, tab, `JSON.stringify([...document.querySelectorAll(".error")].map((e) => e.textContent))`)
	var list []string
	if err := json.Unmarshal([]byte(errs), &list); err != nil || len(list) != 0 {
		t.Fatalf("errors on the page: %s %v", errs, err)
	}
}

// TestDashboardACLInBrowser: with ACLs on, the page shows the refusal
// (403) and its feed stays closed; a token pasted in the box and
// submitted is kept in localStorage and sent, the members view fills (a
// server leading, a client agent) and the live feed (?token=) opens.
func TestDashboardACLInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), browserDeadline)
	defer cancel()
	tab, started := startBrowser(t, ctx)
	c := testkit.NewCluster(t, 1, testkit.WithACLs(), testkit.WithClients(1),
		testkit.WithConfig(func(cfg *node.Config) { cfg.HTTPAddr = "127.0.0.1:0" }),
		testkit.WithStack(func(string) stack.Config {
			return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig()}
		}))
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	secret := c.BootstrapACL(0)
	if err := chromedp.Do(tab, chromedp.Navigate("http://"+c.Node(0).HTTPAddr()+"/ui/#/members")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab, "refused without a token", `document.querySelector('#members-view .error[data-error="403"]') !== null &&
		document.querySelector('#live[data-live="closed"]') !== null`, waitFor)
	evalJS[bool](t, tab, `(window.__loaded = "once", true)`)
	if err := chromedp.Do(tab, chromedp.SendKeys("#token", secret), chromedp.Click("#token-form button")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab, "served with the token, without a reload", `document.querySelector('#members tr[data-member="n1"][data-role="leader"]') !== null &&
		document.querySelector('#members tr[data-member="c1"][data-role="client agent"]') !== null &&
		document.querySelector('#live[data-live="open"]') !== null && document.querySelectorAll('.error').length === 0 && window.__loaded === "once"`, waitFor)
	if got := evalJS[string](t, tab, `localStorage.getItem("steward.token")`); got != secret {
		t.Fatalf("localStorage holds %q", got)
	}
}
