package fsm

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/steward/steward/pb"
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
// maps) applies as before, on two replicas alike.
func TestUnknownKeysInPlanResultApplyTheSame(t *testing.T) {
	for _, v := range goldenVersions(t) {
		t.Run(v.name, func(t *testing.T) {
			edited := 0
			var entries [][]byte
			for _, data := range v.entries {
				entries = append(entries, skewEntry(t, data, func(typ pb.CommandType, p proto.Message) {
					c, ok := p.(*pb.PlanCreateCommand)
					if !ok || c.Spec == nil {
						return
					}
					for _, js := range []*[]byte{&c.Spec.ResultJson, &c.Spec.PlanJson, &c.Spec.FactsJson} {
						*js = withUnknownKeys(t, *js)
					}
					edited++
				}))
			}
			if edited == 0 {
				t.Fatal("no PLAN_CREATE in the golden log")
			}
			a, b := applySkewed(t, v, entries), applySkewed(t, v, entries)
			if !bytes.Equal(snapshotBytes(t, a), snapshotBytes(t, b)) {
				t.Fatal("two replicas applying plan results with unknown keys persist different states")
			}
		})
	}
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
