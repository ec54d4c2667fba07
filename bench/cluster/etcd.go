package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdOptions configures an etcd cluster.
type EtcdOptions struct {
	// Bin is the etcd binary (default: etcd on PATH).
	Bin string
	// Dir holds the members' data dirs and logs.
	Dir string
	// Size is the number of members (default 3).
	Size int
	// HeartbeatMs and ElectionMs are etcd's --heartbeat-interval and
	// --election-timeout (defaults 100 and 1000, etcd's own).
	HeartbeatMs int
	ElectionMs  int
}

// Etcd is a running etcd cluster of member processes.
type Etcd struct {
	opts    EtcdOptions
	members []*etcdMember
}

type etcdMember struct {
	name   string
	client string // URL
	proc   *Proc
	cli    *clientv3.Client // control and failover writes
	id     uint64           // learnt from its status
}

// StartEtcd starts the members and waits until they agree on a leader and
// a write succeeds through every member.
func StartEtcd(ctx context.Context, o EtcdOptions) (*Etcd, error) {
	if o.Size == 0 {
		o.Size = 3
	}
	if o.HeartbeatMs == 0 {
		o.HeartbeatMs = 100
	}
	if o.ElectionMs == 0 {
		o.ElectionMs = 1000
	}
	if o.Bin == "" {
		o.Bin = "etcd"
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	ports, err := FreePorts(2 * o.Size)
	if err != nil {
		return nil, err
	}
	e := &Etcd{opts: o}
	var initial []string
	peer := func(i int) string { return "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1]) }
	for i := 0; i < o.Size; i++ {
		initial = append(initial, fmt.Sprintf("e%d=%s", i+1, peer(i)))
	}
	for i := 0; i < o.Size; i++ {
		name := fmt.Sprintf("e%d", i+1)
		clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[2*i])
		args := []string{
			"--name", name,
			"--data-dir", filepath.Join(o.Dir, name),
			"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
			"--listen-peer-urls", peer(i), "--initial-advertise-peer-urls", peer(i),
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", "steward-bench",
			"--heartbeat-interval", strconv.Itoa(o.HeartbeatMs),
			"--election-timeout", strconv.Itoa(o.ElectionMs),
			"--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn",
		}
		cli, err := newEtcdClient(clientURL)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.members = append(e.members, &etcdMember{
			name: name, client: clientURL, cli: cli,
			proc: NewProc(name, o.Bin, args, filepath.Join(o.Dir, name+".log")),
		})
	}
	for _, m := range e.members {
		if err := m.proc.Start(); err != nil {
			e.Close()
			return nil, err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := e.WaitHealthy(wctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func newEtcdClient(url string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{url},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
}

// Name is "etcd".
func (e *Etcd) Name() string { return "etcd" }

// Size is the number of members.
func (e *Etcd) Size() int { return len(e.members) }

// MemberName is member i's name.
func (e *Etcd) MemberName(i int) string { return e.members[i].name }

// Running reports whether member i's process runs.
func (e *Etcd) Running(i int) bool { return e.members[i].proc.Running() }

// Settings describes the cluster for the report.
func (e *Etcd) Settings() map[string]string {
	return map[string]string{
		"size":               strconv.Itoa(len(e.members)),
		"heartbeat_interval": (time.Duration(e.opts.HeartbeatMs) * time.Millisecond).String(),
		"election_timeout":   (time.Duration(e.opts.ElectionMs) * time.Millisecond).String(),
		"pre_vote":           "etcd's default for its version (3.4: off, 3.5+: on)",
		"sync":               "WAL fdatasync per raft Ready batch (default; unsafe-no-fsync not set)",
		"snapshot_count":     "default",
		"binary":             e.opts.Bin,
	}
}

// Pids are the live members' process ids.
func (e *Etcd) Pids() []int {
	var out []int
	for _, m := range e.members {
		out = append(out, m.proc.Pid())
	}
	return out
}

// Close stops every member and closes the clients.
func (e *Etcd) Close() {
	for _, m := range e.members {
		if m.cli != nil {
			_ = m.cli.Close()
		}
	}
	for _, m := range e.members {
		if m.proc != nil {
			m.proc.Stop(10 * time.Second)
		}
	}
}

func (e *Etcd) status(ctx context.Context, i int) (*clientv3.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m := e.members[i]
	st, err := m.cli.Status(ctx, m.client)
	if err != nil {
		return nil, err
	}
	if st.Header != nil {
		m.id = st.Header.MemberId
	}
	return st, nil
}

// Leader returns the leader every live member agrees on, from each
// member's status (the Maintenance Status RPC behind `etcdctl endpoint
// status`).
func (e *Etcd) Leader(ctx context.Context) (LeaderInfo, error) {
	var li LeaderInfo
	var leader uint64
	for i, m := range e.members {
		if !m.proc.Running() {
			continue
		}
		st, err := e.status(ctx, i)
		if err != nil {
			return li, fmt.Errorf("%s: status: %w", m.name, err)
		}
		if st.Leader == 0 {
			return li, fmt.Errorf("%w: %s knows no leader", ErrNoLeader, m.name)
		}
		if leader != 0 && st.Leader != leader {
			return li, fmt.Errorf("%w: %s says %x, another says %x", ErrNoLeader, m.name, st.Leader, leader)
		}
		leader = st.Leader
		if st.RaftTerm > li.Term {
			li.Term = st.RaftTerm
		}
	}
	li.Index = -1
	for i, m := range e.members {
		if m.id == leader && leader != 0 {
			li.Index, li.Name = i, m.name
		}
	}
	if li.Index < 0 || !e.members[li.Index].proc.Running() {
		return li, fmt.Errorf("%w: leader %x is not a live member", ErrNoLeader, leader)
	}
	return li, nil
}

// WaitHealthy waits until every member runs, all agree on a leader, a write
// succeeds through every member, and then until every member has applied
// it.
func (e *Etcd) WaitHealthy(ctx context.Context) error {
	var idx uint64
	err := poll(ctx, "an etcd leader and writes through every member", func(ctx context.Context) error {
		for _, m := range e.members {
			if err := m.proc.checkRunning(); err != nil {
				return err
			}
		}
		li, err := e.Leader(ctx)
		if err != nil {
			return err
		}
		for i, m := range e.members {
			if _, err := e.PutOn(ctx, i, "bench/health", []byte(m.name)); err != nil {
				return fmt.Errorf("%s: put: %w", m.name, err)
			}
		}
		lst, err := e.status(ctx, li.Index)
		if err != nil {
			return err
		}
		idx = lst.RaftIndex
		return nil
	})
	if err != nil {
		return err
	}
	return poll(ctx, "every etcd member to catch up", func(ctx context.Context) error {
		for i, m := range e.members {
			st, err := e.status(ctx, i)
			if err != nil {
				return err
			}
			if st.RaftAppliedIndex < idx {
				return fmt.Errorf("%s applied %d of %d", m.name, st.RaftAppliedIndex, idx)
			}
		}
		return nil
	})
}

// PutOn writes through member i with its control client, refusing at once
// when the member knows no leader (etcd's require-leader metadata).
func (e *Etcd) PutOn(ctx context.Context, i int, key string, value []byte) (Commit, error) {
	resp, err := e.members[i].cli.Put(clientv3.WithRequireLeader(ctx), key, string(value))
	if err != nil {
		return Commit{}, err
	}
	return Commit{Term: resp.Header.GetRaftTerm()}, nil
}

// MemberStatus is member i's Raft term and the leader it follows, from its
// Maintenance Status.
func (e *Etcd) MemberStatus(ctx context.Context, i int) (MemberStatus, error) {
	st, err := e.status(ctx, i)
	if err != nil {
		return MemberStatus{}, err
	}
	ms := MemberStatus{Term: st.RaftTerm}
	if st.Leader != 0 {
		ms.Leader = fmt.Sprintf("%x", st.Leader)
		for _, m := range e.members {
			if m.id == st.Leader {
				ms.Leader = m.name
			}
		}
	}
	return ms, nil
}

// Kill SIGKILLs member i.
func (e *Etcd) Kill(i int) error { return e.members[i].proc.Kill() }

// Restart starts member i again from its data dir, with the same flags
// (etcd ignores the initial-cluster flags once it has a data dir).
func (e *Etcd) Restart(ctx context.Context, i int) error {
	// A fresh control client: the old one may be in a long reconnect
	// backoff after the kill.
	m := e.members[i]
	if err := m.proc.Start(); err != nil {
		return err
	}
	cli, err := newEtcdClient(m.client)
	if err != nil {
		return err
	}
	_ = m.cli.Close()
	m.cli = cli
	return nil
}

// Target opens connections for clients on the endpoint: conns clients
// (0: one per load client), each with a single endpoint, spread over the
// chosen members.
func (e *Etcd) Target(ctx context.Context, ep Endpoint, clients, conns int) (Target, error) {
	li, err := e.Leader(ctx)
	if err != nil {
		return nil, err
	}
	var urls []string
	for i, m := range e.members {
		if (ep == ToLeader) == (i == li.Index) {
			urls = append(urls, m.client)
		}
	}
	t := &etcdTarget{}
	for i := 0; i < connsFor(clients, conns); i++ {
		c, err := newEtcdClient(urls[i%len(urls)])
		if err != nil {
			t.Close()
			return nil, err
		}
		t.clients = append(t.clients, c)
	}
	return t, nil
}

type etcdTarget struct {
	clients []*clientv3.Client
}

func (t *etcdTarget) Put(ctx context.Context, c int, key string, value []byte) error {
	_, err := t.clients[c%len(t.clients)].Put(ctx, key, string(value))
	return err
}

func (t *etcdTarget) Get(ctx context.Context, c int, key string, stale bool) error {
	var opts []clientv3.OpOption
	if stale {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := t.clients[c%len(t.clients)].Get(ctx, key, opts...)
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 {
		return fmt.Errorf("%w: %s", ErrKeyMissing, key)
	}
	return nil
}

func (t *etcdTarget) Close() error {
	var errs []error
	for _, c := range t.clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
