package fsm

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Version skew (issue 10): during a rolling upgrade a leader of version
// N+1 commits fields that followers of version N do not know. These tests
// take the golden log, add such fields, and check that every replica
// applies the entries as before: same outcomes, same state on two
// independent FSMs, and nothing refused because of a field it does not
// know.

// unknownFields are what a newer leader's binary might add to any message:
// a length-delimited field and a varint field with numbers no steward
// message uses.
var unknownFields = protowire.AppendVarint(
	protowire.AppendTag(
		protowire.AppendBytes(protowire.AppendTag(nil, 9999, protowire.BytesType), []byte("from a newer steward")),
		9998, protowire.VarintType),
	42)

// addUnknown appends unknownFields to m and to every message nested in it.
func addUnknown(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					addUnknown(mv.Message())
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i, l := 0, v.List(); i < l.Len(); i++ {
					addUnknown(l.Get(i).Message())
				}
			}
		case fd.Message() != nil:
			addUnknown(v.Message())
		}
		return true
	})
	m.SetUnknown(append(append(protoreflect.RawFields(nil), m.GetUnknown()...), unknownFields...))
}

// skewEntry adds unknown fields to a log entry, to its payload and to
// every message nested in the payload. A payload that does not decode (a
// malformed or unknown command) is left as it is.
func skewEntry(t *testing.T, data []byte, payloadEdit func(pb.CommandType, proto.Message)) []byte {
	t.Helper()
	var e pb.LogEntry
	if err := proto.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	if def, ok := commands[e.Type]; ok {
		p := def.newPayload()
		if proto.Unmarshal(e.Payload, p) == nil {
			if payloadEdit != nil {
				payloadEdit(e.Type, p)
			}
			b, err := proto.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			e.Payload = b
		}
	}
	addUnknown(e.ProtoReflect())
	b, err := proto.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// applySkewed applies entries to a fresh FSM and checks every outcome
// against the golden index.
func applySkewed(t *testing.T, v *goldenVersion, entries [][]byte) *FSM {
	t.Helper()
	f := newFSM(t, func(err error) { t.Errorf("halted: %v", err) })
	for i, data := range entries {
		want := v.index.Entries[i]
		res := apply(f, want.Index, data)
		if got := outcomeOf(res.Err); got != want.Outcome {
			t.Errorf("%s entry %d (%s, %s) with fields of a newer version: outcome %s, golden %s (%v)", v.name, i+1, want.Type, want.What, got, want.Outcome, res.Err)
		}
	}
	return f
}

// TestUnknownProtobufFieldsApplyTheSame: unknown fields in the log entry,
// the payload and every nested record change no outcome; two replicas end
// with the same bytes; and with the unknown fields dropped the state is
// the golden state, so they changed nothing else.
func TestUnknownProtobufFieldsApplyTheSame(t *testing.T) {
	for _, v := range goldenVersions(t) {
		t.Run(v.name, func(t *testing.T) {
			var entries [][]byte
			for _, data := range v.entries {
				entries = append(entries, skewEntry(t, data, func(_ pb.CommandType, p proto.Message) { addUnknown(p.ProtoReflect()) }))
			}
			a, b := applySkewed(t, v, entries), applySkewed(t, v, entries)
			sa, sb := snapshotBytes(t, a), snapshotBytes(t, b)
			if !bytes.Equal(sa, sb) {
				t.Fatal("two replicas applying the same entries with unknown fields persist different states")
			}
			if !bytes.Contains(sa, []byte("from a newer steward")) {
				t.Error("no unknown field reached the stored records: the test adds nothing")
			}
			if got := goldenComparable(t, v.name, withoutUnknown(t, sa)); !bytes.Equal(got, v.state) {
				t.Error("with the unknown fields dropped, the state differs from the golden state")
			}
		})
	}
}

// TestUnknownKeysInPlanResultApplyTheSame: a newer leader's plan result
// JSON with keys this version does not know (in every object except args
// maps) applies as before, on two replicas alike, and the plans progress
// as they do from the golden log. A PLAN_CREATE of v1 has no shape: the
// state machine derives it from the result, whose unknown keys it
// ignores. One of v2 carries its shape and the result is not read at all,
// so even a result this binary's plan package cannot decode changes
// nothing.
func TestUnknownKeysInPlanResultApplyTheSame(t *testing.T) {
	for _, v := range goldenVersions(t) {
		t.Run(v.name, func(t *testing.T) {
			want := planRecords(t, applyGolden(t, v))
			shaped := 0
			for _, edit := range []struct {
				name string
				fn   func(c *pb.PlanCreateCommand)
			}{
				{"unknown keys", func(c *pb.PlanCreateCommand) {
					for _, js := range []*[]byte{&c.Spec.ResultJson, &c.Spec.PlanJson, &c.Spec.FactsJson} {
						*js = withUnknownKeys(t, *js)
					}
				}},
				{"a result this version cannot decode", func(c *pb.PlanCreateCommand) {
					if c.Spec.Shape != nil {
						shaped++
						c.Spec.ResultJson = []byte(`{"phases":"in a newer format","x_newer_field":1}`)
					}
				}},
			} {
				edited := 0
				var entries [][]byte
				for _, data := range v.entries {
					entries = append(entries, skewEntry(t, data, func(typ pb.CommandType, p proto.Message) {
						c, ok := p.(*pb.PlanCreateCommand)
						if !ok || c.Spec == nil {
							return
						}
						edit.fn(c)
						edited++
					}))
				}
				if edited == 0 {
					t.Fatal("no PLAN_CREATE in the golden log")
				}
				a, b := applySkewed(t, v, entries), applySkewed(t, v, entries)
				if !bytes.Equal(snapshotBytes(t, a), snapshotBytes(t, b)) {
					t.Fatalf("%s: two replicas applying the plans persist different states", edit.name)
				}
				if got := planRecords(t, a); !slices.EqualFunc(got, want, func(x, y *pb.PlanRecord) bool { return proto.Equal(x, y) }) {
					t.Errorf("%s: the plans progress otherwise than from the golden log", edit.name)
				}
			}
			if v.name == goldenCurrent && shaped == 0 {
				t.Error("no PLAN_CREATE with a shape in the current golden log")
			}
		})
	}
}

func planRecords(t *testing.T, f *FSM) []*pb.PlanRecord {
	t.Helper()
	_, plans, err := f.State().Plans(nil)
	if err != nil {
		t.Fatal(err)
	}
	return plans
}

// TestUnknownKeysAndBehaviorsInTreeSpecsApplyTheSame: a newer leader's
// tree spec with keys this version does not know (in every object except
// args maps) and behaviors it does not have applies as before, on two
// replicas alike: Apply does not parse the spec. This binary's parser,
// which the node running the tree uses, refuses those specs; that node
// reports it, the replicated state does not diverge.
func TestUnknownKeysAndBehaviorsInTreeSpecsApplyTheSame(t *testing.T) {
	for _, v := range goldenVersions(t) {
		t.Run(v.name, func(t *testing.T) {
			edited := 0
			var entries [][]byte
			for _, data := range v.entries {
				entries = append(entries, skewEntry(t, data, func(typ pb.CommandType, p proto.Message) {
					c, ok := p.(*pb.TreeApplyCommand)
					if !ok || c.Tree == nil {
						return
					}
					c.Tree.SpecJson = withUnknownBehaviors(t, withUnknownKeys(t, c.Tree.SpecJson))
					edited++
				}))
			}
			if edited == 0 {
				t.Fatal("no TREE_APPLY in the golden log")
			}
			a, b := applySkewed(t, v, entries), applySkewed(t, v, entries)
			if !bytes.Equal(snapshotBytes(t, a), snapshotBytes(t, b)) {
				t.Fatal("two replicas applying tree specs of a newer version persist different states")
			}
			_, trees, err := a.State().Trees(nil, "")
			if err != nil || len(trees) == 0 {
				t.Fatalf("no trees applied (%v)", err)
			}
			for _, rec := range trees {
				if !bytes.Contains(rec.SpecJson, []byte("from_a_newer_steward")) || !bytes.Contains(rec.SpecJson, []byte("x_newer_field")) {
					t.Errorf("tree %s does not hold the newer spec: %s", rec.Name, rec.SpecJson)
				}
				if _, err := state.DecodeTree(rec); err == nil {
					t.Errorf("tree %s: this binary's parser accepts the newer spec, so the test adds nothing", rec.Name)
				}
			}
		})
	}
}

// TestStatusEnumsOfANewerVersionApplyTheSame: a newer leader's status
// values this version does not know, in node upserts and snapshot
// imports, are applied, not refused, kept as they are and alike on two
// replicas; an entry refused for its status name alone is then accepted,
// every other keeps its outcome.
func TestStatusEnumsOfANewerVersionApplyTheSame(t *testing.T) {
	const newer = 99
	for _, v := range goldenVersions(t) {
		t.Run(v.name, func(t *testing.T) {
			var entries [][]byte
			edited := map[int]bool{}
			for i, data := range v.entries {
				entries = append(entries, skewEntry(t, data, func(typ pb.CommandType, p proto.Message) {
					switch c := p.(type) {
					case *pb.NodeUpsertCommand:
						if c.Node != nil {
							c.Node.StatusCode, c.Node.Status = newer, "draining"
							edited[i] = true
						}
					case *pb.SnapshotImportCommand:
						if c.Record != nil {
							c.Record.FinalStatusCode, c.Record.FinalStatus = newer, "archived"
							edited[i] = true
						}
					}
				}))
			}
			var replicas [2]*FSM
			for r := range replicas {
				f := newFSM(t, func(err error) { t.Errorf("halted: %v", err) })
				for i, data := range entries {
					want := v.index.Entries[i]
					res := apply(f, want.Index, data)
					got := outcomeOf(res.Err)
					if edited[i] && want.Outcome == "state.ErrInvalidRecord" && res.Err == nil {
						continue // refused for its status name; the enum is accepted
					}
					if got != want.Outcome {
						t.Errorf("entry %d (%s): outcome %s, golden %s (%v)", i+1, want.What, got, want.Outcome, res.Err)
					}
				}
				replicas[r] = f
			}
			if !bytes.Equal(snapshotBytes(t, replicas[0]), snapshotBytes(t, replicas[1])) {
				t.Fatal("two replicas applying statuses of a newer version persist different states")
			}
			st := replicas[0].State()
			_, nodes, _ := st.Nodes(nil)
			_, snaps, _ := st.Snapshots(nil)
			for _, n := range nodes {
				if n.StatusCode != newer || n.Status != "draining" {
					t.Errorf("node %s is %s (%d)", n.Name, n.Status, n.StatusCode)
				}
			}
			imports := 0
			for _, s := range snaps {
				if s.FinalStatusCode == newer {
					imports++
					if state.SnapshotStatusOf(s) != newer && state.SnapshotStatusOf(s) != pb.SnapshotStatus_SNAPSHOT_STATUS_IMPORTING {
						t.Errorf("import %s is %s (%d)", s.Id, s.Status, s.StatusCode)
					}
				}
			}
			if len(nodes) == 0 || imports == 0 {
				t.Fatalf("%d nodes, %d imports: the test edits nothing", len(nodes), imports)
			}
		})
	}
}

// withUnknownBehaviors gives every child of a spec document a behavior no
// version of steward has.
func withUnknownBehaviors(t *testing.T, js []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["behavior"]; ok {
				x["behavior"] = "from_a_newer_steward"
			}
			if kids, ok := x["children"]; ok {
				walk(kids)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withUnknownKeys adds a key no version of steward uses to every object of
// a JSON document, except the values of "args" (string maps, where a key
// is data).
func withUnknownKeys(t *testing.T, js []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k != "args" {
					walk(e)
				}
			}
			x["x_newer_field"] = map[string]any{"note": "from a newer steward", "n": 1}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshotRecordTypes are the record types of the state snapshot stream
// by table tag (state/schema.go; each table's tag in its file). A table
// added later fails withoutUnknown until it is listed here.
var snapshotRecordTypes = map[byte]func() proto.Message{
	1:  func() proto.Message { return new(pb.IndexRecord) },
	2:  func() proto.Message { return new(pb.ClusterMeta) },
	3:  func() proto.Message { return new(pb.KVRecord) },
	4:  func() proto.Message { return new(pb.NodeRecord) },
	5:  func() proto.Message { return new(pb.TreeRecord) },
	6:  func() proto.Message { return new(pb.PlanSpecRecord) },
	7:  func() proto.Message { return new(pb.PlanRecord) },
	8:  func() proto.Message { return new(pb.ThresholdsRecord) },
	10: func() proto.Message { return new(pb.SnapshotRecord) },
	11: func() proto.Message { return new(pb.SnapshotChunk) },
	12: func() proto.Message { return new(pb.ModuleChunk) },
	13: func() proto.Message { return new(pb.ModuleVersion) },
	14: func() proto.Message { return new(pb.ModuleActive) },
	15: func() proto.Message { return new(pb.ModuleTrustedKey) },
	16: func() proto.Message { return new(pb.DeploymentRecord) },
	17: func() proto.Message { return new(pb.CheckpointRecord) },
	18: func() proto.Message { return new(pb.SandboxRecord) },
	19: func() proto.Message { return new(pb.ExperimentRecord) },
	20: func() proto.Message { return new(pb.ACLPolicy) },
	21: func() proto.Message { return new(pb.ACLToken) },
	22: func() proto.Message { return new(pb.ACLBootstrapRecord) },
}

// withoutUnknown rewrites a state snapshot stream with the unknown fields
// of every record dropped.
func withoutUnknown(t *testing.T, snap []byte) []byte {
	t.Helper()
	return rewriteState(t, snap, proto.UnmarshalOptions{DiscardUnknown: true}, nil)
}

// The stripping itself must not change a state without unknown fields.
func TestWithoutUnknownKeepsTheGoldenState(t *testing.T) {
	for _, v := range goldenVersions(t) {
		if !bytes.Equal(withoutUnknown(t, v.state), v.state) {
			t.Errorf("%s: withoutUnknown changes the golden state", v.name)
		}
	}
}
