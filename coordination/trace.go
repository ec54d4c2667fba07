package coordination

import "time"

// StepEvent is one moment of a step on its node, in order: the executor
// took the step on (StepNoticed), its start was committed (StepStarted),
// its pre-checks ran (StepPreChecked), its operations ran
// (StepOperated), its post-checks passed or ran out of time
// (StepChecked), the next stage's nodes were told ahead (StepHinted), and
// its report was committed (StepReported). A step
// abandoned or refused stops early.
type StepEvent string

// The events of a step.
const (
	StepNoticed    StepEvent = "noticed"
	StepStarted    StepEvent = "started"
	StepPreChecked StepEvent = "pre_checked"
	StepOperated   StepEvent = "operated"
	StepChecked    StepEvent = "checked"
	StepHinted     StepEvent = "hinted"
	StepReported   StepEvent = "reported"
	// StepAheadRefused: a step's start was refused as its stage was not
	// running: taken on ahead (hintNext), it landed before the report that
	// starts the stage. It is proposed again once the stage runs.
	StepAheadRefused StepEvent = "ahead_refused"
)

// StepTrace is called, when Config.Trace is set, at each StepEvent of a
// step this node runs, with the wall-clock time: where a phase's time goes
// (BenchmarkPlanToCompletion reports it).
type StepTrace func(planID, stage, node string, ev StepEvent, at time.Time)

func (l *Layer) trace(planID, stage string, ev StepEvent) {
	if l.cfg.Trace != nil {
		l.cfg.Trace(planID, stage, l.node.Name(), ev, time.Now())
	}
}
