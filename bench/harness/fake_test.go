package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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
	gets    int
	healthy int
	stored  map[string]bool // keys written
	// electEvery, when set, starts an election (a new term and the next
	// member as leader) after every electEvery-th put, for the steady
	// run's election count.
	electEvery int
	elections  int
}

func newFakeSystem(name string, order *[]string) *fakeSystem {
	return &fakeSystem{name: name, killed: map[int]bool{}, term: 1, order: order, stored: map[string]bool{}}
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
	f.stored[key] = true
	if f.electEvery > 0 && f.puts%f.electEvery == 0 {
		f.leader = (f.leader + 1) % 3
		f.term++
		f.elections++
	}
	return cluster.Commit{Leader: f.MemberName(f.leader), Term: f.term}, nil
}
func (f *fakeSystem) getOn(i int, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killed[i] {
		return errors.New("connection refused")
	}
	f.gets++
	if !f.stored[key] {
		return fmt.Errorf("%w: %s", cluster.ErrKeyMissing, key)
	}
	return nil
}
func (f *fakeSystem) MemberStatus(_ context.Context, i int) (cluster.MemberStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killed[i] {
		return cluster.MemberStatus{}, errors.New("connection refused")
	}
	return cluster.MemberStatus{Term: f.term, Leader: f.MemberName(f.leader)}, nil
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
func (t fakeTarget) Get(ctx context.Context, client int, key string, stale bool) error {
	return t.f.getOn(0, key)
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

func TestCompareOpsFillsThenInterleavesReads(t *testing.T) {
	var order []string
	a, b := newFakeSystem("steward", &order), newFakeSystem("etcd", &order)
	p := Plan{Clients: []int{1, 4}, Ops: []int{10, 20}, Pairs: 2, ValueSize: 16, Keyspace: 7}
	ops := []Op{ReadLinearizable, ReadStale}
	pairs, err := CompareOps(context.Background(), a, b, cluster.ToLeader, p, ops)
	if err != nil {
		t.Fatal(err)
	}
	// Every key of both keyspaces was written before any read.
	for _, f := range []*fakeSystem{a, b} {
		for n := 0; n < p.Keyspace; n++ {
			if k := fmt.Sprintf("bench/%s/%08d", f.name, n); !f.stored[k] {
				t.Fatalf("%s: key %s not filled", f.name, k)
			}
		}
		if f.puts != p.Keyspace {
			t.Fatalf("%s: %d writes, want the %d of the fill only", f.name, f.puts, p.Keyspace)
		}
	}
	// Fill targets first (one per system), then per pair, level and op the
	// two systems, a first in pair 1 and b first in pair 2.
	want := []string{"steward", "etcd",
		"steward", "etcd", "steward", "etcd", "steward", "etcd", "steward", "etcd",
		"etcd", "steward", "etcd", "steward", "etcd", "steward", "etcd", "steward"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("run order %v, want %v", order, want)
	}
	if len(pairs) != 2 || len(pairs[0]) != 2 || len(pairs[0][1]) != 2 {
		t.Fatalf("pairs shape %d×%d×%d", len(pairs), len(pairs[0]), len(pairs[0][1]))
	}
	for oi, op := range ops {
		for li, level := range pairs[oi] {
			for _, pr := range level {
				for _, r := range []report.Run{pr.A, pr.B} {
					if r.Op != op.String() || r.Errors != 0 || r.Ops != p.Ops[li] || r.OpsPerS <= 0 || r.WritesPerS != 0 {
						t.Fatalf("%s level %d run %+v", op, li, r)
					}
				}
				if pr.RatioThroughput <= 0 {
					t.Fatalf("pair ratio %v", pr.RatioThroughput)
				}
			}
		}
	}
	// Warm-up (at least 2 per client) plus measured reads, per run and op.
	if want := 2 * 2 * ((2 + 10) + (8 + 20)); a.gets != want {
		t.Fatalf("steward served %d reads, want %d", a.gets, want)
	}
	l := report.NewReadLevel(1, "leader", ReadStale.Consistency("steward"), ReadStale.Consistency("etcd"), pairs[1][0])
	if l.StewardRead != "stale" || l.EtcdRead != "serializable" || l.StewardReadsPerS <= 0 || l.EtcdReadsPerS <= 0 || len(l.Pairs) != 2 {
		t.Fatalf("read level %+v", l)
	}
}

func TestReadsOfAnUnfilledKeyspaceAreErrors(t *testing.T) {
	var order []string
	f := newFakeSystem("steward", &order)
	p := Plan{Clients: []int{2}, Ops: []int{10}, Pairs: 1, ValueSize: 16, Keyspace: 5}
	r, err := RunOp(context.Background(), f, cluster.ToLeader, p, ReadLinearizable, 2, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops != 0 || r.Errors != 10 || !strings.Contains(r.FirstError, cluster.ErrKeyMissing.Error()) {
		t.Fatalf("reads of missing keys: %+v", r)
	}
	if _, err := CompareOps(context.Background(), f, f, cluster.ToLeader, Plan{Clients: []int{1}, Ops: []int{1}, Pairs: 1}, []Op{ReadStale}); err == nil {
		t.Fatal("reads without a keyspace accepted")
	}
}

func TestSteadyCountsElections(t *testing.T) {
	var order []string
	f := newFakeSystem("fake", &order)
	f.electEvery = 50
	plan := SteadyPlan{Duration: 200 * time.Millisecond, Clients: 4, ValueSize: 8, Keyspace: 100, Poll: time.Millisecond}
	s, err := Steady(context.Background(), f, plan, map[string]string{"election_timeout": "1s"})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	elections, term := f.elections, f.term
	f.mu.Unlock()
	if elections == 0 {
		t.Fatal("the fake held no election; the test proves nothing")
	}
	if s.SpuriousElections != elections || s.TermStart != 1 || s.TermEnd != term {
		t.Fatalf("steady counted %d elections (terms %d → %d), the fake held %d (term %d)", s.SpuriousElections, s.TermStart, s.TermEnd, elections, term)
	}
	if s.LeaderChanges < 1 || s.LeaderChanges > s.SpuriousElections || len(s.Leaders) != s.LeaderChanges+1 || s.Leaders[0] != "fake1" {
		t.Fatalf("leaders %v, %d changes, %d elections", s.Leaders, s.LeaderChanges, s.SpuriousElections)
	}
	if s.Writes == 0 || s.Errors != 0 || s.WritesPerS <= 0 || s.Clients != 4 || s.RaftCounters != nil {
		t.Fatalf("steady %+v", s)
	}

	quiet := newFakeSystem("quiet", &order)
	q, err := Steady(context.Background(), quiet, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.SpuriousElections != 0 || q.LeaderChanges != 0 || len(q.Leaders) != 1 || q.Writes == 0 {
		t.Fatalf("a quiet system: %+v", q)
	}
	if _, err := Steady(context.Background(), quiet, SteadyPlan{Clients: 1}, nil); err == nil {
		t.Fatal("a steady plan without a duration accepted")
	}
}

func TestTuneLogStoreVariantAndTimings(t *testing.T) {
	var wal *Variant
	for _, v := range DefaultVariants() {
		if v.LogStore != "" {
			v := v
			wal = &v
		}
	}
	if wal == nil || wal.LogStore != "wal" || wal.BaseLogStore != "boltdb" || wal.ClientSide() || len(wal.Clients) == 0 {
		t.Fatalf("log-store variant %+v", wal)
	}
	tv := TimingVariants()
	if len(tv) < 2 {
		t.Fatalf("timing variants %v", tv)
	}
	for _, v := range tv {
		if !v.Failover || !v.Steady || v.Raft["leader_lease_timeout"] == "" {
			t.Fatalf("timing variant %+v", v)
		}
	}
	// Tune with a fake pair: failover interleaved on both, steady on both.
	var order []string
	base, after := newFakeSystem("base", &order), newFakeSystem("after", &order)
	v := tv[0]
	v.Clients = nil
	res, err := Tune(context.Background(), base, after, v, Plan{}, FailoverPlan{Runs: 2, RequestTimeout: 100 * time.Millisecond, Before: 3, Deadline: 5 * time.Second},
		&SteadyPlan{Duration: 20 * time.Millisecond, Clients: 2}, map[string]string{"heartbeat_timeout": "300ms"}, map[string]string{"heartbeat_timeout": "500ms"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failover == nil || res.BaseFailover == nil || len(res.Failover.Runs) != 2 || len(res.BaseFailover.Runs) != 2 || res.Failover.Failed+res.BaseFailover.Failed != 0 {
		t.Fatalf("tune failover %+v / %+v", res.Failover, res.BaseFailover)
	}
	if res.Steady == nil || res.BaseSteady == nil || res.Steady.System != "after" || res.BaseSteady.System != "base" {
		t.Fatalf("tune steady %+v / %+v", res.Steady, res.BaseSteady)
	}
}
