package fsm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

// randomCommands mixes writes that succeed with writes the domain rules
// refuse: CAS conflicts, bad keys, unknown nodes, trees not placed or
// naming another tree; plans created, started, reported (succeeding and
// failing, so phases advance and rollbacks begin), expired and cancelled;
// cluster snapshots captured, filled with parts (some corrupt), finished,
// imported and deleted; and thresholds set. The commands are built with
// the golden log's builders and aimed, most of the time, at what a scratch
// replica says is running, as the executors and the leader aim theirs.
func randomCommands(t *testing.T, r *rand.Rand, n int) [][]byte {
	m := newMixer(t, r)
	var out [][]byte
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("k%d", r.IntN(20))
		var typ pb.CommandType
		var msg proto.Message
		switch r.IntN(16) {
		case 0, 1:
			typ, msg = pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: key, Value: []byte{byte(i)}}
		case 2:
			cas := uint64(r.IntN(40))
			typ, msg = pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: key, Value: []byte("cas"), Cas: &cas}
		case 3:
			typ, msg = pb.CommandType_COMMAND_TYPE_KV_DELETE, &pb.KVDeleteCommand{Key: key}
		case 4:
			typ, msg = pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "/bad"}
		case 5:
			typ, msg = pb.CommandType_COMMAND_TYPE_NODE_UPSERT, &pb.NodeUpsertCommand{Node: &pb.NodeRecord{Name: key, Status: []string{"alive", "left", "bogus"}[r.IntN(3)]}}
		case 6:
			// Apply leaves the spec's rules to the leader: a strategy this
			// version does not know applies; a record not placed, or whose
			// spec names another tree, is refused.
			rec := &pb.TreeRecord{Name: "t", Node: "n1",
				SpecJson: []byte(`{"name":"t","node":"auto","strategy":"one_for_one","max_restarts":3,"max_seconds":5,"children":[]}`)}
			switch r.IntN(4) {
			case 0:
				rec.SpecJson = []byte(`{"name":"t","strategy":"sideways"}`)
			case 1:
				rec.Node = "auto"
			case 2:
				rec.SpecJson = []byte(`{"name":"u","children":[]}`)
			}
			typ, msg = pb.CommandType_COMMAND_TYPE_TREE_APPLY, &pb.TreeApplyCommand{Tree: rec}
		case 7, 8, 9, 10:
			typ, msg = m.planCommand()
		case 11, 12, 13, 14:
			typ, msg = m.snapshotCommand()
		default:
			typ, msg = m.thresholdsCommand()
		}
		out = append(out, m.add(typ, msg))
	}
	return out
}

// mixer builds random plan, snapshot and thresholds commands. Each command
// is applied to a scratch replica as it is made, so that the next one can
// aim at the state the others left.
type mixer struct {
	t   *testing.T
	r   *rand.Rand
	f   *FSM
	now time.Time
	// creates holds a PLAN_CREATE per safety level (id and deadline set at
	// each use) and its result.
	creates map[plan.SafetyLevel]*pb.PlanCreateCommand
	results map[plan.SafetyLevel]*plan.Result
	plans   int    // plan ids used so far
	snaps   int    // snapshot ids used so far
	index   uint64 // the Raft index of the last command made
}

var mixerLevels = []plan.SafetyLevel{plan.Strict, plan.Moderate, plan.Permissive}

func newMixer(t *testing.T, r *rand.Rand) *mixer {
	m := &mixer{t: t, r: r, f: newFSM(t, nil), now: goldenT0,
		creates: map[plan.SafetyLevel]*pb.PlanCreateCommand{}, results: map[plan.SafetyLevel]*plan.Result{}}
	// The plans' operations are placed by the tree "web" of a leader's
	// state; the mix itself does not need it.
	aux := newFSM(t, nil)
	apply(aux, 1, entry(t, pb.CommandType_COMMAND_TYPE_TREE_APPLY, &pb.TreeApplyCommand{Tree: treeRecord(t, goldenWebHCL, "web.hcl", "n1", false)}))
	for _, lvl := range mixerLevels {
		doc := bytes.Replace([]byte(goldenPlanJSON), []byte(`"moderate"`), []byte(`"`+string(lvl)+`"`), 1)
		m.creates[lvl], m.results[lvl] = planCreate(t, aux.State(), "plan-template", string(doc), goldenFacts(), goldenT0)
	}
	return m
}

// add encodes a command at the mixer's clock, applies it to the scratch
// replica at the index it will have in the test, and moves the clock on by
// 250 ms.
func (m *mixer) add(typ pb.CommandType, msg proto.Message) []byte {
	data, err := Encode(typ, msg, m.now, goldenLeader)
	if err != nil {
		m.t.Fatal(err)
	}
	m.index++
	apply(m.f, m.index, data)
	m.now = m.now.Add(250 * time.Millisecond)
	return data
}

func (m *mixer) pick(p float64) bool { return m.r.Float64() < p }

// planID returns a running plan most of the time, else one of the last
// few plans, or now and then an id never created.
func (m *mixer) planID() string {
	_, plans, err := m.f.State().Plans(nil)
	if err != nil {
		m.t.Fatal(err)
	}
	var running []string
	for _, p := range plans {
		if !state.PlanDone(p) {
			running = append(running, p.Id)
		}
	}
	switch {
	case len(running) > 0 && m.pick(0.85):
		return running[m.r.IntN(len(running))]
	case m.plans == 0 || m.pick(0.05):
		return "plan-mix-none"
	}
	return fmt.Sprintf("plan-mix-%d", max(0, m.plans-1-m.r.IntN(3)))
}

// nonce is the executor incarnation of a step: nearly always the first.
func (m *mixer) nonce() string {
	if m.pick(0.95) {
		return "exec-1"
	}
	return "exec-2"
}

// target picks a stage and a node of a plan: most of the time the running
// stage and one of its steps in status want (pending for a start, started
// for a report), as an executor would; anything otherwise.
func (m *mixer) target(id string, want pb.StepStatus) (*pb.PlanRecord, *pb.Stage, string) {
	rec, _, _ := m.f.State().Plan(nil, id)
	nodes := []string{"n1", "n2"}
	if rec != nil && rec.Current >= 0 && int(rec.Current) < len(rec.Stages) && m.pick(0.85) {
		st := rec.Stages[rec.Current]
		var cands []string
		for _, s := range st.Steps {
			if state.StepStatusOf(s) == want {
				cands = append(cands, s.Node)
			}
		}
		if len(cands) > 0 {
			return rec, st, cands[m.r.IntN(len(cands))]
		}
		if len(st.Nodes) > 0 {
			return rec, st, st.Nodes[m.r.IntN(len(st.Nodes))]
		}
	}
	other := []*pb.Stage{{Key: "phase-0"}, {Key: "phase-1", Phase: 1}, {Key: "rollback-0", Kind: state.StageKindRollback},
		{Key: "rollback-1", Kind: state.StageKindRollback, Phase: 1}}[m.r.IntN(4)]
	if rec != nil {
		for _, st := range rec.Stages {
			if st.Key == other.Key {
				return rec, st, nodes[m.r.IntN(2)]
			}
		}
	}
	return rec, other, nodes[m.r.IntN(2)]
}

func (m *mixer) planCommand() (pb.CommandType, proto.Message) {
	switch m.r.IntN(14) {
	case 0:
		lvl := mixerLevels[m.r.IntN(len(mixerLevels))]
		c := proto.Clone(m.creates[lvl]).(*pb.PlanCreateCommand)
		id := m.planID()
		if m.pick(0.8) {
			id = fmt.Sprintf("plan-mix-%d", m.plans)
			m.plans++
		}
		c.Id, c.Spec.Id = id, id
		if m.pick(0.3) {
			c.Spec.Shape = nil // committed before shapes: derived from the result
		}
		c.DeadlineUnixNano = m.now.Add(30 * time.Second).UnixNano()
		if m.pick(0.05) {
			c.StageTimeoutMs = 0
		}
		return pb.CommandType_COMMAND_TYPE_PLAN_CREATE, c
	case 1, 2, 3, 4, 5:
		id := m.planID()
		_, st, node := m.target(id, pb.StepStatus_STEP_STATUS_PENDING)
		return pb.CommandType_COMMAND_TYPE_PLAN_STEP_START, &pb.PlanStepStartCommand{PlanId: id, Stage: st.Key, Node: node, Nonce: m.nonce()}
	case 6, 7, 8, 9, 10, 11:
		id := m.planID()
		rec, st, node := m.target(id, pb.StepStatus_STEP_STATUS_STARTED)
		res := m.results[plan.Moderate]
		if rec != nil {
			res = m.results[plan.SafetyLevel(rec.SafetyLevel)]
		}
		var step *pb.Step
		switch {
		case st.Kind == state.StageKindRollback:
			step = rollbackReport(res, st, node, m.nonce())
		case int(st.Phase) < len(res.Phases):
			fail := ""
			if m.pick(0.2) {
				fail = string(plan.CheckOperationEffect)
			}
			step = phaseReport(res, int(st.Phase), node, m.nonce(), fail)
		default:
			step = &pb.Step{Node: node, Nonce: m.nonce()}
		}
		if m.pick(0.05) {
			step.Error = "the executor crashed"
		}
		return pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT, &pb.PlanStepReportCommand{PlanId: id, Stage: st.Key, Step: step}
	case 12:
		id := m.planID()
		_, st, _ := m.target(id, pb.StepStatus_STEP_STATUS_UNSPECIFIED) // any step
		return pb.CommandType_COMMAND_TYPE_PLAN_EXPIRE, &pb.PlanExpireCommand{PlanId: id, Stage: st.Key}
	default:
		return pb.CommandType_COMMAND_TYPE_PLAN_CANCEL, &pb.PlanCancelCommand{PlanId: m.planID(), Reason: "changed my mind"}
	}
}

// snapshotID returns a snapshot still taking parts most of the time, else
// one of the ids used so far (a deleted one too), or now and then one
// never used.
func (m *mixer) snapshotID() string {
	_, snaps, err := m.f.State().Snapshots(nil)
	if err != nil {
		m.t.Fatal(err)
	}
	var open []string
	for _, s := range snaps {
		if st := state.SnapshotStatusOf(s); st == pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING || st == pb.SnapshotStatus_SNAPSHOT_STATUS_IMPORTING {
			open = append(open, s.Id)
		}
	}
	switch {
	case len(open) > 0 && m.pick(0.85):
		return open[m.r.IntN(len(open))]
	case m.snaps == 0 || m.pick(0.05):
		return "snap-mix-none"
	}
	return fmt.Sprintf("snap-mix-%d", max(0, m.snaps-1-m.r.IntN(4)))
}

// partNode picks a node whose part of snapshot id is still pending, most
// of the time.
func (m *mixer) partNode(id string) string {
	rec, err := m.f.State().SnapshotRecord(nil, id)
	if err != nil {
		m.t.Fatal(err)
	}
	if rec != nil && m.pick(0.9) {
		var pending []string
		for _, p := range rec.Parts {
			if state.PartStatusOf(p) == pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_PENDING {
				pending = append(pending, p.Node)
			}
		}
		if len(pending) > 0 {
			return pending[m.r.IntN(len(pending))]
		}
	}
	return []string{"n1", "n2"}[m.r.IntN(2)]
}

// partOf is a node's part of snapshot id, in chunks of a few hundred
// bytes; the same id and node always give the same part.
func (m *mixer) partOf(id, node string) []*pb.SnapshotPartCommand {
	web := treeRecord(m.t, goldenWebHCL, "web.hcl", "n1", false)
	web.ModifyIndex = 1
	return partCommands(m.t, id, newGoldenPart(m.t, node, goldenT0, web), 600)
}

func (m *mixer) snapshotCommand() (pb.CommandType, proto.Message) {
	switch m.r.IntN(10) {
	case 0, 1:
		id := fmt.Sprintf("snap-mix-%d", m.snaps)
		m.snaps++
		nodes := [][]string{{"n1"}, {"n2"}, {"n2", "n1"}, {"n1", "n1"}}[m.r.IntN(4)]
		return pb.CommandType_COMMAND_TYPE_SNAPSHOT_CAPTURE, &pb.SnapshotCaptureCommand{Id: id, Nodes: nodes,
			Options: &pb.SnapshotOptions{IncludeState: m.pick(0.5)}, DeadlineUnixNano: m.now.Add(time.Duration(2+m.r.IntN(8)) * time.Second).UnixNano()}
	case 2, 3, 4, 5:
		id := m.snapshotID()
		part := m.partOf(id, m.partNode(id))
		c := proto.Clone(part[m.r.IntN(len(part))]).(*pb.SnapshotPartCommand)
		if m.pick(0.1) {
			c.Data[0] ^= 0xff
		}
		return pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, c
	case 6:
		return pb.CommandType_COMMAND_TYPE_SNAPSHOT_FINISH, &pb.SnapshotFinishCommand{SnapshotId: m.snapshotID()}
	case 7:
		id := fmt.Sprintf("snap-mix-%d", m.snaps)
		m.snaps++
		final := []string{state.SnapshotComplete, state.SnapshotPartial, "capturing", ""}[m.r.IntN(4)]
		c := importCommand(id, final, "imported", goldenT0, m.partOf(id, "n1"), "n2")
		if final == "" { // by enum: a final status, one that is not, or a newer version's
			c.Record.FinalStatusCode = []pb.SnapshotStatus{pb.SnapshotStatus_SNAPSHOT_STATUS_PARTIAL, pb.SnapshotStatus_SNAPSHOT_STATUS_IMPORTING, 99}[m.r.IntN(3)]
		}
		return pb.CommandType_COMMAND_TYPE_SNAPSHOT_IMPORT, c
	default:
		return pb.CommandType_COMMAND_TYPE_SNAPSHOT_DELETE, &pb.SnapshotDeleteCommand{SnapshotId: m.snapshotID()}
	}
}

func (m *mixer) thresholdsCommand() (pb.CommandType, proto.Message) {
	_, cur, _, err := m.f.State().Thresholds(nil)
	if err != nil {
		m.t.Fatal(err)
	}
	next := proto.Clone(cur).(*pb.ThresholdsRecord)
	next.MaxCpuPercent = float64(50 + m.r.IntN(60)) // above 100 now and then
	next.MaxProcessCount = int64(m.r.IntN(3)) * 10_000
	c := &pb.ThresholdsSetCommand{Thresholds: next}
	switch m.r.IntN(3) {
	case 0:
		c.Cas = u64(cur.ModifyIndex)
	case 1:
		c.Cas = u64(uint64(m.r.IntN(5)))
	}
	return pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET, c
}

// Applying entries in batches gives the same results and the same state as
// applying them one by one, refused commands included.
func TestApplyBatchMatchesSequential(t *testing.T) {
	reached := map[string]bool{}
	for seed := uint64(1); seed <= 5; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		cmds := randomCommands(t, r, 400)
		seq, bat := newFSM(t, nil), newFSM(t, nil)
		var want []string
		for i, c := range cmds {
			res := apply(seq, uint64(i+1), c)
			want = append(want, fmt.Sprint(res.Err))
		}
		got := applyInBatches(t, bat, r, cmds)
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("seed %d entry %d: sequential %q, batched %q", seed, i+1, want[i], got[i])
			}
		}
		if a, b := snapshotBytes(t, seq), snapshotBytes(t, bat); !bytes.Equal(a, b) {
			t.Fatalf("seed %d: states differ after batched and sequential application", seed)
		}
		_, plans, _ := seq.State().Plans(nil)
		for _, p := range plans {
			reached["plan "+p.Status] = true
		}
		_, snaps, _ := seq.State().Snapshots(nil)
		for _, s := range snaps {
			reached["snapshot "+s.Status] = true
		}
	}
	// The mix reaches every end a plan or a snapshot can come to, so the
	// comparison covers phases advancing, rollbacks and expiries.
	for _, want := range []string{"plan succeeded", "plan rolled_back", "plan failed", "plan cancelled",
		"snapshot complete", "snapshot partial"} {
		if !reached[want] {
			t.Errorf("no seed reaches %s: the random mix no longer exercises it", want)
		}
	}
}

// applyInBatches applies entries in batches of random sizes, each with a
// configuration entry at its end, and returns each command's error.
func applyInBatches(t *testing.T, f *FSM, r *rand.Rand, cmds [][]byte) []string {
	t.Helper()
	var got []string
	for i := 0; i < len(cmds); {
		n := 1 + r.IntN(64)
		var logs []*raft.Log
		for j := i; j < len(cmds) && j < i+n; j++ {
			logs = append(logs, &raft.Log{Index: uint64(j + 1), Type: raft.LogCommand, Data: cmds[j]})
		}
		// A configuration entry in the middle is skipped.
		logs = append(logs, &raft.Log{Index: 0, Type: raft.LogConfiguration})
		out := f.ApplyBatch(logs)
		if len(out) != len(logs) || out[len(out)-1] != nil {
			t.Fatalf("ApplyBatch returned %d results (last %v) for %d logs", len(out), out[len(out)-1], len(logs))
		}
		for _, o := range out[:len(out)-1] {
			got = append(got, fmt.Sprint(o.(*Result).Err))
		}
		i += len(logs) - 1
	}
	return got
}

// The golden logs applied in batches give their recorded outcomes and
// their golden state (see goldenComparable).
func TestGoldenInBatches(t *testing.T) {
	for _, v := range goldenVersions(t) {
		for seed := uint64(1); seed <= 3; seed++ {
			f := newFSM(t, nil)
			var outcomes []string
			for i := 0; i < len(v.entries); {
				n := 1 + rand.New(rand.NewPCG(seed, uint64(i))).IntN(16)
				var logs []*raft.Log
				for j := i; j < len(v.entries) && j < i+n; j++ {
					logs = append(logs, &raft.Log{Index: uint64(j + 1), Type: raft.LogCommand, Data: v.entries[j]})
				}
				for _, o := range f.ApplyBatch(logs) {
					outcomes = append(outcomes, outcomeOf(o.(*Result).Err))
				}
				i += len(logs)
			}
			for i, e := range v.index.Entries {
				if outcomes[i] != e.Outcome {
					t.Errorf("%s seed %d entry %d (%s): batched outcome %s, golden %s", v.name, seed, i+1, e.What, outcomes[i], e.Outcome)
				}
			}
			if !bytes.Equal(goldenComparable(t, v.name, snapshotBytes(t, f)), v.state) {
				t.Errorf("%s seed %d: state after the batched golden log differs from the golden state", v.name, seed)
			}
		}
	}
}

func snapshotBytes(t *testing.T, f *FSM) []byte {
	t.Helper()
	s, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sk sink
	if err := s.Persist(&sk); err != nil {
		t.Fatal(err)
	}
	return sk.Bytes()
}
