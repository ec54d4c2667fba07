package audit

import (
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/steward/steward/pb"
)

// ResultOK is an entry's result for a call that succeeded.
const ResultOK = "ok"

// Entry is one line of the log. The JSON keys are stable.
type Entry struct {
	Time   time.Time `json:"time"`
	Node   string    `json:"node"`
	Method string    `json:"method"`
	// Resource is the method's ACL resource (kv, tree, process, ...).
	Resource string `json:"resource,omitempty"`
	// Target is what the request names, by proto field name (targetFields).
	Target   map[string]string `json:"target,omitempty"`
	Accessor string            `json:"accessor,omitempty"`
	Subject  string            `json:"subject,omitempty"`
	Peer     string            `json:"peer,omitempty"`
	// Result is ResultOK or the gRPC code's name.
	Result     string `json:"result"`
	Error      string `json:"error,omitempty"`
	DurationUS int64  `json:"duration_us"`
}

// PB is the entry as the Audit service answers it.
func (e *Entry) PB() *pb.AuditEntry {
	return &pb.AuditEntry{TimeUnixNano: e.Time.UnixNano(), Node: e.Node, Method: e.Method, Resource: e.Resource,
		Target: e.Target, Accessor: e.Accessor, Subject: e.Subject, Peer: e.Peer, Result: e.Result, Error: e.Error,
		DurationUs: e.DurationUS}
}

// targetFields are the request fields an entry records: names of what a
// write acts on. Only these are read, so a value, a spec, a file, a rule
// or a secret is never written, whatever the request holds.
var targetFields = map[protoreflect.Name]bool{
	"key": true, "prefix": true, "name": true, "tree": true, "node": true, "id": true, "version": true,
	"module": true, "path": true, "pid": true, "accessor_id": true, "to": true, "sandbox": true,
	"child_id": true, "supervisor": true,
}

// nestedFields are message fields whose own target fields are recorded,
// as "<field>.<name>" (a process reference, a supervisor).
var nestedFields = map[protoreflect.Name]bool{"ref": true, "supervisor": true, "target": true}

// secretServices are services whose requests carry key material: their
// targets are never recorded, whatever their fields are named (a gossip
// key travels as secret_key today; a rename must not leak it).
var secretServices = []string{"/steward.v1.Keyring/"}

// targetOf lists the target fields a request of method sets.
func targetOf(method string, req any) map[string]string {
	for _, s := range secretServices {
		if strings.HasPrefix(method, s) {
			return nil
		}
	}
	m, ok := req.(proto.Message)
	if !ok || m == nil {
		return nil
	}
	out := map[string]string{}
	collect(m.ProtoReflect(), "", out, 0)
	if len(out) == 0 {
		return nil
	}
	return out
}

func collect(m protoreflect.Message, prefix string, out map[string]string, depth int) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := fd.Name()
		switch {
		case fd.IsList() || fd.IsMap():
		case fd.Kind() == protoreflect.MessageKind && nestedFields[name] && depth == 0:
			collect(v.Message(), prefix+string(name)+".", out, depth+1)
		case !targetFields[name]:
		case fd.Kind() == protoreflect.StringKind:
			s := v.String()
			if len(s) > MaxTargetBytes {
				s = s[:MaxTargetBytes] + "…"
			}
			out[prefix+string(name)] = s
		case fd.Kind() == protoreflect.Uint64Kind || fd.Kind() == protoreflect.Int64Kind ||
			fd.Kind() == protoreflect.Uint32Kind || fd.Kind() == protoreflect.Int32Kind:
			out[prefix+string(name)] = v.String()
		}
		return true
	})
}
