package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/metrics"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// scrape reads url's metrics with the Prometheus text parser.
func scrape(client *http.Client, url, token string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("X-Steward-Token", token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// value sums the series of family name whose labels include want: a
// counter's or gauge's value, a histogram's sample count. found is false
// when no series matches.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, found bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, x := range want {
			if have[k] != x {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v, found
}

func metricsURL(n *node.Node) string { return "http://" + n.HTTPAddr() + "/metrics" }

// A 3-node cluster scraped over real HTTP: the series move when the
// cluster does.
func TestClusterMetricsMove(t *testing.T) {
	scfg := supervision.DefaultConfig()
	scfg.ResyncInterval = 200 * time.Millisecond
	scfg.RestartBackoffMin = 50 * time.Millisecond
	c := testkit.NewCluster(t, 3,
		testkit.WithConfig(func(cfg *node.Config) { cfg.HTTPAddr = "127.0.0.1:0" }),
		testkit.WithStack(func(string) stack.Config {
			return stack.Config{Runtime: actor.DefaultConfig(), Supervision: scfg}
		}))
	// The agent's wiring (cmd/steward/agent.go): each node's runtime
	// watched into its registry.
	for _, n := range c.Live() {
		w, err := metrics.WatchRuntime(n.Metrics(), c.Stack(n.Name()).Runtime)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	scrapeAll := func() ([]map[string]*dto.MetricFamily, error) {
		var out []map[string]*dto.MetricFamily
		for _, n := range c.Live() {
			f, err := scrape(hc, metricsURL(n), "")
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	}

	// A leader exists as a gauge on exactly one node, the leader.
	c.Eventually(30*time.Second, func() error {
		leader := c.Leader().Name()
		all, err := scrapeAll()
		if err != nil {
			return err
		}
		var leaders []string
		for i, f := range all {
			v, ok := value(f, "steward_raft_leader", nil)
			if !ok {
				return fmt.Errorf("%s has no steward_raft_leader", c.Node(i).Name())
			}
			if v == 1 {
				leaders = append(leaders, c.Node(i).Name())
			}
			if s, _ := value(f, "steward_raft_state", map[string]string{"state": "leader"}); s != v {
				return fmt.Errorf("%s: steward_raft_state{state=leader} %v, steward_raft_leader %v", c.Node(i).Name(), s, v)
			}
			if r, _ := value(f, "steward_ready", nil); r != 1 {
				return fmt.Errorf("%s: steward_ready %v", c.Node(i).Name(), r)
			}
			if a, _ := value(f, "steward_gossip_members", map[string]string{"status": "alive"}); a != 3 {
				return fmt.Errorf("%s: %v members alive, want 3", c.Node(i).Name(), a)
			}
		}
		if len(leaders) != 1 || leaders[0] != leader || c.Leader().Name() != leader {
			return fmt.Errorf("steward_raft_leader is 1 on %v; the leader is %s", leaders, leader)
		}
		return nil
	}, "one leader gauge")

	// A kv write raises the FSM apply counter on every node.
	kvPut := map[string]string{"command": "kv_put", "result": "ok"}
	before, err := scrapeAll()
	if err != nil {
		t.Fatal(err)
	}
	ctx := testkit.Ctx(t, 60*time.Second)
	c.Eventually(30*time.Second, func() error {
		_, err := c.KV(0).Put(ctx, &pb.KVPutRequest{Key: "metrics/x", Value: []byte("1")})
		return err
	}, "kv put")
	c.Eventually(30*time.Second, func() error {
		all, err := scrapeAll()
		if err != nil {
			return err
		}
		for i, f := range all {
			was, _ := value(before[i], "steward_fsm_applied_total", kvPut)
			now, _ := value(f, "steward_fsm_applied_total", kvPut)
			if now <= was {
				return fmt.Errorf("%s: steward_fsm_applied_total{command=kv_put,result=ok} %v, was %v", c.Node(i).Name(), now, was)
			}
			if n, _ := value(f, "steward_fsm_apply_seconds", map[string]string{"command": "kv_put"}); n < now {
				return fmt.Errorf("%s: %v kv_put apply timings for %v applied", c.Node(i).Name(), n, now)
			}
		}
		for i, f := range all {
			was, _ := value(before[i], "steward_state_index", nil)
			if now, _ := value(f, "steward_state_index", nil); now <= was {
				return fmt.Errorf("%s: steward_state_index %v, was %v", c.Node(i).Name(), now, was)
			}
		}
		// The put was served by node 0's gRPC server.
		if n, _ := value(all[0], "steward_grpc_server_handled_total", map[string]string{"service": "steward.v1.KV", "method": "Put", "code": "OK"}); n < 1 {
			return fmt.Errorf("%s: steward_grpc_server_handled_total{KV/Put,OK} %v", c.Node(0).Name(), n)
		}
		// Raft's own timings, bridged from go-metrics.
		if n, _ := value(all[0], "steward_raft_commit_seconds", nil); n < 1 {
			return fmt.Errorf("steward_raft_commit_seconds has %v samples", n)
		}
		return nil
	}, "kv_put applied on every node")

	// Killing a supervised child raises the restarts counter of its node.
	const spec = `{"name":"mt","node":"n2","strategy":"one_for_one","max_restarts":10,"max_seconds":5,
	 "children":[{"id":"c1","behavior":"counter"}]}`
	sup := pb.NewSupervisionClient(c.Conn(0))
	c.Eventually(30*time.Second, func() error {
		_, err := sup.ApplyTree(ctx, &pb.ApplyTreeRequest{Spec: []byte(spec), Filename: "spec.json"})
		return err
	}, "apply tree mt")
	n2 := c.Index("n2")
	rt := c.Stack("n2").Runtime
	var child actor.PID
	c.Eventually(30*time.Second, func() error {
		for _, p := range rt.Processes() {
			if p.Tree == "mt" && p.ChildID == "c1" && p.Status == actor.StatusRunning {
				child = p.PID
				return nil
			}
		}
		return fmt.Errorf("mt/c1 not running on n2")
	}, "mt/c1 running")
	f0, err := scrape(hc, metricsURL(c.Node(n2)), "")
	if err != nil {
		t.Fatal(err)
	}
	restarts0, ok := value(f0, "steward_runtime_restarts_total", nil)
	if !ok {
		t.Fatal("n2 has no steward_runtime_restarts_total")
	}
	killed0, _ := value(f0, "steward_runtime_exits_total", map[string]string{"reason_class": "killed"})
	if procs, _ := value(f0, "steward_runtime_processes", nil); procs < 2 {
		t.Fatalf("n2: steward_runtime_processes %v, want the tree's supervisor and child", procs)
	}
	if err := rt.Kill(child, actor.Kill); err != nil {
		t.Fatalf("kill %s: %v", child, err)
	}
	c.Eventually(30*time.Second, func() error {
		f, err := scrape(hc, metricsURL(c.Node(n2)), "")
		if err != nil {
			return err
		}
		if r, _ := value(f, "steward_runtime_restarts_total", nil); r <= restarts0 {
			return fmt.Errorf("steward_runtime_restarts_total %v, was %v", r, restarts0)
		}
		if k, _ := value(f, "steward_runtime_exits_total", map[string]string{"reason_class": "killed"}); k <= killed0 {
			return fmt.Errorf("steward_runtime_exits_total{reason_class=killed} %v, was %v", k, killed0)
		}
		return nil
	}, "restart counted on n2")
	// The other nodes ran no restart of mt.
	for _, i := range []int{c.Index("n1"), c.Index("n3")} {
		f, err := scrape(hc, metricsURL(c.Node(i)), "")
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := value(f, "steward_runtime_restarts_total", nil); r != 0 {
			t.Errorf("%s: steward_runtime_restarts_total %v, want 0 (the child ran on n2)", c.Node(i).Name(), r)
		}
	}
}
