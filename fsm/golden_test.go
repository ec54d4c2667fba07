package fsm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Golden compatibility files (issue 10): testdata/golden/<version>/ holds a
// Raft log made by that version's command encoding (Encode, as node.Apply
// calls it) with payloads built the way its layers built them, the outcome
// of each entry, and the state snapshot after the whole log. TestGolden
// applies every version's log to a fresh FSM and checks the outcomes and
// the state, so a later binary keeps applying what an earlier one
// committed: the current version's state byte for byte; an older one's
// byte for byte once the record fields added since (goldenAdded) are
// cleared, those fields agreeing with the ones they restate. Every
// version's state.bin restores and persists back byte for byte: records
// written before are read as they are.
//
//	go test ./fsm -run '^TestGolden$' -update
//
// regenerates the current version only, and only by appending: the
// entries already there must come out byte for byte and with the same
// outcomes, or the generator refuses. A change of the replicated format
// adds a new version directory (bump goldenCurrent, list the fields it
// adds in goldenAdded) and leaves the old ones as they are.
var update = flag.Bool("update", false, "regenerate testdata/golden/"+goldenCurrent+" (append-only)")

// goldenCurrent is the version directory the generator writes. v1 is the
// format of steward at commit 245185f; v2 adds the plan's shape to
// PLAN_CREATE and the statuses' enums to the records. v3 adds the ACL
// commands (ACL_BOOTSTRAP .. ACL_TOKEN_DELETE) and their tables; its log
// was made when a supervisor child's default shutdown had become infinity
// (OTP's), so that v2's entries no longer come out byte for byte.
const goldenCurrent = "v3"

// goldenAdded lists the record fields each version added to the state.
// Applying an older version's log, this binary fills them, so its state is
// the older golden state once they are cleared (goldenComparable); and
// they restate what older fields say (checkStatusesAgree).
var goldenAdded = []struct {
	version string
	fields  []protoreflect.FullName
}{
	{"v2", []protoreflect.FullName{
		"steward.v1.PlanSpecRecord.shape",
		"steward.v1.PlanRecord.status_code", "steward.v1.Stage.status_code", "steward.v1.Step.status_code",
		"steward.v1.SnapshotRecord.status_code", "steward.v1.SnapshotRecord.final_status_code", "steward.v1.SnapshotPartInfo.status_code",
		"steward.v1.NodeRecord.status_code",
	}},
}

// The files of one version.
const (
	goldenEntriesFile = "entries.bin" // uvarint length | raft.Log data, per entry, applied at index 1, 2, …
	goldenIndexFile   = "index.json"  // per entry: index, type, what it is, outcome
	goldenStateFile   = "state.bin"   // state.Snapshot.Persist after the last entry
)

// outcomeOK is the recorded outcome of an entry whose Result has no error.
const outcomeOK = "ok"

// goldenT0 is the generator's clock at the first entry; every timestamp
// and deadline derives from it.
var goldenT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// goldenLeader proposes every entry (followers' step reports and snapshot
// parts are forwarded to it and proposed by it).
const goldenLeader = "n1"

// coordinationStageTimeout is coordination.DefaultConfig().StageTimeout,
// which the leader commits in every PLAN_CREATE.
const coordinationStageTimeout = 10 * time.Second

// snapshotCaptureTimeout is snapshot.DefaultConfig().CaptureTimeout, the
// deadline the leader gives a capture.
const snapshotCaptureTimeout = 30 * time.Second

type goldenIndex struct {
	Comment string             `json:"comment"`
	Entries []goldenIndexEntry `json:"entries"`
}

type goldenIndexEntry struct {
	// Index is the Raft index the entry is applied at.
	Index uint64 `json:"index"`
	// Type is the command type's name, or its number when this binary has
	// no name for it.
	Type string `json:"type"`
	What string `json:"what"`
	// Outcome is "ok" or the kind of the Result's error (see outcomeKinds).
	Outcome string `json:"outcome"`
}

// outcomeKinds names the errors an entry's Result may carry, the most
// specific first.
var outcomeKinds = []struct {
	name string
	err  error
}{
	{"fsm.ErrMalformedCommand", ErrMalformedCommand},
	{"fsm.ErrUnknownCommand", ErrUnknownCommand},
	{"state.ErrInvalidThresholds", state.ErrInvalidThresholds},
	{"state.ErrNotFound", state.ErrNotFound},
	{"state.ErrCASConflict", state.ErrCASConflict},
	{"state.ErrInvalidKey", state.ErrInvalidKey},
	{"state.ErrValueTooLarge", state.ErrValueTooLarge},
	{"state.ErrStepTaken", state.ErrStepTaken},
	{"state.ErrPlanNotRunning", state.ErrPlanNotRunning},
	{"state.ErrNotExpired", state.ErrNotExpired},
	{"state.ErrLimit", state.ErrLimit},
	{"state.ErrCorruptSnapshot", state.ErrCorruptSnapshot},
	{"state.ErrInUse", state.ErrInUse},
	{"state.ErrDeployState", state.ErrDeployState},
	{"state.ErrSandboxState", state.ErrSandboxState},
	{"state.ErrACLBootstrapped", state.ErrACLBootstrapped},
	{"state.ErrInvalidRecord", state.ErrInvalidRecord},
}

func outcomeOf(err error) string {
	if err == nil {
		return outcomeOK
	}
	for _, k := range outcomeKinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "unclassified: " + err.Error()
}

// goldenLog builds a golden log entry by entry. Each entry is applied to f
// as it is added, so a builder reads the state as the leader would before
// proposing, and the outcome the script expects is checked at once.
type goldenLog struct {
	t     testing.TB
	f     *FSM
	now   time.Time
	data  [][]byte
	index []goldenIndexEntry
}

func newGoldenLog(t testing.TB) *goldenLog {
	t.Helper()
	f, err := New(Config{OnHalt: func(err error) { t.Errorf("golden log halted the FSM: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	return &goldenLog{t: t, f: f, now: goldenT0}
}

// add encodes a command at the log's clock, applies it and checks that its
// outcome is want. The clock then moves on by 100 ms.
func (g *goldenLog) add(what, want string, typ pb.CommandType, payload proto.Message) *Result {
	g.t.Helper()
	data, err := Encode(typ, payload, g.now, goldenLeader)
	if err != nil {
		g.t.Fatal(err)
	}
	return g.addRaw(what, want, typ, data)
}

// addRaw adds an entry whose bytes are given as they are.
func (g *goldenLog) addRaw(what, want string, typ pb.CommandType, data []byte) *Result {
	g.t.Helper()
	idx := uint64(len(g.data) + 1)
	res := apply(g.f, idx, data)
	if got := outcomeOf(res.Err); got != want {
		g.t.Fatalf("golden entry %d (%s): outcome %s, the script expects %s (%v)", idx, what, got, want, res.Err)
	}
	g.data = append(g.data, data)
	g.index = append(g.index, goldenIndexEntry{Index: idx, Type: typ.String(), What: what, Outcome: outcomeOf(res.Err)})
	g.now = g.now.Add(100 * time.Millisecond)
	return res
}

// The specs the golden trees are applied from, as an operator writes them.
const (
	goldenWebHCL = `tree "web" {
  strategy     = "one_for_one"
  max_restarts = 5
  max_seconds  = 10

  child "hits" {
    behavior = "counter"
    name     = "hits"
  }
  child "sessions" {
    behavior = "kv"
    name     = "sessions"
    args     = { max_keys = "1000" }
  }
  child "backend" {
    type         = "supervisor"
    strategy     = "rest_for_one"
    max_restarts = 3
    max_seconds  = 5

    child "db" {
      behavior = "kv"
    }
    child "requests" {
      behavior = "counter"
      restart  = "transient"
      shutdown = "brutal_kill"
    }
  }
  child "clock" {
    behavior = "ticker"
    args     = { target = "hits", interval = "1s", body = "inc" }
  }
}
`
	goldenPoolJSON = `{"name":"pool","strategy":"simple_one_for_one","max_restarts":10,"max_seconds":60,
 "children":[{"id":"worker","behavior":"echo","restart":"transient","shutdown":"2s","args":{"prefix":"pool: "}}]}`
	goldenPeerJSON = `{"name":"peers","children":[{"id":"peer","behavior":"echo","name":"peer"}]}`
)

// treeRecord builds a TREE_APPLY record as the supervision layer does
// (supervision/service_supervision.go, applyLocal): parse the file, pin
// the node the leader placed it on, normalize, validate, and commit the
// canonical JSON of the normalized tree.
func treeRecord(t testing.TB, src, filename, node string, auto bool) *pb.TreeRecord {
	t.Helper()
	tree, err := spec.Parse([]byte(src), filename)
	if err != nil {
		t.Fatal(err)
	}
	spec.Normalize(tree)
	if err := spec.Validate(tree, spec.ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	return &pb.TreeRecord{Name: tree.Name, Node: node, SpecJson: spec.CanonicalTree(tree), AutoPlaced: auto}
}

// setStrategy changes a committed tree's root strategy as SetStrategy does
// (supervision/service_supervision.go, setStrategyLocal).
func setStrategy(t testing.TB, rec *pb.TreeRecord, strategy spec.Strategy, maxRestarts int) *pb.TreeApplyCommand {
	t.Helper()
	tree, err := state.DecodeTree(rec)
	if err != nil {
		t.Fatal(err)
	}
	tree.Strategy, tree.MaxRestarts = strategy, maxRestarts
	if err := spec.Validate(tree, spec.ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	cas := rec.ModifyIndex
	return &pb.TreeApplyCommand{Tree: &pb.TreeRecord{Name: rec.Name, Node: rec.Node, SpecJson: spec.CanonicalTree(tree), AutoPlaced: rec.AutoPlaced}, Cas: &cas}
}

// The golden plan: kill web/hits (on the tree's node), which is linked to
// the process registered as peer on n2, then suspend peer. The implicit
// edge puts them in two phases.
const goldenPlanJSON = `{"safety_level":"moderate","timeout":"30s","operations":[
  {"id":"kill-hits","type":"kill_process","target":{"supervisor":"web","child_id":"hits"}},
  {"id":"suspend-peer","type":"suspend_process","node":"n2","target":{"name":"peer"}}]}`

// goldenFacts are the facts the leader gathers for goldenPlanJSON.
func goldenFacts() *plan.Facts {
	return &plan.Facts{
		Operations: []plan.OperationFacts{
			{OpID: "kill-hits", Target: plan.ProcessFacts{Exists: true, PID: "n1/12", Node: "n1", Alive: true, Kind: plan.KindProcess, Tree: "web", Slot: "hits", Restart: spec.Permanent, Status: plan.Running},
				Affected: []plan.AffectedProcess{{PID: "n2/7", Node: "n2", Relation: plan.Linked, Tree: "peers", Slot: "peer"}}},
			{OpID: "suspend-peer", Target: plan.ProcessFacts{Exists: true, PID: "n2/7", Node: "n2", Alive: true, Kind: plan.KindProcess, Tree: "peers", Slot: "peer", Restart: spec.Permanent, Status: plan.Running}},
		},
		Nodes: []plan.NodeFacts{
			{Node: "n1", Alive: true, ProcessCount: 14, MemoryBytes: 48 << 20, TotalQueueLength: 3, MaxQueueLength: 2},
			{Node: "n2", Alive: true, ProcessCount: 9, MemoryBytes: 40 << 20, TotalQueueLength: 0},
		},
	}
}

// planCreate builds a PLAN_CREATE as the coordination layer does
// (coordination/prepare.go prepare, coordination/service.go applyLocal):
// parse and validate the file, give each operation on a supervisor without
// a node the node of its tree, build the phases from the gathered facts,
// and commit the JSON of the plan, the facts and the result, and the
// result's shape (since v2).
func planCreate(t testing.TB, st *state.Store, id, doc string, facts *plan.Facts, now time.Time) (*pb.PlanCreateCommand, *plan.Result) {
	t.Helper()
	p, err := plan.Parse([]byte(doc), "plan.json")
	if err != nil {
		t.Fatal(err)
	}
	opts := plan.Options{Now: now}
	if err := plan.Validate(p, opts); err != nil {
		t.Fatal(err)
	}
	for i := range p.Operations {
		op := &p.Operations[i]
		if op.Node != "" || op.Target.Supervisor == "" {
			continue
		}
		rec, err := st.Tree(op.Target.Supervisor)
		if err != nil || rec == nil {
			t.Fatalf("operation %s: tree %q is not in the state (%v)", op.ID, op.Target.Supervisor, err)
		}
		op.Node = rec.Node
	}
	res, err := plan.Build(p, facts, opts)
	if err != nil {
		t.Fatal(err)
	}
	planJSON, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	factsJSON, err := json.Marshal(facts)
	if err != nil {
		t.Fatal(err)
	}
	resJSON, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	timeout, err := time.ParseDuration(res.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	return &pb.PlanCreateCommand{
		Id:               id,
		Spec:             &pb.PlanSpecRecord{Id: id, PlanJson: planJSON, FactsJson: factsJSON, ResultJson: resJSON, Shape: state.PlanShapeOf(res)},
		DeadlineUnixNano: now.Add(timeout).UnixNano(),
		StageTimeoutMs:   coordinationStageTimeout.Milliseconds(),
		SubmittedBy:      goldenLeader,
	}, res
}

// phaseReport builds node's report of phase i as the executor does
// (coordination/executor.go phaseStep): every pre-check, the node's
// operations, every post-check. failCheck, when set, names a post-check
// that did not pass.
func phaseReport(res *plan.Result, i int, node, nonce, failCheck string) *pb.Step {
	ph := res.Phases[i]
	step := &pb.Step{Node: node, Nonce: nonce}
	for _, c := range ph.PreChecks {
		step.PreChecks = append(step.PreChecks, &pb.CheckOutcome{Kind: string(c.Kind), Ok: true})
	}
	for _, id := range ph.Operations {
		if op := res.Operation(id); op != nil && op.Node == node {
			step.Operations = append(step.Operations, &pb.OpOutcome{Op: op.ID, Type: string(op.Type), Ran: true, Ok: true,
				Pid: node + "/7", DurationUs: 840})
		}
	}
	for _, c := range ph.PostChecks {
		o := &pb.CheckOutcome{Kind: string(c.Kind), Ok: true}
		if string(c.Kind) == failCheck {
			o.Ok, o.Failures = false, []string{node + "/7 is still running, want suspended"}
		}
		step.PostChecks = append(step.PostChecks, o)
	}
	return step
}

// rollbackReport builds node's report of a rollback stage as the executor
// does (coordination/executor.go rollbackStep): the node's compensations.
func rollbackReport(res *plan.Result, st *pb.Stage, node, nonce string) *pb.Step {
	step := &pb.Step{Node: node, Nonce: nonce}
	for _, id := range st.Operations {
		c := res.Compensation(int(st.Phase), id)
		if c == nil || c.Operation == nil || c.Operation.Node != node {
			continue
		}
		step.Operations = append(step.Operations, &pb.OpOutcome{Op: c.Operation.ID, Type: string(c.Operation.Type), Ran: true, Ok: true,
			Pid: node + "/7", DurationUs: 310})
	}
	return step
}

// goldenPart mirrors snapshot.Part (snapshot/part.go), the JSON document a
// node commits as its part of a cluster snapshot. The fsm package cannot
// import snapshot (snapshot imports node, which imports fsm);
// snapshot/fuzz_test.go decodes the golden parts with snapshot.DecodePart
// to keep this mirror honest.
type goldenPart struct {
	Node       string    `json:"node"`
	CapturedAt time.Time `json:"captured_at"`
	Options    struct {
		State  bool `json:"include_state"`
		Queues bool `json:"include_queues"`
		Links  bool `json:"include_links"`
	} `json:"options"`
	Trees     []goldenPartTree    `json:"trees"`
	Processes []goldenPartProcess `json:"processes"`
	Names     []goldenPartName    `json:"registered_names"`
	System    struct {
		HeapBytes          uint64 `json:"heap_bytes"`
		RuntimeMemoryBytes int64  `json:"runtime_memory_bytes"`
		Goroutines         int    `json:"goroutines"`
		Processes          int    `json:"processes"`
		QueueTotal         int    `json:"queue_total"`
	} `json:"system"`
}

type goldenPartTree struct {
	Name      string            `json:"name"`
	Status    string            `json:"status"`
	Root      string            `json:"root"`
	SpecIndex uint64            `json:"spec_index"`
	Spec      spec.Tree         `json:"spec"`
	Children  []goldenPartChild `json:"children"`
}

type goldenPartChild struct {
	Path     string `json:"path"`
	PID      string `json:"pid,omitempty"`
	Type     string `json:"type"`
	Behavior string `json:"behavior,omitempty"`
	State    string `json:"state"`
	Restart  string `json:"restart"`
	Restarts int    `json:"restarts"`
	Strategy string `json:"strategy,omitempty"`
}

type goldenPartProcess struct {
	PID            string    `json:"pid"`
	Tree           string    `json:"tree,omitempty"`
	ChildID        string    `json:"child_id,omitempty"`
	Parent         string    `json:"parent,omitempty"`
	Supervisor     bool      `json:"supervisor"`
	Behavior       string    `json:"behavior"`
	Status         string    `json:"status"`
	Restarts       int       `json:"restarts"`
	QueueLen       int       `json:"queue_len"`
	MessagesIn     uint64    `json:"messages_in"`
	MessagesOut    uint64    `json:"messages_out"`
	MemoryBytes    int64     `json:"memory_bytes"`
	RegisteredName string    `json:"registered_name,omitempty"`
	StartedAt      time.Time `json:"started_at"`
	State          []byte    `json:"state,omitempty"`
}

type goldenPartName struct {
	Name string `json:"name"`
	PID  string `json:"pid"`
}

// newGoldenPart is node's runtime as captured at at: the trees it runs
// (spec from the committed records) with a process per child.
func newGoldenPart(t testing.TB, node string, at time.Time, trees ...*pb.TreeRecord) *goldenPart {
	t.Helper()
	p := &goldenPart{Node: node, CapturedAt: at, Trees: []goldenPartTree{}, Processes: []goldenPartProcess{}, Names: []goldenPartName{}}
	p.Options.State = true
	seq := 1
	pid := func() string { seq++; return fmt.Sprintf("%s/%d", node, seq) }
	for _, rec := range trees {
		tree, err := state.DecodeTree(rec)
		if err != nil {
			t.Fatal(err)
		}
		root := pid()
		pt := goldenPartTree{Name: tree.Name, Status: "running", Root: root, SpecIndex: rec.ModifyIndex, Spec: *tree, Children: []goldenPartChild{}}
		p.Processes = append(p.Processes, goldenPartProcess{PID: root, Tree: tree.Name, Supervisor: true, Behavior: "supervisor",
			Status: "running", StartedAt: at.Add(-time.Hour)})
		for _, c := range tree.Children {
			cp := pid()
			pt.Children = append(pt.Children, goldenPartChild{Path: c.ID, PID: cp, Type: string(c.Type), Behavior: c.Behavior,
				State: "running", Restart: string(c.Restart), Strategy: string(c.Strategy)})
			proc := goldenPartProcess{PID: cp, Tree: tree.Name, ChildID: c.ID, Parent: root, Supervisor: c.Type == spec.Supervisor,
				Behavior: c.Behavior, Status: "running", MessagesIn: 3600, MemoryBytes: 4096, RegisteredName: c.Name,
				StartedAt: at.Add(-time.Hour)}
			if c.Type != spec.Supervisor {
				proc.State = []byte(`{"count":3600}`)
			}
			p.Processes = append(p.Processes, proc)
			if c.Name != "" {
				p.Names = append(p.Names, goldenPartName{Name: c.Name, PID: cp})
			}
		}
		p.Trees = append(p.Trees, pt)
	}
	sort.Slice(p.Names, func(i, j int) bool { return p.Names[i].Name < p.Names[j].Name })
	p.System.HeapBytes, p.System.RuntimeMemoryBytes, p.System.Goroutines = 12<<20, 1<<20, 61
	p.System.Processes = len(p.Processes)
	return p
}

// partCommands builds the SNAPSHOT_PART commands of a part as the
// snapshot layer does (snapshot/layer.go capture, snapshot/codec.go
// encodePart and chunks): gzip (best speed) of the part's JSON, cut into
// chunks of at most chunk bytes, each carrying the whole part's size,
// counts and checksum. The layer cuts at state.MaxSnapshotChunkBytes; a
// smaller chunk gives a golden part of several chunks in a few bytes.
func partCommands(t testing.TB, id string, p *goldenPart, chunk int) []*pb.SnapshotPartCommand {
	t.Helper()
	stored, raw := encodeGoldenPart(t, p)
	sum := sha256.Sum256(stored)
	var pieces [][]byte
	for rest := stored; len(rest) > 0; {
		n := min(len(rest), chunk)
		pieces = append(pieces, rest[:n])
		rest = rest[n:]
	}
	var out []*pb.SnapshotPartCommand
	for i, data := range pieces {
		out = append(out, &pb.SnapshotPartCommand{SnapshotId: id, Node: p.Node, Index: uint32(i), Total: uint32(len(pieces)),
			Data: data, RawBytes: uint64(raw), Processes: uint32(len(p.Processes)), Trees: uint32(len(p.Trees)),
			Sha256: sum[:], CapturedAtUnixNano: p.CapturedAt.UnixNano()})
	}
	return out
}

func encodeGoldenPart(t testing.TB, p *goldenPart) (stored []byte, raw int) {
	t.Helper()
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := zw.Write(js); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), len(js)
}

// importCommand builds a SNAPSHOT_IMPORT as the snapshot service does from
// a file's header (snapshot/service.go Import): the parts the file holds
// with their chunk counts, sizes and checksums, the others missing.
func importCommand(id, finalStatus, note string, createdAt time.Time, parts []*pb.SnapshotPartCommand, missing ...string) *pb.SnapshotImportCommand {
	rec := &pb.SnapshotRecord{Id: id, FinalStatus: finalStatus, CreatedAtUnixNano: createdAt.UnixNano(),
		Options: &pb.SnapshotOptions{IncludeState: true}, Note: note}
	byNode := map[string][]*pb.SnapshotPartCommand{}
	var nodes []string
	for _, c := range parts {
		if byNode[c.Node] == nil {
			nodes = append(nodes, c.Node)
		}
		byNode[c.Node] = append(byNode[c.Node], c)
	}
	for _, n := range nodes {
		cs := byNode[n]
		var size uint64
		for _, c := range cs {
			size += uint64(len(c.Data))
		}
		rec.Parts = append(rec.Parts, &pb.SnapshotPartInfo{Node: n, Status: state.PartComplete, RawBytes: cs[0].RawBytes,
			Processes: cs[0].Processes, Trees: cs[0].Trees, CapturedAtUnixNano: cs[0].CapturedAtUnixNano,
			Chunks: uint32(len(cs)), StoredBytes: size, Sha256: cs[0].Sha256})
	}
	for _, n := range missing {
		rec.Parts = append(rec.Parts, &pb.SnapshotPartInfo{Node: n, Status: state.PartMissing})
	}
	return &pb.SnapshotImportCommand{Record: rec}
}

// stagesOf returns a plan's stages as committed.
func stagesOf(t testing.TB, st *state.Store, id string) []*pb.Stage {
	t.Helper()
	rec, _, err := st.Plan(nil, id)
	if err != nil || rec == nil {
		t.Fatalf("plan %s: %v", id, err)
	}
	return rec.Stages
}

func stageByKeyOf(t testing.TB, st *state.Store, id, key string) *pb.Stage {
	t.Helper()
	for _, s := range stagesOf(t, st, id) {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("plan %s has no stage %s", id, key)
	return nil
}

func u64(v uint64) *uint64 { return &v }

func kvIndex(t testing.TB, st *state.Store, key string) uint64 {
	t.Helper()
	_, rec, err := st.KVGet(nil, key)
	if err != nil || rec == nil {
		t.Fatalf("kv %s: %v", key, err)
	}
	return rec.ModifyIndex
}

// buildGoldenLog is the golden script: a cluster's life through every
// command type, with the refusals the domain rules make.
func buildGoldenLog(t testing.TB) *goldenLog {
	g := newGoldenLog(t)
	const (
		ok          = outcomeOK
		invalid     = "state.ErrInvalidRecord"
		notFound    = "state.ErrNotFound"
		casConflict = "state.ErrCASConflict"
		notRunning  = "state.ErrPlanNotRunning"
		notExpired  = "state.ErrNotExpired"
		clusterID   = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5"
	)
	st := func() *state.Store { return g.f.State() }

	// The first leader fixes the cluster's identity (node/leader.go).
	g.add("cluster init", ok, pb.CommandType_COMMAND_TYPE_CLUSTER_INIT, &pb.ClusterInitCommand{ClusterId: clusterID})
	g.add("cluster init again with the same id (a new leader's)", ok, pb.CommandType_COMMAND_TYPE_CLUSTER_INIT, &pb.ClusterInitCommand{ClusterId: clusterID})
	g.add("cluster init with another id", invalid, pb.CommandType_COMMAND_TYPE_CLUSTER_INIT, &pb.ClusterInitCommand{ClusterId: "another"})

	// Gossip members become registry records (node/reconcile.go).
	for i, n := range []string{"n1", "n2", "n3"} {
		at := g.now.UnixNano()
		g.add("node upsert "+n+" alive", ok, pb.CommandType_COMMAND_TYPE_NODE_UPSERT, &pb.NodeUpsertCommand{Node: &pb.NodeRecord{
			Name: n, GossipAddr: fmt.Sprintf("10.0.0.%d:7946", i+1), RaftAddr: fmt.Sprintf("10.0.0.%d:7947", i+1),
			GrpcAddr: fmt.Sprintf("10.0.0.%d:7948", i+1), Version: "0.9.0", Status: state.NodeAlive,
			JoinedAtUnixNano: at, UpdatedAtUnixNano: at}})
	}
	n3, _ := st().Node("n3")
	left := proto.Clone(n3).(*pb.NodeRecord)
	left.Status, left.UpdatedAtUnixNano, left.CreateIndex, left.ModifyIndex = state.NodeLeft, g.now.UnixNano(), 0, 0
	g.add("node upsert n3 left", ok, pb.CommandType_COMMAND_TYPE_NODE_UPSERT, &pb.NodeUpsertCommand{Node: left})
	g.add("node upsert with a status this version does not know", invalid, pb.CommandType_COMMAND_TYPE_NODE_UPSERT,
		&pb.NodeUpsertCommand{Node: &pb.NodeRecord{Name: "n4", Status: "draining"}})
	g.add("node delete n3 (reaped)", ok, pb.CommandType_COMMAND_TYPE_NODE_DELETE, &pb.NodeDeleteCommand{Name: "n3"})
	g.add("node delete of a node not in the registry", notFound, pb.CommandType_COMMAND_TYPE_NODE_DELETE, &pb.NodeDeleteCommand{Name: "n3"})

	// The operator's key/value namespace (transport/kv.go).
	g.add("kv put", ok, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "config/web/replicas", Value: []byte("3")})
	g.add("kv put only if absent, absent", ok, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "config/web/owner", Value: []byte("ops"), Cas: u64(0)})
	g.add("kv put only if absent, present", casConflict, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "config/web/replicas", Value: []byte("4"), Cas: u64(0)})
	kv := kvIndex(t, st(), "config/web/replicas")
	g.add("kv put with the current modify index", ok, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "config/web/replicas", Value: []byte("5"), Cas: u64(kv)})
	g.add("kv put with a stale modify index", casConflict, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "config/web/replicas", Value: []byte("6"), Cas: u64(kv)})
	g.add("kv put of a key starting with /", "state.ErrInvalidKey", pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "/etc/passwd", Value: []byte("x")})
	g.add("kv put, binary value", ok, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "blobs/a", Value: []byte{0, 1, 2, 0xff}})
	g.add("kv put, empty value", ok, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "blobs/b"})
	g.add("kv put, to delete", ok, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "tmp/x", Value: []byte("x")})
	kv = kvIndex(t, st(), "config/web/owner")
	g.add("kv delete with a stale modify index", casConflict, pb.CommandType_COMMAND_TYPE_KV_DELETE, &pb.KVDeleteCommand{Key: "config/web/owner", Cas: u64(kv - 1)})
	g.add("kv delete with the current modify index", ok, pb.CommandType_COMMAND_TYPE_KV_DELETE, &pb.KVDeleteCommand{Key: "config/web/owner", Cas: u64(kv)})
	g.add("kv delete of a prefix", ok, pb.CommandType_COMMAND_TYPE_KV_DELETE, &pb.KVDeleteCommand{Key: "blobs/", Prefix: true})
	g.add("kv delete of a missing key (deletes nothing)", ok, pb.CommandType_COMMAND_TYPE_KV_DELETE, &pb.KVDeleteCommand{Key: "missing"})

	// Supervision trees: desired state (supervision/service_supervision.go, placement.go).
	web := treeRecord(t, goldenWebHCL, "web.hcl", "n1", false)
	g.add("tree apply web, pinned to n1, only if new", ok, pb.CommandType_COMMAND_TYPE_TREE_APPLY, &pb.TreeApplyCommand{Tree: web, Cas: u64(0)})
	g.add("tree apply web again, unchanged", ok, pb.CommandType_COMMAND_TYPE_TREE_APPLY, &pb.TreeApplyCommand{Tree: web})
	g.add("tree apply web only if new, exists", casConflict, pb.CommandType_COMMAND_TYPE_TREE_APPLY, &pb.TreeApplyCommand{Tree: web, Cas: u64(0)})
	g.add("tree apply pool, placed on n2 by the leader", ok, pb.CommandType_COMMAND_TYPE_TREE_APPLY,
		&pb.TreeApplyCommand{Tree: treeRecord(t, goldenPoolJSON, "pool.json", "n2", true)})
	g.add("tree apply peers, pinned to n2", ok, pb.CommandType_COMMAND_TYPE_TREE_APPLY,
		&pb.TreeApplyCommand{Tree: treeRecord(t, goldenPeerJSON, "peers.json", "n2", false)})
	cur, _ := st().Tree("web")
	g.add("tree apply web with another root strategy (set-strategy)", ok, pb.CommandType_COMMAND_TYPE_TREE_APPLY, setStrategy(t, cur, spec.OneForAll, 4))
	g.add("tree apply web with a stale modify index", casConflict, pb.CommandType_COMMAND_TYPE_TREE_APPLY, setStrategy(t, cur, spec.RestForOne, 4))
	g.add("tree apply not placed on a node", invalid, pb.CommandType_COMMAND_TYPE_TREE_APPLY,
		&pb.TreeApplyCommand{Tree: treeRecord(t, goldenPoolJSON, "pool.json", "auto", true)})
	g.add("tree apply whose spec names another tree", invalid, pb.CommandType_COMMAND_TYPE_TREE_APPLY,
		&pb.TreeApplyCommand{Tree: &pb.TreeRecord{Name: "other", Node: "n1", SpecJson: web.SpecJson}})
	g.add("tree apply, to delete", ok, pb.CommandType_COMMAND_TYPE_TREE_APPLY,
		&pb.TreeApplyCommand{Tree: treeRecord(t, `tree "scratch" {
  child "w" { behavior = "echo" }
}`, "scratch.hcl", "n1", false)})
	g.add("tree delete", ok, pb.CommandType_COMMAND_TYPE_TREE_DELETE, &pb.TreeDeleteCommand{Name: "scratch"})
	g.add("tree delete of a missing tree", notFound, pb.CommandType_COMMAND_TYPE_TREE_DELETE, &pb.TreeDeleteCommand{Name: "scratch"})

	// A two-phase plan: phase 0 succeeds, phase 1 fails a post-check, the
	// moderate rollback of phase 1 runs and succeeds.
	const p1 = "plan-00000000a001"
	create, res := planCreate(t, st(), p1, goldenPlanJSON, goldenFacts(), g.now)
	if len(res.Phases) != 2 {
		t.Fatalf("golden plan has %d phases, want 2", len(res.Phases))
	}
	g.add("plan create, two phases", ok, pb.CommandType_COMMAND_TYPE_PLAN_CREATE, create)
	g.add("plan create with an id already used", invalid, pb.CommandType_COMMAND_TYPE_PLAN_CREATE, create)
	phase0 := stageByKeyOf(t, st(), p1, "phase-0")
	for _, n := range phase0.Nodes {
		g.add("plan step start, phase 0 on "+n, ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
			&pb.PlanStepStartCommand{PlanId: p1, Stage: "phase-0", Node: n, Nonce: "exec-" + n + "-1"})
	}
	n0 := phase0.Nodes[0]
	g.add("plan step start again by the same executor", ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
		&pb.PlanStepStartCommand{PlanId: p1, Stage: "phase-0", Node: n0, Nonce: "exec-" + n0 + "-1"})
	g.add("plan step start by another executor incarnation", "state.ErrStepTaken", pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
		&pb.PlanStepStartCommand{PlanId: p1, Stage: "phase-0", Node: n0, Nonce: "exec-" + n0 + "-2"})
	g.add("plan step start of a stage not running", notRunning, pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
		&pb.PlanStepStartCommand{PlanId: p1, Stage: "phase-1", Node: "n2", Nonce: "exec-n2-1"})
	for _, n := range phase0.Nodes {
		g.add("plan step report, phase 0 on "+n+" succeeded", ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT,
			&pb.PlanStepReportCommand{PlanId: p1, Stage: "phase-0", Step: phaseReport(res, 0, n, "exec-"+n+"-1", "")})
	}
	g.add("plan step report again (a duplicate)", ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT,
		&pb.PlanStepReportCommand{PlanId: p1, Stage: "phase-0", Step: phaseReport(res, 0, n0, "exec-"+n0+"-1", "")})
	phase1 := stageByKeyOf(t, st(), p1, "phase-1")
	if phase1.Status != state.StageRunning {
		t.Fatalf("phase 1 is %s after phase 0 succeeded", phase1.Status)
	}
	for _, n := range phase1.Nodes {
		g.add("plan step start, phase 1 on "+n, ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
			&pb.PlanStepStartCommand{PlanId: p1, Stage: "phase-1", Node: n, Nonce: "exec-" + n + "-1"})
	}
	for _, n := range phase1.Nodes {
		fail := ""
		if n == "n2" {
			fail = string(plan.CheckOperationEffect)
		}
		g.add("plan step report, phase 1 on "+n+" (a post-check fails on n2)", ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT,
			&pb.PlanStepReportCommand{PlanId: p1, Stage: "phase-1", Step: phaseReport(res, 1, n, "exec-"+n+"-1", fail)})
	}
	rb := stageByKeyOf(t, st(), p1, "rollback-1")
	if rb.Status != state.StageRunning {
		t.Fatalf("rollback-1 is %s after phase 1 failed", rb.Status)
	}
	for _, n := range rb.Nodes {
		g.add("plan step start, rollback of phase 1 on "+n, ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
			&pb.PlanStepStartCommand{PlanId: p1, Stage: "rollback-1", Node: n, Nonce: "exec-" + n + "-1"})
		g.add("plan step report, rollback of phase 1 on "+n+" succeeded", ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT,
			&pb.PlanStepReportCommand{PlanId: p1, Stage: "rollback-1", Step: rollbackReport(res, rb, n, "exec-"+n+"-1")})
	}
	if rec, _, _ := st().Plan(nil, p1); rec.Status != state.PlanRolledBack {
		t.Fatalf("plan %s is %s, want rolled back", p1, rec.Status)
	}
	g.add("plan cancel of a finished plan", notRunning, pb.CommandType_COMMAND_TYPE_PLAN_CANCEL, &pb.PlanCancelCommand{PlanId: p1, Reason: "too late"})
	g.add("plan step report for a missing plan", notFound, pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT,
		&pb.PlanStepReportCommand{PlanId: "plan-missing", Stage: "phase-0", Step: &pb.Step{Node: "n1", Nonce: "exec-n1-1"}})

	// A plan whose first phase expires: one node started and never
	// reported, the other never started (coordination/deadlines.go).
	const p2 = "plan-00000000a002"
	create, _ = planCreate(t, st(), p2, goldenPlanJSON, goldenFacts(), g.now)
	g.add("plan create, to expire", ok, pb.CommandType_COMMAND_TYPE_PLAN_CREATE, create)
	phase0 = stageByKeyOf(t, st(), p2, "phase-0")
	g.add("plan step start, phase 0 on "+phase0.Nodes[0], ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
		&pb.PlanStepStartCommand{PlanId: p2, Stage: "phase-0", Node: phase0.Nodes[0], Nonce: "exec-" + phase0.Nodes[0] + "-1"})
	g.add("plan expire before the stage's deadline", notExpired, pb.CommandType_COMMAND_TYPE_PLAN_EXPIRE, &pb.PlanExpireCommand{PlanId: p2, Stage: "phase-0"})
	g.now = time.Unix(0, phase0.DeadlineUnixNano).Add(250 * time.Millisecond)
	g.add("plan expire after the stage's deadline", ok, pb.CommandType_COMMAND_TYPE_PLAN_EXPIRE, &pb.PlanExpireCommand{PlanId: p2, Stage: "phase-0"})
	g.add("plan expire of a stage no longer running", notRunning, pb.CommandType_COMMAND_TYPE_PLAN_EXPIRE, &pb.PlanExpireCommand{PlanId: p2, Stage: "phase-0"})
	g.add("plan step report after the deadline (late, kept as lost)", ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT,
		&pb.PlanStepReportCommand{PlanId: p2, Stage: "phase-0", Step: phaseReport(goldenResult(t, st(), p2), 0, phase0.Nodes[0], "exec-"+phase0.Nodes[0]+"-1", "")})

	// A plan cancelled by the operator while its first phase runs.
	const p3 = "plan-00000000a003"
	create, _ = planCreate(t, st(), p3, goldenPlanJSON, goldenFacts(), g.now)
	g.add("plan create, to cancel", ok, pb.CommandType_COMMAND_TYPE_PLAN_CREATE, create)
	g.add("plan cancel", ok, pb.CommandType_COMMAND_TYPE_PLAN_CANCEL, &pb.PlanCancelCommand{PlanId: p3, Reason: "operator changed their mind"})
	bad := proto.Clone(create).(*pb.PlanCreateCommand)
	bad.Id, bad.Spec.Id = "plan-00000000a004", "plan-00000000a005"
	g.add("plan create whose spec has another id", invalid, pb.CommandType_COMMAND_TYPE_PLAN_CREATE, bad)

	// Resource thresholds (health/service.go: merged into the current
	// ones, with a check-and-set on the index read).
	_, th, _, _ := st().Thresholds(nil)
	next := proto.Clone(th).(*pb.ThresholdsRecord)
	next.MaxCpuPercent, next.MaxProcessCount = 90, 20000
	g.add("thresholds set over the defaults", ok, pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET, &pb.ThresholdsSetCommand{Thresholds: next, Cas: u64(th.ModifyIndex)})
	g.add("thresholds set with a stale modify index", casConflict, pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET, &pb.ThresholdsSetCommand{Thresholds: next, Cas: u64(th.ModifyIndex)})
	_, th, _, _ = st().Thresholds(nil)
	over := proto.Clone(th).(*pb.ThresholdsRecord)
	over.MaxCpuPercent = 150
	g.add("thresholds set out of bounds", "state.ErrInvalidThresholds", pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET, &pb.ThresholdsSetCommand{Thresholds: over})
	same := proto.Clone(th).(*pb.ThresholdsRecord)
	g.add("thresholds set to the values in force", ok, pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET, &pb.ThresholdsSetCommand{Thresholds: same, Cas: u64(th.ModifyIndex)})
	off := proto.Clone(th).(*pb.ThresholdsRecord)
	off.MaxMemoryBytes = 0
	g.add("thresholds set, memory check off", ok, pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET, &pb.ThresholdsSetCommand{Thresholds: off})

	// Cluster snapshots (snapshot/service.go, snapshot/layer.go).
	webRec, _ := st().Tree("web")
	poolRec, _ := st().Tree("pool")
	peersRec, _ := st().Tree("peers")
	const s1 = "snap-00000000b001"
	g.add("snapshot capture of n1 and n2", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_CAPTURE, &pb.SnapshotCaptureCommand{
		Id: s1, Options: &pb.SnapshotOptions{IncludeState: true}, Nodes: []string{"n2", "n1"}, DeadlineUnixNano: g.now.Add(snapshotCaptureTimeout).UnixNano()})
	g.add("snapshot capture with an id already used", invalid, pb.CommandType_COMMAND_TYPE_SNAPSHOT_CAPTURE, &pb.SnapshotCaptureCommand{
		Id: s1, Nodes: []string{"n1"}, DeadlineUnixNano: g.now.Add(snapshotCaptureTimeout).UnixNano()})
	g.add("snapshot capture of no node", invalid, pb.CommandType_COMMAND_TYPE_SNAPSHOT_CAPTURE, &pb.SnapshotCaptureCommand{
		Id: "snap-00000000b0ff", DeadlineUnixNano: g.now.Add(snapshotCaptureTimeout).UnixNano()})
	n1Part := partCommands(t, s1, newGoldenPart(t, "n1", g.now, webRec), state.MaxSnapshotChunkBytes)
	n2Part := partCommands(t, s1, newGoldenPart(t, "n2", g.now, poolRec, peersRec), 600)
	if len(n1Part) != 1 || len(n2Part) < 2 {
		t.Fatalf("golden parts have %d and %d chunks, want 1 and at least 2", len(n1Part), len(n2Part))
	}
	g.add("snapshot part n1, its only chunk", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, n1Part[0])
	g.add("snapshot part n1 again (a retry after the part closed)", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, n1Part[0])
	g.add("snapshot part n2, chunk 0", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, n2Part[0])
	g.add("snapshot part n2, chunk 0 again (a duplicate chunk)", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, n2Part[0])
	for i, c := range n2Part[1:] {
		g.add(fmt.Sprintf("snapshot part n2, chunk %d", i+1), ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, c)
	}
	if rec, _ := st().SnapshotRecord(nil, s1); rec.Status != state.SnapshotComplete {
		t.Fatalf("snapshot %s is %s, want complete", s1, rec.Status)
	}
	g.add("snapshot part for a complete snapshot", notRunning, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, partCommands(t, s1, newGoldenPart(t, "n3", g.now), 1<<10)[0])
	g.add("snapshot part of no bytes", "state.ErrLimit", pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, &pb.SnapshotPartCommand{SnapshotId: s1, Node: "n1", Total: 1})

	// A capture n2 never answers: closed partial after its deadline.
	const s2 = "snap-00000000b002"
	deadline := g.now.Add(snapshotCaptureTimeout)
	g.add("snapshot capture, n2 will not answer", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_CAPTURE, &pb.SnapshotCaptureCommand{
		Id: s2, Options: &pb.SnapshotOptions{IncludeState: true, IncludeQueues: true, IncludeLinks: true}, Nodes: []string{"n1", "n2"}, DeadlineUnixNano: deadline.UnixNano()})
	g.add("snapshot part n1", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, partCommands(t, s2, newGoldenPart(t, "n1", g.now, webRec), state.MaxSnapshotChunkBytes)[0])
	late := partCommands(t, s2, newGoldenPart(t, "n2", g.now, poolRec, peersRec), 600)
	g.add("snapshot part n2, first chunk only", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, late[0])
	g.add("snapshot finish before the deadline", notExpired, pb.CommandType_COMMAND_TYPE_SNAPSHOT_FINISH, &pb.SnapshotFinishCommand{SnapshotId: s2})
	g.now = deadline.Add(200 * time.Millisecond)
	g.add("snapshot finish after the deadline (partial)", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_FINISH, &pb.SnapshotFinishCommand{SnapshotId: s2})
	g.add("snapshot finish of a closed snapshot", notRunning, pb.CommandType_COMMAND_TYPE_SNAPSHOT_FINISH, &pb.SnapshotFinishCommand{SnapshotId: s2})
	g.add("snapshot finish of a missing snapshot", notFound, pb.CommandType_COMMAND_TYPE_SNAPSHOT_FINISH, &pb.SnapshotFinishCommand{SnapshotId: "snap-missing"})

	// A part whose chunks do not add up to its checksum: corrupt.
	const s3 = "snap-00000000b003"
	g.add("snapshot capture of n1", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_CAPTURE, &pb.SnapshotCaptureCommand{
		Id: s3, Nodes: []string{"n1"}, DeadlineUnixNano: g.now.Add(snapshotCaptureTimeout).UnixNano()})
	corrupt := partCommands(t, s3, newGoldenPart(t, "n1", g.now, webRec), state.MaxSnapshotChunkBytes)[0]
	corrupt.Data = append([]byte(nil), corrupt.Data...)
	corrupt.Data[len(corrupt.Data)/2] ^= 0xff
	g.add("snapshot part n1 altered on the way (corrupt, partial)", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, corrupt)

	// An imported file: n1's part in two chunks, n2's missing.
	const s4 = "snap-00000000b004"
	exported := g.now.Add(-24 * time.Hour)
	imported := partCommands(t, s4, newGoldenPart(t, "n1", exported.Add(-time.Minute), webRec), 500)
	if len(imported) < 2 {
		t.Fatalf("the imported part has %d chunks, want at least 2", len(imported))
	}
	note := fmt.Sprintf("imported %s (exported %s)", g.now.UTC().Format(time.RFC3339), exported.Format(time.RFC3339))
	g.add("snapshot import, n2 missing from the file", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_IMPORT,
		importCommand(s4, state.SnapshotPartial, note, exported.Add(-time.Minute), imported, "n2"))
	for i, c := range imported {
		g.add(fmt.Sprintf("snapshot part of the import, chunk %d", i), ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, c)
	}
	if rec, _ := st().SnapshotRecord(nil, s4); rec.Status != state.SnapshotPartial {
		t.Fatalf("snapshot %s is %s, want partial", s4, rec.Status)
	}
	g.add("snapshot import with an unknown final status", invalid, pb.CommandType_COMMAND_TYPE_SNAPSHOT_IMPORT,
		importCommand("snap-00000000b005", "capturing", "", g.now, imported))
	g.add("snapshot delete", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_DELETE, &pb.SnapshotDeleteCommand{SnapshotId: s3})
	g.add("snapshot delete of a missing snapshot", notFound, pb.CommandType_COMMAND_TYPE_SNAPSHOT_DELETE, &pb.SnapshotDeleteCommand{SnapshotId: s3})

	// Entries at the format's edges.
	ign, err := proto.Marshal(&pb.LogEntry{Type: pb.CommandType(9998), IgnoreIfUnknown: true, Payload: []byte("advisory"),
		ProposedAtUnixNano: g.now.UnixNano(), Proposer: goldenLeader})
	if err != nil {
		t.Fatal(err)
	}
	g.addRaw("a command type this version does not know, flagged ignorable", ok, pb.CommandType(9998), ign)
	mal, err := proto.Marshal(&pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_KV_PUT, Payload: []byte{0x0a, 0xff},
		ProposedAtUnixNano: g.now.UnixNano(), Proposer: goldenLeader})
	if err != nil {
		t.Fatal(err)
	}
	g.addRaw("kv put whose payload does not decode", "fsm.ErrMalformedCommand", pb.CommandType_COMMAND_TYPE_KV_PUT, mal)

	// Added in v2: the formats v2 reads, at their edges. A plan's shape
	// gives each phase's nodes one step each; statuses may come as enums
	// only (v2's layers still send the names too, for v1 followers).
	dup := proto.Clone(create).(*pb.PlanCreateCommand)
	dup.Id, dup.Spec.Id = "plan-00000000a006", "plan-00000000a006"
	dup.Spec.Shape.Phases[0].Nodes = append(dup.Spec.Shape.Phases[0].Nodes, dup.Spec.Shape.Phases[0].Nodes[0])
	g.add("plan create whose shape gives a phase a node twice", invalid, pb.CommandType_COMMAND_TYPE_PLAN_CREATE, dup)
	at := g.now.UnixNano()
	g.add("node upsert n4 alive, the status as an enum only", ok, pb.CommandType_COMMAND_TYPE_NODE_UPSERT, &pb.NodeUpsertCommand{Node: &pb.NodeRecord{
		Name: "n4", GossipAddr: "10.0.0.4:7946", RaftAddr: "10.0.0.4:7947", GrpcAddr: "10.0.0.4:7948", Version: "0.10.0",
		StatusCode: pb.NodeStatus_NODE_STATUS_ALIVE, JoinedAtUnixNano: at, UpdatedAtUnixNano: at}})
	n4, _ := st().Node("n4")
	failed := proto.Clone(n4).(*pb.NodeRecord)
	failed.Status, failed.StatusCode, failed.UpdatedAtUnixNano, failed.CreateIndex, failed.ModifyIndex = "alive", pb.NodeStatus_NODE_STATUS_FAILED, g.now.UnixNano(), 0, 0
	g.add("node upsert n4 failed, the enum overriding a stale name", ok, pb.CommandType_COMMAND_TYPE_NODE_UPSERT, &pb.NodeUpsertCommand{Node: failed})
	const s6 = "snap-00000000b006"
	reimported := partCommands(t, s6, newGoldenPart(t, "n1", exported.Add(-time.Minute), webRec), 500)
	byEnum := importCommand(s6, "", note, exported.Add(-time.Minute), reimported, "n2")
	byEnum.Record.FinalStatusCode = pb.SnapshotStatus_SNAPSHOT_STATUS_PARTIAL
	for _, p := range byEnum.Record.Parts {
		p.StatusCode, p.Status = state.PartStatusOf(p), ""
	}
	g.add("snapshot import, the final and part statuses as enums only", ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_IMPORT, byEnum)
	for i, c := range reimported {
		g.add(fmt.Sprintf("snapshot part of the import by enums, chunk %d", i), ok, pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART, c)
	}
	if rec, _ := st().SnapshotRecord(nil, s6); state.SnapshotStatusOf(rec) != pb.SnapshotStatus_SNAPSHOT_STATUS_PARTIAL || rec.Status != state.SnapshotPartial {
		t.Fatalf("snapshot %s is %s (%s), want partial", s6, rec.Status, rec.StatusCode)
	}
	notFinal := importCommand("snap-00000000b007", "", "", g.now, reimported)
	notFinal.Record.FinalStatusCode = pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING
	g.add("snapshot import whose final status enum cannot end an import", invalid, pb.CommandType_COMMAND_TYPE_SNAPSHOT_IMPORT, notFinal)

	// Entries added after v2 go here, at the end.
	goldenModules(g, invalid, notFound)
	goldenDeployments(g, invalid, notFound)
	goldenTrust(g, invalid, notFound)
	goldenCheckpoints(g, invalid, notFound)
	goldenSandboxes(g, invalid, notFound)
	goldenACL(g, invalid, notFound)
	goldenHandoff(g, invalid, notFound)
	// A restore creates a tree whose record carries its workers' states
	// (snapshot/restore.go treeActions, restoreOf); Apply stores them.
	restored := treeRecord(t, `tree "restored" {
  child "c" { behavior = "counter" }
}`, "restored.hcl", "n1", false)
	restored.Restore = &pb.TreeRestore{SnapshotId: "snap-00000000b001", UntilUnixNano: g.now.Add(5 * time.Minute).UnixNano(),
		States: []*pb.RestoredState{{Path: "c", Behavior: "counter", State: []byte(`{"count":7,"messages":1}`)}}}
	g.add("tree apply created by a restore, with its workers' states", ok, pb.CommandType_COMMAND_TYPE_TREE_APPLY, &pb.TreeApplyCommand{Tree: restored})
	return g
}

// goldenHandoff adds a plan whose phase 0 ends with PLAN_STEP_HANDOFF
// (issue 13), as the coordination executor proposes it: the last report of
// phase 0 carries the starts of phase 1's steps under their executors'
// nonces, and one start for phase 0 itself, which the report did not
// start (dropped); then the refusals no version changes, and a handoff
// whose report does not finish its stage (its start is dropped).
func goldenHandoff(g *goldenLog, invalid, notFound string) {
	t := g.t
	st := func() *state.Store { return g.f.State() }
	const p = "plan-00000000a009"
	create, res := planCreate(t, st(), p, goldenPlanJSON, goldenFacts(), g.now)
	g.add("plan create, to hand phase 0 over to phase 1", outcomeOK, pb.CommandType_COMMAND_TYPE_PLAN_CREATE, create)
	phase0 := stageByKeyOf(t, st(), p, "phase-0")
	phase1 := stageByKeyOf(t, st(), p, "phase-1")
	for _, n := range phase0.Nodes {
		g.add("plan step start, phase 0 on "+n+", to hand over", outcomeOK, pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
			&pb.PlanStepStartCommand{PlanId: p, Stage: "phase-0", Node: n, Nonce: "exec-" + n + "-1"})
	}
	g.add("plan step handoff whose start has no nonce", invalid, pb.CommandType_COMMAND_TYPE_PLAN_STEP_HANDOFF, &pb.PlanStepHandoffCommand{
		Report: &pb.PlanStepReportCommand{PlanId: p, Stage: "phase-0", Step: phaseReport(res, 0, phase0.Nodes[0], "exec-"+phase0.Nodes[0]+"-1", "")},
		Starts: []*pb.PlanStepStartCommand{{PlanId: p, Stage: "phase-1", Node: phase1.Nodes[0]}}})
	g.add("plan step handoff whose start names another plan", invalid, pb.CommandType_COMMAND_TYPE_PLAN_STEP_HANDOFF, &pb.PlanStepHandoffCommand{
		Report: &pb.PlanStepReportCommand{PlanId: p, Stage: "phase-0", Step: phaseReport(res, 0, phase0.Nodes[0], "exec-"+phase0.Nodes[0]+"-1", "")},
		Starts: []*pb.PlanStepStartCommand{{PlanId: "plan-other", Stage: "phase-1", Node: phase1.Nodes[0], Nonce: "exec-x"}}})
	g.add("plan step handoff for a missing plan", notFound, pb.CommandType_COMMAND_TYPE_PLAN_STEP_HANDOFF, &pb.PlanStepHandoffCommand{
		Report: &pb.PlanStepReportCommand{PlanId: "plan-missing", Stage: "phase-0", Step: &pb.Step{Node: "n1", Nonce: "exec-n1-1"}}})
	starts := func(stage string, nodes []string) []*pb.PlanStepStartCommand {
		var out []*pb.PlanStepStartCommand
		for _, n := range nodes {
			out = append(out, &pb.PlanStepStartCommand{PlanId: p, Stage: stage, Node: n, Nonce: "exec-" + n + "-1"})
		}
		return out
	}
	for i, n := range phase0.Nodes {
		g.add("plan step handoff, phase 0 on "+n+", with phase 1's starts and one for phase 0", outcomeOK, pb.CommandType_COMMAND_TYPE_PLAN_STEP_HANDOFF, &pb.PlanStepHandoffCommand{
			Report: &pb.PlanStepReportCommand{PlanId: p, Stage: "phase-0", Step: phaseReport(res, 0, n, "exec-"+n+"-1", "")},
			Starts: append(starts("phase-1", phase1.Nodes), starts("phase-0", phase0.Nodes[:1])...)})
		phase1 = stageByKeyOf(t, st(), p, "phase-1")
		last := i == len(phase0.Nodes)-1
		for _, step := range phase1.Steps {
			if started := step.Status == state.StepStarted; started != last || (last && step.Nonce != "exec-"+step.Node+"-1") {
				t.Fatalf("after phase 0's report %d of %d, phase 1's step on %s is %s (nonce %q)", i+1, len(phase0.Nodes), step.Node, step.Status, step.Nonce)
			}
		}
	}
	for _, n := range phase1.Nodes {
		g.add("plan step handoff, phase 1 on "+n+", the last stage (no starts)", outcomeOK, pb.CommandType_COMMAND_TYPE_PLAN_STEP_HANDOFF, &pb.PlanStepHandoffCommand{
			Report: &pb.PlanStepReportCommand{PlanId: p, Stage: "phase-1", Step: phaseReport(res, 1, n, "exec-"+n+"-1", "")}})
	}
	if rec, _, _ := st().Plan(nil, p); rec.Status != state.PlanSucceeded {
		t.Fatalf("plan %s is %s, want succeeded", p, rec.Status)
	}
}

// goldenSandboxes adds sandboxes and experiments (issue 17) as
// sandbox/manager commits them: a standalone sandbox that comes up and is
// moved, an experiment failed by one part, one aborted by the leader, one
// destroyed, and the refusals no version changes.
func goldenSandboxes(g *goldenLog, invalid, notFound string) {
	const ok = outcomeOK
	t := g.t
	sbRec := func(name, node string, auto bool) *pb.SandboxRecord {
		tree, err := spec.Parse([]byte(`{"name":"`+name+`","children":[{"id":"e","behavior":"echo","name":"`+name+`-echo"}]}`), "t.json")
		if err != nil {
			t.Fatal(err)
		}
		spec.Normalize(tree)
		// The policy as sandbox.Canonical wrote it when these entries were
		// added (a literal: the golden log does not move with the format).
		pol := `{"name":"` + name + `","isolation":"strict","response":"kill_process","monitor_interval":"5s","trace":{"messages":true,"states":true},` +
			`"limits":{"max_memory_bytes":104857600,"max_processes":5,"cpu_percent":25,"message_deadline":"250ms","max_messages_per_second":null,"max_mailbox":null,"max_file_handles":20},"allow":{"names":null,"trees":null}}`
		if _, err := sandbox.Parse([]byte(pol), "policy.json"); err != nil {
			t.Fatal(err)
		}
		return &pb.SandboxRecord{Name: name, Node: node, AutoPlaced: auto, SpecJson: spec.CanonicalTree(tree), PolicyJson: []byte(pol),
			Modules: []*pb.SandboxModule{{Name: "counter", Versions: []string{"2"}}}}
	}
	group := func(id, name string, standalone bool, recs ...*pb.SandboxRecord) *pb.ExperimentCreateCommand {
		return &pb.ExperimentCreateCommand{Experiment: &pb.ExperimentRecord{Id: id, Name: name, Standalone: standalone,
			DeadlineUnixNano: g.now.Add(30 * time.Second).UnixNano(), CreatedBy: goldenLeader},
			Sandboxes: recs, MaxSandboxes: 256, MaxSandboxesPerNode: 32, MaxFailedKept: 50}
	}
	status := func(name, node string, placed uint64, st, reason string) *pb.SandboxStatusCommand {
		return &pb.SandboxStatusCommand{Name: name, Node: node, PlacedIndex: placed, Status: st, Reason: reason}
	}
	r := g.add("sandbox create, standalone, auto-placed on n2", ok, pb.CommandType_COMMAND_TYPE_EXPERIMENT_CREATE, group("sbx-00000000d001", "", true, sbRec("sb-a", "n2", true)))
	placed := r.Index
	g.add("sandbox status from a node it is not placed on", "state.ErrSandboxState", pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, status("sb-a", "n3", placed, "running", ""))
	r = g.add("sandbox status running", ok, pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, status("sb-a", "n2", placed, "running", ""))
	g.add("sandbox status of an unknown kind", invalid, pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, status("sb-a", "n2", placed, "sleeping", ""))
	r = g.add("sandbox placed on n3 after n2 failed", ok, pb.CommandType_COMMAND_TYPE_SANDBOX_PLACE, &pb.SandboxPlaceCommand{Name: "sb-a", Node: "n3", Cas: r.Index})
	g.add("sandbox place with a stale check-and-set", "state.ErrCASConflict", pb.CommandType_COMMAND_TYPE_SANDBOX_PLACE, &pb.SandboxPlaceCommand{Name: "sb-a", Node: "n1", Cas: placed})
	g.add("sandbox status about the old placement", "state.ErrSandboxState", pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, status("sb-a", "n2", placed, "running", ""))
	g.add("sandbox status running on n3", ok, pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, status("sb-a", "n3", r.Index, "running", ""))
	g.add("sandbox create named like a tree", invalid, pb.CommandType_COMMAND_TYPE_EXPERIMENT_CREATE, group("sbx-00000000d002", "", true, sbRec("web", "n1", false)))
	g.add("sandbox create named like a sandbox", invalid, pb.CommandType_COMMAND_TYPE_EXPERIMENT_CREATE, group("sbx-00000000d003", "", true, sbRec("sb-a", "n1", false)))
	g.add("tree apply named like a sandbox", invalid, pb.CommandType_COMMAND_TYPE_TREE_APPLY, &pb.TreeApplyCommand{Tree: &pb.TreeRecord{Name: "sb-a", Node: "n1", SpecJson: sbRec("sb-a", "n1", false).SpecJson}})
	g.add("sandbox create not placed", invalid, pb.CommandType_COMMAND_TYPE_EXPERIMENT_CREATE, group("sbx-00000000d004", "", true, sbRec("sb-b", "auto", true)))
	over := group("exp-00000000d005", "over", false, sbRec("ov-1", "n1", false), sbRec("ov-2", "n1", false))
	over.MaxSandboxesPerNode = 1
	g.add("experiment create over the per-node limit", "state.ErrLimit", pb.CommandType_COMMAND_TYPE_EXPERIMENT_CREATE, over)
	r = g.add("experiment create, two parts", ok, pb.CommandType_COMMAND_TYPE_EXPERIMENT_CREATE, group("exp-00000000d006", "ab", false, sbRec("ab-a", "n1", false), sbRec("ab-b", "n2", false)))
	g.add("experiment part a running", ok, pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, status("ab-a", "n1", r.Index, "running", ""))
	g.add("experiment part b failed: the experiment fails whole", ok, pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, status("ab-b", "n2", r.Index, "failed", "sandbox limit: 3 processes, max_processes 2"))
	g.add("experiment abort of a failed experiment", "state.ErrSandboxState", pb.CommandType_COMMAND_TYPE_EXPERIMENT_ABORT, &pb.ExperimentAbortCommand{Id: "exp-00000000d006", Reason: "late"})
	g.add("experiment create, a part on a node then lost", ok, pb.CommandType_COMMAND_TYPE_EXPERIMENT_CREATE, group("exp-00000000d007", "lost", false, sbRec("lo-a", "n1", false), sbRec("lo-b", "n3", false)))
	g.add("experiment abort: a node lost before every part was up", ok, pb.CommandType_COMMAND_TYPE_EXPERIMENT_ABORT, &pb.ExperimentAbortCommand{Id: "exp-00000000d007", Reason: "a node was lost before every part was up: lo-b (node n3 failed)"})
	g.add("experiment abort of an unknown experiment", notFound, pb.CommandType_COMMAND_TYPE_EXPERIMENT_ABORT, &pb.ExperimentAbortCommand{Id: "exp-nope"})
	r = g.add("experiment create, to destroy", ok, pb.CommandType_COMMAND_TYPE_EXPERIMENT_CREATE, group("exp-00000000d008", "keep", false, sbRec("kp-a", "n1", false)))
	g.add("experiment part running: the experiment runs", ok, pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, status("kp-a", "n1", r.Index, "running", ""))
	g.add("experiment delete", ok, pb.CommandType_COMMAND_TYPE_EXPERIMENT_DELETE, &pb.ExperimentDeleteCommand{Id: "exp-00000000d008"})
	g.add("experiment delete of an unknown experiment", notFound, pb.CommandType_COMMAND_TYPE_EXPERIMENT_DELETE, &pb.ExperimentDeleteCommand{Id: "exp-00000000d008"})
	g.add("sandbox status terminated by its policy", ok, pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, func() *pb.SandboxStatusCommand {
		sb, _ := g.f.State().Sandbox("sb-a")
		return status("sb-a", "n3", sb.PlacedIndex, "terminated", "sandbox_violation: boundary")
	}())
}

// goldenCheckpoints adds checkpoints (issue 16): one with states, pinning
// counter@2 against a delete; a second over the limit; deletes.
func goldenCheckpoints(g *goldenLog, invalid, notFound string) {
	const ok = outcomeOK
	create := func(id, name string, max uint32) *pb.CheckpointCreateCommand {
		return &pb.CheckpointCreateCommand{Checkpoint: &pb.CheckpointRecord{Id: id, Name: name, CreatedBy: "ops", WithState: true,
			Modules: []*pb.CheckpointModule{{Name: "counter", Version: "2"}},
			Processes: []*pb.CheckpointProcess{{Pid: "n1/10", Node: "n1", Tree: "w", ChildId: "c0", Module: "counter", Version: "2",
				ModuleRef: "counter", State: []byte(`{"count":7,"messages":2}`), StateBytes: 24}},
			StateBytes: 24}, MaxCheckpoints: max, MaxStateBytes: 8 << 20, MaxProcessStateBytes: 256 << 10}
	}
	g.add("checkpoint create with states", ok, pb.CommandType_COMMAND_TYPE_CHECKPOINT_CREATE, create("ckpt-00000000c001", "before-v3", 50))
	g.add("checkpoint create beyond the limit", "state.ErrLimit", pb.CommandType_COMMAND_TYPE_CHECKPOINT_CREATE, create("ckpt-00000000c002", "second", 1))
	g.add("checkpoint create of a module version not stored", notFound, pb.CommandType_COMMAND_TYPE_CHECKPOINT_CREATE, func() *pb.CheckpointCreateCommand {
		c := create("ckpt-00000000c003", "missing", 50)
		c.Checkpoint.Modules[0].Version = "9"
		return c
	}())
	g.add("module delete of a version a checkpoint names", "state.ErrInUse", pb.CommandType_COMMAND_TYPE_MODULE_DELETE, &pb.ModuleDeleteCommand{Name: "counter", Version: "2"})
	g.add("checkpoint delete", ok, pb.CommandType_COMMAND_TYPE_CHECKPOINT_DELETE, &pb.CheckpointDeleteCommand{Id: "ckpt-00000000c001"})
	g.add("checkpoint delete of an unknown checkpoint", notFound, pb.CommandType_COMMAND_TYPE_CHECKPOINT_DELETE, &pb.CheckpointDeleteCommand{Id: "ckpt-00000000c001"})
}

// deployCreate builds a DEPLOY_CREATE as hotcode/deploy does (layer.go
// submit): upgrade_code operations on pids, explicit batches, a health
// gate, planned without facts here.
func deployCreate(g *goldenLog, id string, batches []int, pids []string, canary uint32) *pb.DeployCreateCommand {
	t := g.t
	p := &plan.Plan{SafetyLevel: plan.Moderate, Timeout: (24 * time.Hour).String(), Batches: batches,
		Health: &plan.HealthGate{MinHealthyMS: 100, HealthyDeadlineMS: 5000, MaxQueueLength: 100, ProbeFactor: 2, ProbeSlackMS: 5}}
	for i, pid := range pids {
		node, _, _ := strings.Cut(pid, "/")
		p.Operations = append(p.Operations, plan.Operation{ID: fmt.Sprintf("up-%d", i), Type: plan.UpgradeCode, Node: node,
			Target: plan.Target{PID: pid}, Params: plan.Params{Behavior: "wasm:counter@2", From: "wasm:counter@1", Revert: plan.RevertDown}})
	}
	opts := plan.Options{Now: g.now, Deployment: true}
	if err := plan.Validate(p, opts); err != nil {
		t.Fatal(err)
	}
	res, err := plan.Build(p, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	planJSON, _ := json.Marshal(p)
	resJSON, _ := json.Marshal(res)
	d := &pb.DeploymentRecord{Id: id, Module: "counter", Version: "2", FromVersions: []string{"1"}, Safety: "moderate",
		Options:    &pb.DeployOptions{MaxParallel: 2, Canary: canary, MinHealthyTimeMs: 100, HealthyDeadlineMs: 5000, ProgressDeadlineMs: 20000},
		RevertMode: "down", Targets: uint32(len(pids)), SubmittedBy: goldenLeader, MovesActive: true}
	if canary > 0 {
		d.CanaryPhases = 1
	}
	return &pb.DeployCreateCommand{Deployment: d, Plan: &pb.PlanCreateCommand{Id: id,
		Spec:             &pb.PlanSpecRecord{Id: id, PlanJson: planJSON, FactsJson: []byte("null"), ResultJson: resJSON, Shape: state.PlanShapeOf(res)},
		DeadlineUnixNano: g.now.Add(24 * time.Hour).UnixNano(), StageTimeoutMs: 20000, SubmittedBy: goldenLeader}}
}

// goldenDeployments adds deployments (issue 16): a canary batch held for
// promotion, a revert asked mid-batch applied when the batch ends, the
// rollbacks of both batches; a second deployment paused between batches,
// then cancelled; the refusals.
func goldenDeployments(g *goldenLog, invalid, notFound string) {
	const ok = outcomeOK
	const deployState = "state.ErrDeployState"
	st := func() *state.Store { return g.f.State() }
	const d1 = "deploy-00000000d001"
	c1 := deployCreate(g, d1, []int{1, 2}, []string{"n1/10", "n1/11", "n2/12"}, 1)
	g.add("deploy create, a canary then a batch of 2", ok, pb.CommandType_COMMAND_TYPE_DEPLOY_CREATE, c1)
	g.add("deploy create of the same module while one runs", deployState, pb.CommandType_COMMAND_TYPE_DEPLOY_CREATE,
		deployCreate(g, "deploy-00000000d002", []int{1}, []string{"n1/10"}, 0))
	bad := deployCreate(g, "deploy-00000000d003", []int{1}, []string{"n1/10"}, 0)
	bad.Deployment.Options = nil
	g.add("deploy create without options", invalid, pb.CommandType_COMMAND_TYPE_DEPLOY_CREATE, bad)
	res, err := state.DecodePlanResult(c1.Plan.Spec)
	if err != nil {
		g.t.Fatal(err)
	}
	step := func(stage string, i int, node string) {
		nonce := "exec-" + node + "-1"
		g.add("plan step start, "+d1+" "+stage+" on "+node, ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
			&pb.PlanStepStartCommand{PlanId: d1, Stage: stage, Node: node, Nonce: nonce})
		var rep *pb.Step
		if strings.HasPrefix(stage, "rollback") {
			rep = rollbackReport(res, stageByKeyOf(g.t, st(), d1, stage), node, nonce)
		} else {
			rep = phaseReport(res, i, node, nonce, "")
		}
		g.add("plan step report, "+d1+" "+stage+" on "+node, ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT,
			&pb.PlanStepReportCommand{PlanId: d1, Stage: stage, Step: rep})
	}
	control := func(what, want, id string, a pb.DeployAction) {
		g.add(what, want, pb.CommandType_COMMAND_TYPE_DEPLOY_CONTROL, &pb.DeployControlCommand{Id: id, Action: a, Reason: "golden"})
	}
	step("phase-0", 0, "n1")
	control("deploy resume of a deployment awaiting promotion", deployState, d1, pb.DeployAction_DEPLOY_ACTION_RESUME)
	control("deploy promote", ok, d1, pb.DeployAction_DEPLOY_ACTION_PROMOTE)
	control("deploy promote again", deployState, d1, pb.DeployAction_DEPLOY_ACTION_PROMOTE)
	control("deploy revert while a batch runs: asked", ok, d1, pb.DeployAction_DEPLOY_ACTION_REVERT)
	control("deploy pause while a revert is asked", deployState, d1, pb.DeployAction_DEPLOY_ACTION_PAUSE)
	for _, n := range stageByKeyOf(g.t, st(), d1, "phase-1").Nodes {
		step("phase-1", 1, n)
	}
	for _, key := range []string{"rollback-1", "rollback-0"} {
		for _, n := range stageByKeyOf(g.t, st(), d1, key).Nodes {
			step(key, 0, n)
		}
	}
	if d, _ := st().Deployment(nil, d1); d == nil || state.DeploymentStatusOf(d) != pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED {
		g.t.Fatalf("golden deployment %s: %+v, want reverted", d1, d)
	}
	control("deploy revert of a reverted deployment", deployState, d1, pb.DeployAction_DEPLOY_ACTION_REVERT)
	control("deploy control of an unknown deployment", notFound, "deploy-missing", pb.DeployAction_DEPLOY_ACTION_PAUSE)
	control("deploy control with an action this version does not know", invalid, d1, pb.DeployAction(99))

	const d2 = "deploy-00000000d004"
	g.add("deploy create, two batches", ok, pb.CommandType_COMMAND_TYPE_DEPLOY_CREATE, deployCreate(g, d2, []int{1, 1}, []string{"n1/10", "n2/12"}, 0))
	control("deploy pause", ok, d2, pb.DeployAction_DEPLOY_ACTION_PAUSE)
	res2, _ := state.DecodePlanResult(func() *pb.PlanSpecRecord { _, sp, _ := st().Plan(nil, d2); return sp }())
	g.add("plan step start, "+d2+" phase-0 on n1", ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
		&pb.PlanStepStartCommand{PlanId: d2, Stage: "phase-0", Node: "n1", Nonce: "exec-n1-1"})
	g.add("plan step report, "+d2+" phase-0 on n1: held, paused", ok, pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT,
		&pb.PlanStepReportCommand{PlanId: d2, Stage: "phase-0", Step: phaseReport(res2, 0, "n1", "exec-n1-1", "")})
	g.add("plan cancel of a deployment's plan", deployState, pb.CommandType_COMMAND_TYPE_PLAN_CANCEL, &pb.PlanCancelCommand{PlanId: d2})
	control("deploy cancel", ok, d2, pb.DeployAction_DEPLOY_ACTION_CANCEL)
	control("deploy resume of a cancelled deployment", deployState, d2, pb.DeployAction_DEPLOY_ACTION_RESUME)
}

// goldenTrust adds trusted signing keys (issue 16): add, add again
// (unchanged), another name for the same key, the limit, remove.
func goldenTrust(g *goldenLog, invalid, notFound string) {
	const ok = outcomeOK
	key := func(name string, b byte) *pb.ModuleTrustedKey {
		return &pb.ModuleTrustedKey{Name: name, PublicKey: bytes.Repeat([]byte{b}, 32), AddedBy: "ops"}
	}
	add := func(k *pb.ModuleTrustedKey, max uint32) *pb.ModuleTrustAddCommand {
		return &pb.ModuleTrustAddCommand{Key: k, MaxKeys: max}
	}
	g.add("module trust add release", ok, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD, add(key("release", 1), 32))
	g.add("module trust add release again: unchanged", ok, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD, add(key("release", 1), 32))
	g.add("module trust add the same key under another name", invalid, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD, add(key("other", 1), 32))
	g.add("module trust add of a key that is not 32 bytes", invalid, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD,
		add(&pb.ModuleTrustedKey{Name: "short", PublicKey: []byte{1, 2}}, 32))
	g.add("module trust add beyond the limit", "state.ErrLimit", pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD, add(key("ci", 2), 1))
	g.add("module trust add ci", ok, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD, add(key("ci", 2), 32))
	g.add("module trust remove ci", ok, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_REMOVE, &pb.ModuleTrustRemoveCommand{Name: "ci"})
	g.add("module trust remove of a key not trusted", notFound, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_REMOVE, &pb.ModuleTrustRemoveCommand{Name: "ci"})
}

// goldenModules adds the module store's entries (issue 16): chunks
// (deduplicated, checked against their SHA-256), commits (a re-commit of
// the same bytes is a no-op), the active version, deletes.
func goldenModules(g *goldenLog, invalid, notFound string) {
	const ok = outcomeOK
	const total = 256 << 20
	a, b, c := []byte("module bytes, chunk a"), []byte("module bytes, chunk b"), []byte("module bytes, chunk c of v2")
	sum := func(parts ...[]byte) (string, []string, uint64) {
		h := sha256.New()
		var keys []string
		var n uint64
		for _, p := range parts {
			h.Write(p)
			k := sha256.Sum256(p)
			keys = append(keys, fmt.Sprintf("%x", k))
			n += uint64(len(p))
		}
		return fmt.Sprintf("%x", h.Sum(nil)), keys, n
	}
	put := func(d []byte) *pb.ModulePutChunkCommand {
		k := sha256.Sum256(d)
		return &pb.ModulePutChunkCommand{Sha256: k[:], Data: d, MaxTotalBytes: total}
	}
	g.add("module chunk a", ok, pb.CommandType_COMMAND_TYPE_MODULE_PUT_CHUNK, put(a))
	g.add("module chunk b", ok, pb.CommandType_COMMAND_TYPE_MODULE_PUT_CHUNK, put(b))
	g.add("module chunk a again: stored once", ok, pb.CommandType_COMMAND_TYPE_MODULE_PUT_CHUNK, put(a))
	bad := put(c)
	bad.Data = []byte("other bytes")
	g.add("module chunk whose data does not match its sha256", invalid, pb.CommandType_COMMAND_TYPE_MODULE_PUT_CHUNK, bad)
	g.add("module chunk over the total", "state.ErrLimit", pb.CommandType_COMMAND_TYPE_MODULE_PUT_CHUNK,
		&pb.ModulePutChunkCommand{Sha256: put(c).Sha256, Data: c, MaxTotalBytes: 10})
	version := func(v string, parts ...[]byte) *pb.ModuleVersion {
		sha, keys, n := sum(parts...)
		return &pb.ModuleVersion{Name: "counter", Version: v, Sha256: sha, Size: n, Chunks: keys,
			ManifestJson: []byte(`{"name":"counter","version":"` + v + `","abi":1}`), Safety: "moderate",
			Capabilities: []*pb.ModuleUse{{Function: "steward.log", Class: "safe"}}, MemoryMinPages: 1,
			PushedBy: "alice", PushedAtUnixNano: g.now.UnixNano()}
	}
	commit := func(v *pb.ModuleVersion) *pb.ModuleCommitCommand {
		return &pb.ModuleCommitCommand{Version: v, HistoryLimit: 10, MaxModuleBytes: 8 << 20, MaxTotalBytes: total,
			ActivateIfNone: true, GcGraceNanos: int64(time.Hour)}
	}
	g.add("module commit counter@1 (becomes active)", ok, pb.CommandType_COMMAND_TYPE_MODULE_COMMIT, commit(version("1", a, b)))
	g.add("module commit counter@1 again, the same bytes: no-op", ok, pb.CommandType_COMMAND_TYPE_MODULE_COMMIT, commit(version("1", a, b)))
	g.add("module commit counter@1 with other bytes", invalid, pb.CommandType_COMMAND_TYPE_MODULE_COMMIT, commit(version("1", b, a)))
	g.add("module commit counter@2 before its chunk c is stored", notFound, pb.CommandType_COMMAND_TYPE_MODULE_COMMIT, commit(version("2", a, c)))
	lying := commit(version("3", a))
	lying.Version.Size = 1
	g.add("module commit whose size is not its chunks'", invalid, pb.CommandType_COMMAND_TYPE_MODULE_COMMIT, lying)
	g.add("module chunk c", ok, pb.CommandType_COMMAND_TYPE_MODULE_PUT_CHUNK, put(c))
	g.add("module commit counter@2, sharing chunk a", ok, pb.CommandType_COMMAND_TYPE_MODULE_COMMIT, commit(version("2", a, c)))
	g.add("module activate counter@2", ok, pb.CommandType_COMMAND_TYPE_MODULE_ACTIVATE, &pb.ModuleActivateCommand{Name: "counter", Version: "2"})
	g.add("module activate a version not stored", notFound, pb.CommandType_COMMAND_TYPE_MODULE_ACTIVATE, &pb.ModuleActivateCommand{Name: "counter", Version: "9"})
	g.add("module delete of the active version", "state.ErrInUse", pb.CommandType_COMMAND_TYPE_MODULE_DELETE, &pb.ModuleDeleteCommand{Name: "counter", Version: "2"})
	g.add("module delete counter@1", ok, pb.CommandType_COMMAND_TYPE_MODULE_DELETE, &pb.ModuleDeleteCommand{Name: "counter", Version: "1", GcGraceNanos: int64(time.Hour)})
	g.add("module delete of a version not stored", notFound, pb.CommandType_COMMAND_TYPE_MODULE_DELETE, &pb.ModuleDeleteCommand{Name: "counter", Version: "1"})
}

// goldenResult decodes a committed plan's result, as an executor does.
func goldenResult(t testing.TB, st *state.Store, id string) *plan.Result {
	t.Helper()
	_, sp, err := st.Plan(nil, id)
	if err != nil || sp == nil {
		t.Fatalf("plan %s has no spec (%v)", id, err)
	}
	res, err := state.DecodePlanResult(sp)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// goldenVersion is one version directory's content.
type goldenVersion struct {
	name    string
	entries [][]byte
	index   goldenIndex
	state   []byte
}

func encodeEntries(entries [][]byte) []byte {
	var out []byte
	for _, e := range entries {
		out = binary.AppendUvarint(out, uint64(len(e)))
		out = append(out, e...)
	}
	return out
}

func decodeEntries(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, fmt.Errorf("entry %d: bad length", len(out)+1)
		}
		out = append(out, b[k:k+int(n)])
		b = b[k+int(n):]
	}
	return out, nil
}

func readGoldenVersion(t testing.TB, dir string) *goldenVersion {
	t.Helper()
	v := &goldenVersion{name: filepath.Base(dir)}
	raw, err := os.ReadFile(filepath.Join(dir, goldenEntriesFile))
	if err != nil {
		t.Fatal(err)
	}
	if v.entries, err = decodeEntries(raw); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	idx, err := os.ReadFile(filepath.Join(dir, goldenIndexFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(idx, &v.index); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	if len(v.index.Entries) != len(v.entries) {
		t.Fatalf("%s: %d entries, %d in the index", dir, len(v.entries), len(v.index.Entries))
	}
	if v.state, err = os.ReadFile(filepath.Join(dir, goldenStateFile)); err != nil {
		t.Fatal(err)
	}
	return v
}

// goldenVersions reads every version directory, oldest first.
func goldenVersions(t testing.TB) []*goldenVersion {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "golden", "v*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		t.Fatal("no golden versions in testdata/golden; run go test ./fsm -run '^TestGolden$' -update")
	}
	var out []*goldenVersion
	for _, d := range dirs {
		out = append(out, readGoldenVersion(t, d))
	}
	return out
}

func writeGolden(t *testing.T) {
	g := buildGoldenLog(t)
	dir := filepath.Join("testdata", "golden", goldenCurrent)
	if _, err := os.Stat(filepath.Join(dir, goldenEntriesFile)); err == nil {
		// Append-only: what is committed must come out unchanged.
		old := readGoldenVersion(t, dir)
		if len(old.entries) > len(g.data) {
			t.Fatalf("the generator makes %d entries, %s holds %d: golden entries are never removed; add a new version", len(g.data), dir, len(old.entries))
		}
		for i, e := range old.entries {
			if !bytes.Equal(e, g.data[i]) || old.index.Entries[i] != g.index[i] {
				t.Fatalf("entry %d (%s) changed: a format change adds a new golden version (goldenCurrent) and keeps %s as it is", i+1, g.index[i].What, dir)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	idx, err := json.MarshalIndent(goldenIndex{
		Comment: "steward golden Raft log " + goldenCurrent + ": " + goldenEntriesFile + " holds each entry's raft.Log data as uvarint length | bytes, applied at Raft index 1, 2, ...; outcome is ok or the kind of the Result's error; " + goldenStateFile + " is state.Snapshot.Persist after the last entry. Made by fsm/golden_test.go; never edit by hand.",
		Entries: g.index,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		goldenEntriesFile: encodeEntries(g.data),
		goldenIndexFile:   append(idx, '\n'),
		goldenStateFile:   snapshotBytes(t, g.f),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d golden entries to %s", len(g.data), dir)
}

// applyGolden applies a version's entries to a fresh FSM and checks each
// outcome against the index.
func applyGolden(t *testing.T, v *goldenVersion) *FSM {
	t.Helper()
	f := newFSM(t, func(err error) { t.Errorf("%s: halted: %v", v.name, err) })
	for i, data := range v.entries {
		want := v.index.Entries[i]
		var e pb.LogEntry
		if err := proto.Unmarshal(data, &e); err != nil {
			t.Fatalf("%s entry %d: %v", v.name, i+1, err)
		}
		if e.Type.String() != want.Type || want.Index != uint64(i+1) {
			t.Fatalf("%s entry %d: type %s index %d, the index says %s at %d", v.name, i+1, e.Type, i+1, want.Type, want.Index)
		}
		res := apply(f, want.Index, data)
		if got := outcomeOf(res.Err); got != want.Outcome {
			t.Errorf("%s entry %d (%s, %s): outcome %s, golden %s (%v)", v.name, i+1, want.Type, want.What, got, want.Outcome, res.Err)
		}
	}
	return f
}

// TestGolden applies every golden log to a fresh FSM: each entry's outcome
// is the recorded one; the state persists to the golden bytes (for an
// older version, once the fields added since are cleared), its status
// enums restate its status names, and it restores and persists back the
// same; state.bin restores and persists back byte for byte, and read
// through the status helpers it says what the state this binary left says.
func TestGolden(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	for _, v := range goldenVersions(t) {
		t.Run(v.name, func(t *testing.T) {
			f := applyGolden(t, v)
			got := snapshotBytes(t, f)
			if !bytes.Equal(goldenComparable(t, v.name, got), v.state) {
				t.Errorf("state after the golden log differs from %s (%d bytes, golden %d; fields added since %s cleared)", goldenStateFile, len(got), len(v.state), v.name)
			}
			checkStatusesAgree(t, got)
			for _, b := range [][]byte{v.state, got} {
				g := newFSM(t, nil)
				if err := g.Restore(nopCloser{bytes.NewReader(b)}); err != nil {
					t.Fatalf("restore: %v", err)
				}
				if again := snapshotBytes(t, g); !bytes.Equal(again, b) {
					t.Errorf("restoring a state of %d bytes and persisting again changes the bytes", len(b))
				}
			}
			g := newFSM(t, nil)
			if err := g.Restore(nopCloser{bytes.NewReader(v.state)}); err != nil {
				t.Fatal(err)
			}
			if old, now := statusSummary(t, g.State()), statusSummary(t, f.State()); old != now {
				t.Errorf("the statuses of %s, read by this binary:\n%s\nthe state it leaves from the log:\n%s", goldenStateFile, old, now)
			}
		})
	}
}

// goldenComparable returns a state this binary left as version's
// state.bin would hold it: the fields added after version cleared (none
// for the current version).
func goldenComparable(t testing.TB, version string, snap []byte) []byte {
	t.Helper()
	clear := map[protoreflect.FullName]bool{}
	for _, a := range goldenAdded {
		if goldenVersionNumber(t, a.version) > goldenVersionNumber(t, version) {
			for _, f := range a.fields {
				clear[f] = true
			}
		}
	}
	if len(clear) == 0 {
		return snap
	}
	return rewriteState(t, snap, proto.UnmarshalOptions{}, func(m proto.Message) { clearFields(m.ProtoReflect(), clear) })
}

func goldenVersionNumber(t testing.TB, version string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(version, "v%d", &n); err != nil {
		t.Fatalf("golden version %q: %v", version, err)
	}
	return n
}

// clearFields clears the named fields in m and every message nested in it.
func clearFields(m protoreflect.Message, names map[protoreflect.FullName]bool) {
	var drop []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case names[fd.FullName()]:
			drop = append(drop, fd)
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					clearFields(mv.Message(), names)
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i, l := 0, v.List(); i < l.Len(); i++ {
					clearFields(l.Get(i).Message(), names)
				}
			}
		case fd.Message() != nil:
			clearFields(v.Message(), names)
		}
		return true
	})
	for _, fd := range drop {
		m.Clear(fd)
	}
}

// rewriteState decodes every record of a state snapshot stream with opts,
// lets edit change it (edit may be nil) and encodes it back as Persist
// does.
func rewriteState(t testing.TB, snap []byte, opts proto.UnmarshalOptions, edit func(proto.Message)) []byte {
	t.Helper()
	var out []byte
	eachRecord(t, snap, func(tag byte, m proto.Message, raw []byte) {
		if tag == 0 {
			out = append(out, raw...) // the header, then the end mark
			return
		}
		m = m.ProtoReflect().Type().New().Interface()
		if err := opts.Unmarshal(raw, m); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(m)
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tag)
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	})
	return out
}

// eachRecord calls fn with every record of a state snapshot stream: its
// table tag, the record decoded and its bytes. The header and the end mark
// come as tag 0 with their bytes and no record.
func eachRecord(t testing.TB, snap []byte, fn func(tag byte, m proto.Message, raw []byte)) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(snap))
	head := make([]byte, 5)
	if _, err := io.ReadFull(br, head); err != nil {
		t.Fatal(err)
	}
	fn(0, nil, head)
	for {
		tag, err := br.ReadByte()
		if err != nil {
			t.Fatalf("snapshot stream: %v", err)
		}
		if tag == 0 {
			fn(0, nil, []byte{0})
			return
		}
		size, err := binary.ReadUvarint(br)
		if err != nil {
			t.Fatal(err)
		}
		rec := make([]byte, size)
		if _, err := io.ReadFull(br, rec); err != nil {
			t.Fatal(err)
		}
		newRecord, ok := snapshotRecordTypes[tag]
		if !ok {
			t.Fatalf("snapshot record of table tag %d, which snapshotRecordTypes does not list", tag)
		}
		m := newRecord()
		if err := proto.Unmarshal(rec, m); err != nil {
			t.Fatal(err)
		}
		fn(tag, m, rec)
	}
}

// checkStatusesAgree: in a state this binary wrote, every status is kept
// as an enum of a value it knows and, beside it, that value's name.
func checkStatusesAgree(t testing.TB, snap []byte) {
	t.Helper()
	check := func(what string, code int32, name, want string) {
		if code == 0 || name != want {
			t.Errorf("%s: status %q, enum %d (%s)", what, name, code, want)
		}
	}
	eachRecord(t, snap, func(_ byte, m proto.Message, _ []byte) {
		switch r := m.(type) {
		case *pb.PlanRecord:
			check("plan "+r.Id, int32(r.StatusCode), r.Status, state.PlanStatusName(r.StatusCode))
			for _, st := range r.Stages {
				check("plan "+r.Id+" "+st.Key, int32(st.StatusCode), st.Status, state.StageStatusName(st.StatusCode))
				for _, step := range st.Steps {
					check("plan "+r.Id+" "+st.Key+" on "+step.Node, int32(step.StatusCode), step.Status, state.StepStatusName(step.StatusCode))
				}
			}
		case *pb.SnapshotRecord:
			check("snapshot "+r.Id, int32(r.StatusCode), r.Status, state.SnapshotStatusName(r.StatusCode))
			if r.FinalStatus != "" || r.FinalStatusCode != 0 {
				check("snapshot "+r.Id+" final", int32(r.FinalStatusCode), r.FinalStatus, state.SnapshotStatusName(r.FinalStatusCode))
			}
			for _, p := range r.Parts {
				check("snapshot "+r.Id+" part "+p.Node, int32(p.StatusCode), p.Status, state.PartStatusName(p.StatusCode))
			}
		case *pb.NodeRecord:
			check("node "+r.Name, int32(r.StatusCode), r.Status, state.NodeStatusName(r.StatusCode))
		case *pb.DeploymentRecord:
			check("deployment "+r.Id, int32(r.StatusCode), r.Status, state.DeploymentStatusName(r.StatusCode))
		}
	})
}

// statusSummary lists every status of a store as the status helpers read
// it, one line per plan, snapshot and node.
func statusSummary(t testing.TB, st *state.Store) string {
	t.Helper()
	var b bytes.Buffer
	_, plans, err := st.Plans(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plans {
		fmt.Fprintf(&b, "plan %s %s done=%v:", p.Id, state.PlanStatusOf(p), state.PlanDone(p))
		for _, s := range p.Stages {
			fmt.Fprintf(&b, " %s=%s", s.Key, state.StageStatusOf(s))
			for _, step := range s.Steps {
				fmt.Fprintf(&b, " %s:%s", step.Node, state.StepStatusOf(step))
			}
		}
		b.WriteByte('\n')
	}
	_, snaps, err := st.Snapshots(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		fmt.Fprintf(&b, "snapshot %s %s final=%s:", s.Id, state.SnapshotStatusOf(s), state.SnapshotFinalStatusOf(s))
		for _, p := range s.Parts {
			fmt.Fprintf(&b, " %s:%s", p.Node, state.PartStatusOf(p))
		}
		b.WriteByte('\n')
	}
	_, nodes, err := st.Nodes(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		fmt.Fprintf(&b, "node %s %s\n", n.Name, state.NodeStatusOf(n))
	}
	return b.String()
}

// TestGoldenCoversEveryCommandType: the current golden log has, for every
// command type in the enum and in the registration table, an entry that
// applies with no error. A new command type fails here until the script
// (buildGoldenLog) appends entries for it and the goldens are regenerated.
func TestGoldenCoversEveryCommandType(t *testing.T) {
	v := readGoldenVersion(t, filepath.Join("testdata", "golden", goldenCurrent))
	okTypes := map[string]bool{}
	for _, e := range v.index.Entries {
		if e.Outcome == outcomeOK {
			okTypes[e.Type] = true
		}
	}
	var want []pb.CommandType
	for n := range pb.CommandType_name {
		if t := pb.CommandType(n); t != pb.CommandType_COMMAND_TYPE_UNSPECIFIED {
			want = append(want, t)
		}
	}
	for typ := range commands {
		want = append(want, typ)
	}
	for _, typ := range want {
		if !okTypes[typ.String()] {
			t.Errorf("command type %s (%d) has no golden entry that applies: add one to buildGoldenLog and run go test ./fsm -run '^TestGolden$' -update", typ, int32(typ))
		}
		if _, ok := NewPayload(typ); !ok {
			t.Errorf("command type %s (%d) is in the enum but not registered", typ, int32(typ))
		}
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
