// Package coordination runs coordinated operation plans across the cluster,
// following the commit-then-act flow: the leader plans a submitted plan
// from live facts gathered on the target nodes (package plan does the
// planning), commits it through Raft, and every node's executor runs its
// own share of each phase — pre-checks, operations, post-checks — against
// its local runtime and reports the outcome as a command. Phases advance,
// and rollbacks begin, inside Apply (package state); the leader only
// proposes expiries when deadlines pass.
//
// A step runs at most once: an executor first commits that it starts the
// step, under the nonce of its incarnation, and only then acts; a node that
// restarts mid-step cannot start it again, and the stage fails after its
// deadline instead. A leader that dies mid-plan loses nothing: executors
// report to the next leader, which takes over the deadlines.
//
// A node learns of a stage it takes part in from its replica, or sooner:
// the leader tells it as soon as the stage starts (Internal.StepReady, with
// the stage's deadline), and the node whose report will finish the phase
// before tells the next phase's nodes ahead, so that their starts follow
// that report in the log. Either is a hint: a start the state machine
// refuses as early is proposed again once the stage runs (dispatch.go).
//
// It must not change the replicated state except through commands, nor
// touch the runtime outside a committed step. Deadlines and settling are
// timed by Config.Clock (with the node's, which dates the commands), which
// tests advance.
package coordination
