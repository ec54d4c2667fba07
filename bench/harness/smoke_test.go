package harness

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/report"
	"github.com/steward/steward/client"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
)

// inprocSteward is the harness's view of a testkit cluster: real steward
// nodes in this process, on loopback gRPC, with the same client code the
// process clusters use.
type inprocSteward struct {
	t *testing.T
	c *testkit.Cluster

	mu      sync.Mutex
	clients []*client.Client
}

func newInprocSteward(t *testing.T) *inprocSteward {
	c := testkit.NewCluster(t, 3)
	s := &inprocSteward{t: t, c: c}
	for i := 0; i < 3; i++ {
		s.clients = append(s.clients, s.dial(i))
	}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, cl := range s.clients {
			_ = cl.Close()
		}
	})
	return s
}

func (s *inprocSteward) dial(i int) *client.Client {
	cl, err := client.New(s.c.Config(i).GRPCAddr)
	if err != nil {
		s.t.Fatal(err)
	}
	return cl
}

func (s *inprocSteward) client(i int) *client.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[i]
}

func (s *inprocSteward) Name() string            { return "steward" }
func (s *inprocSteward) Size() int               { return s.c.Size() }
func (s *inprocSteward) MemberName(i int) string { return s.c.Config(i).Name }
func (s *inprocSteward) Running(i int) bool {
	select {
	case <-s.c.Node(i).ShutdownCh():
		return false
	default:
		return true
	}
}

func (s *inprocSteward) Leader(context.Context) (cluster.LeaderInfo, error) {
	var li cluster.LeaderInfo
	for i := 0; i < s.Size(); i++ {
		if !s.Running(i) {
			continue
		}
		st := s.c.Node(i).Status()
		if st.Leader == "" || (li.Name != "" && st.Leader != li.Name) {
			return li, fmt.Errorf("%w: %s says %q", cluster.ErrNoLeader, st.Node, st.Leader)
		}
		li.Name = st.Leader
		if st.Leader == st.Node && st.RaftState == "leader" {
			li.Index, li.Term = i, st.Term
		}
	}
	if li.Term == 0 {
		return li, fmt.Errorf("%w: leader %q is not live", cluster.ErrNoLeader, li.Name)
	}
	return li, nil
}

func (s *inprocSteward) Target(ctx context.Context, ep cluster.Endpoint, clients, conns int) (cluster.Target, error) {
	li, err := s.Leader(ctx)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for i := 0; i < s.Size(); i++ {
		if (ep == cluster.ToLeader) == (i == li.Index) {
			addrs = append(addrs, s.c.Config(i).GRPCAddr)
		}
	}
	return cluster.NewStewardTarget(addrs, clients, conns)
}

func (s *inprocSteward) PutOn(ctx context.Context, i int, key string, value []byte) (cluster.Commit, error) {
	resp, err := s.client(i).Put(ctx, key, value, nil)
	if err != nil {
		return cluster.Commit{}, err
	}
	return cluster.Commit{Leader: resp.GetMeta().GetLeader()}, nil
}

func (s *inprocSteward) Kill(i int) error { s.c.Kill(i); return nil }

func (s *inprocSteward) Restart(ctx context.Context, i int) error {
	s.c.Restart(i)
	cl := s.dial(i)
	s.mu.Lock()
	old := s.clients[i]
	s.clients[i] = cl
	s.mu.Unlock()
	return old.Close()
}

func (s *inprocSteward) WaitHealthy(ctx context.Context) error {
	var idx uint64
	if err := poll(ctx, func() error {
		li, err := s.Leader(ctx)
		if err != nil {
			return err
		}
		for i := 0; i < s.Size(); i++ {
			if !s.Running(i) {
				return fmt.Errorf("member %d is down", i)
			}
			if _, err := s.PutOn(ctx, i, "bench/health", []byte("x")); err != nil {
				return err
			}
		}
		idx = s.c.Node(li.Index).Status().CommitIndex
		return nil
	}); err != nil {
		return err
	}
	return poll(ctx, func() error {
		for i := 0; i < s.Size(); i++ {
			if st := s.c.Node(i).Status(); st.AppliedIndex < idx {
				return fmt.Errorf("%s applied %d of %d", st.Node, st.AppliedIndex, idx)
			}
		}
		return nil
	})
}

func (s *inprocSteward) MemberStatus(_ context.Context, i int) (cluster.MemberStatus, error) {
	if !s.Running(i) {
		return cluster.MemberStatus{}, fmt.Errorf("member %d is down", i)
	}
	st := s.c.Node(i).Status()
	return cluster.MemberStatus{Term: st.Term, Leader: st.Leader}, nil
}

func (s *inprocSteward) Pids() []int                 { return nil }
func (s *inprocSteward) Settings() map[string]string { return map[string]string{"size": "3"} }

// TestSmokeSteward drives a real (in-process) steward cluster through the
// harness's steward side with tiny operation counts: load runs on both
// endpoints, pairs with the report, and one leader kill.
func TestSmokeSteward(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	s := newInprocSteward(t)
	ctx := testkit.Ctx(t, 2*time.Minute)
	p := Plan{Clients: []int{1, 8}, Ops: []int{20, 80}, Pairs: 2, ValueSize: 256, Keyspace: 50, Timeout: 10 * time.Second}
	for _, ep := range []cluster.Endpoint{cluster.ToLeader, cluster.ToFollowers} {
		pairs, err := ComparePairs(ctx, s, Named{System: s, Label: "again"}, ep, p)
		if err != nil {
			t.Fatal(err)
		}
		for li, level := range pairs {
			l := report.NewLevel(p.Clients[li], string(ep), level, 0)
			if l.StewardErrors != 0 || l.EtcdErrors != 0 {
				t.Fatalf("%s, %d clients: errors %d/%d: %s", ep, l.Clients, l.StewardErrors, l.EtcdErrors, level[0].A.FirstError)
			}
			if l.StewardWritesPerS <= 0 || l.StewardP99Ms <= 0 || l.RatioThroughput <= 0 || len(l.Pairs) != 2 {
				t.Fatalf("%s level %+v", ep, l)
			}
		}
	}
	// Reads of both consistencies, interleaved with a second view of the
	// same cluster, over a filled keyspace: no read may miss.
	ops := []Op{ReadLinearizable, ReadStale}
	rp := p
	rp.Pairs = 1
	reads, err := CompareOps(ctx, s, Named{System: s, Label: "again"}, cluster.ToLeader, rp, ops)
	if err != nil {
		t.Fatal(err)
	}
	for oi, op := range ops {
		for li, level := range reads[oi] {
			l := report.NewReadLevel(rp.Clients[li], "leader", op.Consistency("steward"), op.Consistency("etcd"), level)
			if l.StewardErrors != 0 || l.EtcdErrors != 0 {
				t.Fatalf("%s, %d clients: errors %d/%d: %s", op, l.Clients, l.StewardErrors, l.EtcdErrors, level[0].A.FirstError)
			}
			if l.StewardReadsPerS <= 0 || l.StewardP99Ms <= 0 || l.Pairs[0].A.Op != op.String() || l.Pairs[0].A.Ops != rp.Ops[li] {
				t.Fatalf("%s level %+v", op, l)
			}
		}
	}

	// A short steady run: the election count agrees with the terms seen.
	st, err := Steady(ctx, s, SteadyPlan{Duration: time.Second, Clients: 4, ValueSize: 64, Keyspace: 50, Timeout: 10 * time.Second, Poll: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Writes == 0 || st.TermStart == 0 || st.TermEnd < st.TermStart || st.SpuriousElections != int(st.TermEnd-st.TermStart) ||
		len(st.Leaders) == 0 || st.LeaderChanges > st.SpuriousElections {
		t.Fatalf("steady %+v", st)
	}
	t.Logf("steady: %d writes, terms %d → %d, leaders %v", st.Writes, st.TermStart, st.TermEnd, st.Leaders)

	// The writes are really there: read one back through a follower.
	li, err := s.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	follower := (li.Index + 1) % 3
	resp, err := s.client(follower).KV.List(ctx, &pb.KVListRequest{Prefix: "bench/steward/", KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Entries) == 0 {
		t.Fatal("no benchmark keys were written")
	}

	f := Failover(ctx, s, FailoverPlan{Runs: 1, RequestTimeout: 500 * time.Millisecond, Before: 5, Deadline: 30 * time.Second},
		map[string]string{"election_timeout": "500ms"})
	if f.Failed != 0 {
		t.Fatalf("failover failed: %s", f.Runs[0].Error)
	}
	r := f.Runs[0]
	if r.NewLeader == "" || r.NewLeader == r.OldLeader || r.NewTerm <= r.OldTerm || r.ToNewLeaderMs <= 0 {
		t.Fatalf("failover run %+v", r)
	}
	t.Logf("failover %s → %s in %.0f ms (gap %.0f ms)", r.OldLeader, r.NewLeader, r.ToNewLeaderMs, r.GapMs)
	if err := s.WaitHealthy(ctx); err != nil {
		t.Fatalf("cluster did not heal after the restart: %v", err)
	}
}
