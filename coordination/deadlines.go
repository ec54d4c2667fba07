package coordination

import (
	"context"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

// deadlines runs on the leader: when a running stage's deadline (or, for a
// phase, the plan's) passes, it proposes the expiry; the FSM checks the
// deadline against the entry's time and moves the plan on.
func (l *Layer) deadlines(ctx context.Context) {
	for {
		st := l.node.State()
		ws := memdb.NewWatchSet()
		_, plans, err := st.Plans(ws)
		var next time.Time
		if err == nil {
			now := l.clock.Now()
			for _, rec := range plans {
				stage := state.RunningStage(rec)
				if stage == nil {
					continue
				}
				due := time.Unix(0, stage.DeadlineUnixNano)
				if stage.Kind == state.StageKindPhase && rec.DeadlineUnixNano < stage.DeadlineUnixNano {
					due = time.Unix(0, rec.DeadlineUnixNano)
				}
				if now.Before(due) {
					if next.IsZero() || due.Before(next) {
						next = due
					}
					continue
				}
				if _, err := l.node.Propose(ctx, pb.CommandType_COMMAND_TYPE_PLAN_EXPIRE, &pb.PlanExpireCommand{PlanId: rec.Id, Stage: stage.Key}); err != nil {
					l.logger.Warn("expiring stage", "plan", rec.Id, "stage", stage.Key, "error", err)
					retry := now.Add(200 * time.Millisecond)
					if next.IsZero() || retry.Before(next) {
						next = retry
					}
				} else {
					l.logger.Info("stage expired", "plan", rec.Id, "stage", stage.Key)
				}
			}
		}
		if !next.IsZero() {
			next = next.Add(time.Millisecond) // the FSM expires at, not before, the deadline
		}
		if st.WaitChangeClock(ctx, l.clock, ws, next) != nil {
			return
		}
	}
}
