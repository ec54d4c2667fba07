package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/protobuf/proto"
)

// Config configures the snapshot layer.
type Config struct {
	// CaptureTimeout is how long the nodes have to report their parts;
	// after it the snapshot is partial.
	CaptureTimeout time.Duration
	// RestoreTimeout bounds a restore's wait for the nodes to run the
	// restored trees before the restore plan is submitted.
	RestoreTimeout time.Duration
	// BeforeCapture, when set, runs on a node before it captures its part:
	// a fault-injection point for tests.
	BeforeCapture func(ctx context.Context, snapshotID string)
	// Clock times the captures' deadlines (set, waited for by the nodes,
	// enforced by the leader) and a restore's wait (nil: the wall clock).
	// A test that sets it sets the node's too (node.Config.Clock): the
	// state machine compares deadlines with the time of the entry.
	Clock clock.Clock
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{CaptureTimeout: 30 * time.Second, RestoreTimeout: 30 * time.Second}
}

// Trees is what the snapshot layer needs of the supervision layer: the
// spec index each tree runs at, the live trees and processes of any node,
// and the one way to commit desired state.
type Trees interface {
	AppliedIndex(tree string) uint64
	TreeView(ctx context.Context, nodeName, tree string) (*pb.TreeViewResponse, error)
	// WatchTree calls changed for the last event about tree on nodeName,
	// then for every new one, until ctx ends (nil) or the node's stream
	// fails (its error).
	WatchTree(ctx context.Context, nodeName, tree string, changed func()) error
	LiveProcesses(ctx context.Context, nodeName string) ([]*pb.ProcessInfo, error)
	PutTree(ctx context.Context, rec *pb.TreeRecord, cas *uint64) (uint64, error)
	RemoveTree(ctx context.Context, name string) (uint64, error)
}

// Planner is what the snapshot layer needs of the coordination layer: a
// restore's processes are brought back by plans, planned and committed on
// the leader.
type Planner interface {
	DryRunLocal(ctx context.Context, data []byte, filename string) (*plan.Result, error)
	Submit(ctx context.Context, data []byte, filename string) (*pb.ApplyPlanResponse, error)
}

// cluster is what the snapshot layer needs of its node.
type cluster interface {
	Name() string
	State() *state.Store
	Server() *transport.Server
	Pool() *transport.Pool
	Propose(ctx context.Context, t pb.CommandType, payload proto.Message) (uint64, error)
	IsLeader() bool
	Leader() (name, grpcAddr string)
	AliveNodes() []string
	MemberStatus(name string) string
}

// Layer is the snapshot layer of one node.
type Layer struct {
	cfg    Config
	rt     *actor.Runtime
	sup    Trees
	coord  Planner
	node   cluster
	logger hclog.Logger
	clock  clock.Clock
	svc    *service

	mu      sync.Mutex
	claimed map[string]bool
	// ctx ends when the node stops.
	ctx      context.Context
	cancel   context.CancelFunc
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New returns the layer: it captures rt, the node's runtime, and restores
// through trees (the supervision layer) and plans (the coordination layer),
// which must be attached before it.
func New(cfg Config, rt *actor.Runtime, trees Trees, plans Planner) *Layer {
	ctx, cancel := context.WithCancel(context.Background())
	return &Layer{cfg: cfg, rt: rt, sup: trees, coord: plans, clock: clock.Or(cfg.Clock), claimed: map[string]bool{}, ctx: ctx, cancel: cancel}
}

// Name implements node.Plugin.
func (l *Layer) Name() string { return "snapshot" }

// Attach implements node.Plugin.
func (l *Layer) Attach(n node.Host) error {
	l.node = n
	l.logger = n.Logger().Named("snapshot")
	l.svc = &service{l: l}
	pb.RegisterSnapshotsServer(n.Server().GRPC(), l.svc)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.watch()
	}()
	n.OnLeadership("snapshot-deadlines", l.deadlines)
	n.OnShutdown(l.stop)
	return nil
}

func (l *Layer) stop() {
	l.stopOnce.Do(func() {
		l.cancel()
		l.wg.Wait()
	})
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "snap-" + hex.EncodeToString(b[:])
}

// watch captures this node's part of every capturing snapshot that names it.
func (l *Layer) watch() {
	self := l.node.Name()
	for {
		st := l.node.State()
		ws := memdb.NewWatchSet()
		_, snaps, _ := st.Snapshots(ws)
		for _, rec := range snaps {
			if state.SnapshotStatusOf(rec) != pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING {
				continue
			}
			for _, p := range rec.Parts {
				if p.Node != self || state.PartStatusOf(p) != pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_PENDING || p.Received > 0 {
					continue
				}
				l.mu.Lock()
				taken := l.claimed[rec.Id]
				l.claimed[rec.Id] = true
				l.mu.Unlock()
				if !taken {
					l.wg.Add(1)
					go func(rec *pb.SnapshotRecord) {
						defer l.wg.Done()
						l.capture(rec)
					}(rec)
				}
			}
		}
		if st.WaitChange(l.ctx, ws, time.Time{}) != nil {
			return
		}
	}
}

// capture captures this node's runtime and commits it in chunks.
func (l *Layer) capture(rec *pb.SnapshotRecord) {
	log := l.logger.With("snapshot", rec.Id)
	ctx, cancel := clock.WithDeadline(l.ctx, l.clock, time.Unix(0, rec.DeadlineUnixNano))
	defer cancel()
	if l.cfg.BeforeCapture != nil {
		l.cfg.BeforeCapture(ctx, rec.Id)
		if ctx.Err() != nil {
			return
		}
	}
	opts := Options{State: rec.Options.GetIncludeState(), Queues: rec.Options.GetIncludeQueues(), Links: rec.Options.GetIncludeLinks()}
	part, err := captureLocal(ctx, l.rt, opts, l.sup.AppliedIndex)
	if err != nil {
		log.Error("capture failed", "error", err)
		return
	}
	stored, raw, err := encodePart(part)
	if err != nil {
		log.Error("capture too large", "error", err)
		return
	}
	sum := checksum(stored)
	pieces := chunks(stored)
	for i, data := range pieces {
		cmd := &pb.SnapshotPartCommand{SnapshotId: rec.Id, Node: part.Node, Index: uint32(i), Total: uint32(len(pieces)),
			Data: data, RawBytes: uint64(raw), Processes: uint32(len(part.Processes)), Trees: uint32(len(part.Trees)),
			Sha256: sum, CapturedAtUnixNano: part.CapturedAt.UnixNano()}
		if err := l.commitPart(ctx, cmd); err != nil {
			log.Error("part not committed", "chunk", i, "error", err)
			return
		}
	}
	log.Info("part captured", "processes", len(part.Processes), "bytes", len(stored), "chunks", len(pieces))
}

// commitPart proposes a chunk (forwarded to the leader) until it is answered
// (a chunk is idempotent).
func (l *Layer) commitPart(ctx context.Context, cmd *pb.SnapshotPartCommand) error {
	return transport.Retry(ctx, 0, func(ctx context.Context) error {
		_, err := l.node.Propose(ctx, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, cmd)
		return err
	})
}

// deadlines runs on the leader: a capture whose deadline passed is closed,
// partial, with the missing nodes named.
func (l *Layer) deadlines(ctx context.Context) {
	for {
		st := l.node.State()
		ws := memdb.NewWatchSet()
		_, snaps, _ := st.Snapshots(ws)
		var next time.Time
		now := l.clock.Now()
		for _, rec := range snaps {
			if state.SnapshotStatusOf(rec) != pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING {
				continue
			}
			due := time.Unix(0, rec.DeadlineUnixNano)
			if now.Before(due) {
				if next.IsZero() || due.Before(next) {
					next = due
				}
				continue
			}
			_, err := l.node.Propose(ctx, pb.CommandType_COMMAND_TYPE_SNAPSHOT_FINISH, &pb.SnapshotFinishCommand{SnapshotId: rec.Id})
			if err != nil {
				l.logger.Warn("closing a capture past its deadline", "snapshot", rec.Id, "error", err)
				if r := now.Add(200 * time.Millisecond); next.IsZero() || r.Before(next) {
					next = r
				}
			}
		}
		if !next.IsZero() {
			next = next.Add(time.Millisecond) // the FSM closes at, not before, the deadline
		}
		if st.WaitChangeClock(ctx, l.clock, ws, next) != nil {
			return
		}
	}
}
