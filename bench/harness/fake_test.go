package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/load"
	"github.com/steward/steward/bench/report"
)

// fakeSystem is a System without servers: writes succeed at once, the
// leader is member 0 until it is killed, then member 1.
type fakeSystem struct {
	name string

	mu      sync.Mutex
	killed  map[int]bool
	leader  int
	term    uint64
	order   *[]string // records which system ran, in order
	puts    int
	healthy int
}

func newFakeSystem(name string, order *[]string) *fakeSystem {
	return &fakeSystem{name: name, killed: map[int]bool{}, term: 1, order: order}
}

func (f *fakeSystem) Name() string            { return f.name }
func (f *fakeSystem) Size() int               { return 3 }
func (f *fakeSystem) MemberName(i int) string { return fmt.Sprintf("%s%d", f.name, i+1) }
func (f *fakeSystem) Running(i int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.killed[i]
}
func (f *fakeSystem) Leader(context.Context) (cluster.LeaderInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cluster.LeaderInfo{Index: f.leader, Name: f.MemberName(f.leader), Term: f.term}, nil
}
func (f *fakeSystem) Target(_ context.Context, ep cluster.Endpoint, clients, conns int) (cluster.Target, error) {
	f.mu.Lock()
	*f.order = append(*f.order, f.name)
	f.mu.Unlock()
	return fakeTarget{f}, nil
}
func (f *fakeSystem) PutOn(_ context.Context, i int, key string, value []byte) (cluster.Commit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killed[i] {
		return cluster.Commit{}, errors.New("connection refused")
	}
	f.puts++
	return cluster.Commit{Leader: f.MemberName(f.leader), Term: f.term}, nil
}
func (f *fakeSystem) Kill(i int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killed[i] = true
	if i == f.leader {
		f.leader = (i + 1) % 3
		f.term++
	}
	return nil
}
func (f *fakeSystem) Restart(_ context.Context, i int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.killed, i)
	return nil
}
func (f *fakeSystem) WaitHealthy(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.healthy++
	if len(f.killed) > 0 {
		return errors.New("a member is down")
	}
	return nil
}
func (f *fakeSystem) Pids() []int                 { return nil }
func (f *fakeSystem) Settings() map[string]string { return map[string]string{"size": "3"} }

type fakeTarget struct{ f *fakeSystem }

func (t fakeTarget) Put(ctx context.Context, client int, key string, value []byte) error {
	_, err := t.f.PutOn(ctx, 0, key, value)
	return err
}
func (t fakeTarget) Close() error { return nil }

func TestComparePairsAlternatesAndPairs(t *testing.T) {
	var order []string
	a, b := newFakeSystem("steward", &order), newFakeSystem("etcd", &order)
	p := Plan{Clients: []int{1, 4}, Ops: []int{10, 20}, Pairs: 3, ValueSize: 16, Keyspace: 5}
	pairs, err := ComparePairs(context.Background(), a, b, cluster.ToLeader, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"steward", "etcd", "steward", "etcd", // pair 1, both levels: a first
		"etcd", "steward", "etcd", "steward", // pair 2: b first
		"steward", "etcd", "steward", "etcd", // pair 3
	}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("run order %v, want %v", order, want)
	}
	if len(pairs) != 2 || len(pairs[0]) != 3 || len(pairs[1]) != 3 {
		t.Fatalf("pairs shape %d×%d", len(pairs), len(pairs[0]))
	}
	for li, level := range pairs {
		for i, pr := range level {
			if pr.A.System != "steward" || pr.B.System != "etcd" {
				t.Fatalf("pair sides %s/%s: A must stay the judged system", pr.A.System, pr.B.System)
			}
			if wantFirst := []string{"steward", "etcd", "steward"}[i]; pr.First != wantFirst {
				t.Fatalf("level %d pair %d first %s, want %s", li, i, pr.First, wantFirst)
			}
			if pr.A.Ops != p.Ops[li] || pr.A.Clients != p.Clients[li] || pr.RatioThroughput <= 0 {
				t.Fatalf("pair %+v", pr)
			}
		}
	}
	// Warm-up (at least 2 per client) plus measured writes, per run.
	if want := 3 * ((2 + 10) + (8 + 20)); a.puts != want {
		t.Fatalf("steward got %d puts, want %d", a.puts, want)
	}
}

func TestPlanValidate(t *testing.T) {
	for _, p := range []Plan{
		{},
		{Clients: []int{1, 2}, Ops: []int{10}, Pairs: 1},
		{Clients: []int{1}, Ops: []int{10}, Pairs: 0},
		{Clients: []int{8}, Ops: []int{4}, Pairs: 1},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("plan %+v accepted", p)
		}
	}
}

func TestFailoverOnceWithFake(t *testing.T) {
	var order []string
	f := newFakeSystem("fake", &order)
	plan := FailoverPlan{Runs: 2, RequestTimeout: load.Ms2d(100), Before: 5, Deadline: load.Ms2d(5000)}
	res := Failover(context.Background(), f, plan, map[string]string{"election_timeout": "1s"})
	if res.Failed != 0 || len(res.Runs) != 2 {
		t.Fatalf("failover %+v", res)
	}
	r := res.Runs[0]
	if r.OldLeader != "fake1" || r.NewLeader != "fake2" || r.NewTerm != r.OldTerm+1 || r.ToNewLeaderMs < 0 || r.GapMs < 0 {
		t.Fatalf("run %+v", r)
	}
	if f.Running(0) != true {
		t.Fatal("the killed member was not restarted")
	}
}

func TestSummarizeFailover(t *testing.T) {
	f := report.Failover{Runs: []report.FailoverRun{
		{ToNewLeaderMs: 1000, GapMs: 1100},
		{ToNewLeaderMs: 3000, GapMs: 3100},
		{Error: "boom"},
		{ToNewLeaderMs: 2000, GapMs: 2100},
	}}
	SummarizeFailover(&f)
	if f.MedianMs != 2000 || f.MaxMs != 3000 || f.MedianGapMs != 2100 || f.MaxGapMs != 3100 || f.Failed != 1 {
		t.Fatalf("summary %+v", f)
	}
}
