package manager

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
)

// watchLoop runs on the leader for as long as it leads: it ends creations
// that cannot complete (deadline passed, a part's node lost) and moves
// running auto-placed sandboxes off nodes that failed or left.
func (l *Layer) watchLoop(ctx context.Context) {
	grace := supervision.NewNodeGrace(l.cfg.ReplaceAfter)
	for {
		st := l.node.State()
		ws := memdb.NewWatchSet()
		_, groups, err1 := st.Experiments(ws)
		_, sbs, err2 := st.Sandboxes(ws, "")
		_, _, _ = st.Nodes(ws)
		until := l.clock.Now().Add(l.cfg.ResyncInterval)
		if err := errors.Join(err1, err2); err != nil {
			l.logger.Error("sandbox watch: reading the state", "error", err)
		} else {
			if next := l.abortStuck(ctx, groups); !next.IsZero() && next.Before(until) {
				until = next
			}
			if next := l.replace(ctx, sbs, groups, grace); !next.IsZero() && next.Before(until) {
				until = next
			}
		}
		if st.WaitChangeClock(ctx, l.clock, ws, until) != nil {
			return
		}
	}
}

// lost reports whether a node is gone for a creation: gossip says it
// failed or left, or does not know it.
func (l *Layer) lost(name string) (string, bool) {
	switch s := l.node.MemberStatus(name); s {
	case node.StatusAlive, node.StatusSuspect:
		return s, false
	case "":
		return "unknown", true
	default:
		return s, true
	}
}

// abortStuck aborts each pending group past its deadline or with a part
// whose node is lost, and returns the next deadline of those left.
func (l *Layer) abortStuck(ctx context.Context, groups []*pb.ExperimentRecord) time.Time {
	now := l.clock.Now()
	var next time.Time
	for _, e := range groups {
		if e.Status != state.ExperimentPending {
			continue
		}
		var reason string
		var waiting, lostParts []string
		for _, p := range e.Parts {
			if p.Status == state.SandboxRunning {
				continue
			}
			waiting = append(waiting, fmt.Sprintf("%s (%s on %s)", p.Sandbox, p.Status, p.Node))
			if s, gone := l.lost(p.Node); gone {
				lostParts = append(lostParts, fmt.Sprintf("%s (node %s %s)", p.Sandbox, p.Node, s))
			}
		}
		deadline := time.Unix(0, e.DeadlineUnixNano)
		switch {
		case len(lostParts) > 0:
			sort.Strings(lostParts)
			reason = "a node was lost before every part was up: " + strings.Join(lostParts, ", ")
		case !now.Before(deadline):
			reason = fmt.Sprintf("the deadline passed (%s after creation) before every part was up; waiting for %s",
				deadline.Sub(time.Unix(0, e.CreatedAtUnixNano)).Round(100*time.Millisecond), strings.Join(waiting, ", "))
		default:
			if next.IsZero() || deadline.Before(next) {
				next = deadline
			}
			continue
		}
		_, err := l.node.Propose(ctx, pb.CommandType_COMMAND_TYPE_EXPERIMENT_ABORT, &pb.ExperimentAbortCommand{Id: e.Id, Reason: reason})
		switch {
		case err == nil:
			l.logger.Warn("creation aborted", "experiment", e.Id, "reason", reason)
		case errors.Is(err, state.ErrSandboxState), errors.Is(err, state.ErrNotFound):
			// It came up, failed or went meanwhile.
		default:
			l.logger.Warn("aborting a creation failed; will retry", "experiment", e.Id, "error", err)
			if retry := now.Add(time.Second); next.IsZero() || retry.Before(next) {
				next = retry
			}
		}
	}
	return next
}

// replace moves the auto-placed sandboxes of created groups whose node
// left (at once) or failed (after ReplaceAfter), again if the node they
// were moved to goes too before it runs them; pinned ones wait for their
// node. It returns when the next grace ends.
func (l *Layer) replace(ctx context.Context, sbs []*pb.SandboxRecord, groups []*pb.ExperimentRecord, grace *supervision.NodeGrace) time.Time {
	now := l.clock.Now()
	var next time.Time
	defer grace.EndPass()
	creating := map[string]bool{}
	for _, e := range groups {
		creating[e.Id] = e.Status == state.ExperimentPending
	}
	for _, sb := range sbs {
		if !sb.AutoPlaced || creating[sb.Experiment] {
			continue // a creation in progress is abortStuck's to end
		}
		status := l.node.MemberStatus(sb.Node)
		if due, wait := grace.Due(sb.Node, status, now); !due {
			if end := now.Add(wait); wait > 0 && (next.IsZero() || end.Before(next)) {
				next = end
			}
			continue
		}
		to, err := l.sup.Place(ctx, sb.Node)
		if err != nil {
			l.logger.Warn("cannot re-place sandbox", "sandbox", sb.Name, "from", sb.Node, "error", err)
			continue
		}
		if _, err := l.node.Propose(ctx, pb.CommandType_COMMAND_TYPE_SANDBOX_PLACE,
			&pb.SandboxPlaceCommand{Name: sb.Name, Node: to, Cas: sb.ModifyIndex}); err != nil {
			l.logger.Warn("re-placing sandbox failed", "sandbox", sb.Name, "error", err)
			continue
		}
		l.logger.Info("sandbox re-placed", "sandbox", sb.Name, "from", sb.Node, "status", status, "to", to)
	}
	return next
}
