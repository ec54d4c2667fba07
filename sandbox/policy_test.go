package sandbox_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/spec"
)

// Omitted values take the seed's defaults: tracing of messages and state
// changes on, isolation moderate, monitoring every 5,000 ms, 100 MB of
// memory, 50 processes, 25 % of a core, 20 file handles.
func TestDefaults(t *testing.T) {
	for _, c := range []struct{ name, data string }{{"p.hcl", ""}, {"p.json", "{}"}, {"p", "{ }"}} {
		p, err := sandbox.Parse([]byte(c.data), c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := sandbox.Policy{
			Isolation: actor.IsolationModerate, Response: actor.ResponseKill,
			MonitorInterval: 5000 * time.Millisecond,
			Trace:           sandbox.Trace{Messages: true, States: true, HistorySamples: 100},
			Limits:          sandbox.Limits{MaxMemoryBytes: 100 << 20, MaxProcesses: 50, CPUPercent: 25, MaxFileHandles: 20},
		}
		if !reflect.DeepEqual(p, want) {
			t.Fatalf("%s: %+v\nwant %+v", c.name, p, want)
		}
	}
}

const fullHCL = `
name             = "exp-a"
isolation        = "strict"
response         = "terminate_sandbox"
monitor_interval = "2s"
trace {
  messages = false
}
limits {
  max_memory_bytes        = 1048576
  max_processes           = 10
  cpu_percent             = 50
  message_deadline        = "250ms"
  max_messages_per_second = 1000
  max_mailbox             = 100
  max_file_handles        = 1
}
allow {
  names = ["svc"]
  trees = ["db"]
}
`

const fullJSON = `{
  "name": "exp-a", "isolation": "strict", "response": "terminate_sandbox", "monitor_interval": "2s",
  "trace": {"messages": false},
  "limits": {"max_memory_bytes": 1048576, "max_processes": 10, "cpu_percent": 50, "message_deadline": "250ms",
             "max_messages_per_second": 1000, "max_mailbox": 100, "max_file_handles": 1},
  "allow": {"names": ["svc"], "trees": ["db"]}
}`

// Both formats read the same policy, and it becomes the runtime's.
func TestParseBothFormats(t *testing.T) {
	h, err := sandbox.Parse([]byte(fullHCL), "p.hcl")
	if err != nil {
		t.Fatal(err)
	}
	j, err := sandbox.Parse([]byte(fullJSON), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h, j) {
		t.Fatalf("hcl %+v\njson %+v", h, j)
	}
	if !h.Trace.States || h.Trace.Messages {
		t.Fatalf("trace %+v: an omitted option keeps its default", h.Trace)
	}
	got := h.Actor()
	want := actor.SandboxPolicy{
		Isolation: actor.IsolationStrict, AllowNames: []string{"svc"}, AllowTrees: []string{"db"},
		MaxProcesses: 10, MaxMailbox: 100, MaxMessagesPerSecond: 1000, MessageDeadline: 250 * time.Millisecond,
		MaxMemoryBytes: 1 << 20, MonitorInterval: 2 * time.Second, Response: actor.ResponseTerminate,
		CPUPercent: 50, MaxFileHandles: 1, HistorySamples: 100,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("actor policy %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Every field is validated, and the error names its path.
func TestValidateFieldPaths(t *testing.T) {
	for path, body := range map[string]string{
		"name":                           `{"name": "-x"}`,
		"isolation":                      `{"isolation": "loose"}`,
		"response":                       `{"response": "shrug"}`,
		"monitor_interval":               `{"monitor_interval": "1ms"}`,
		"limits.max_memory_bytes":        `{"limits": {"max_memory_bytes": 0}}`,
		"limits.max_processes":           `{"limits": {"max_processes": 0}}`,
		"limits.cpu_percent":             `{"limits": {"cpu_percent": 101}}`,
		"limits.message_deadline":        `{"limits": {"message_deadline": "soon"}}`,
		"limits.max_messages_per_second": `{"limits": {"max_messages_per_second": -1}}`,
		"limits.max_mailbox":             `{"limits": {"max_mailbox": 1000000}}`,
		"limits.max_file_handles":        `{"limits": {"max_file_handles": 5000}}`,
		"trace.history_samples":          `{"trace": {"history_samples": 0}}`,
		"allow.names[1]":                 `{"allow": {"names": ["ok", "1bad"]}}`,
		"allow.trees[0]":                 `{"allow": {"trees": ["a/b"]}}`,
	} {
		_, err := sandbox.Parse([]byte(body), "p.json")
		var fe *fielderr.Error
		if !errors.Is(err, sandbox.ErrInvalid) || !errors.As(err, &fe) || len(fe.Problems) != 1 || fe.Problems[0].Path != path {
			t.Errorf("%s: %v", path, err)
		}
	}
	// The same rules through HCL.
	_, err := sandbox.Parse([]byte("limits {\n  cpu_percent = 0\n}\n"), "p.hcl")
	if !errors.Is(err, sandbox.ErrInvalid) || !strings.Contains(err.Error(), "limits.cpu_percent") {
		t.Errorf("hcl: %v", err)
	}
}

// Unknown fields and wrong types are syntax errors, in both formats.
func TestSyntaxErrors(t *testing.T) {
	for _, c := range []struct{ name, data, want string }{
		{"p.json", `{"isolaton": "strict"}`, "isolaton"},
		{"p.json", `{"limits": {"max_processes": "many"}}`, "limits.max_processes"},
		{"p.hcl", `isolaton = "strict"`, "isolaton"},
		{"p.hcl", "limits {\n  max_processes = \"many\"\n}\n", "max_processes"},
		{"p.hcl", `isolation = `, ""},
	} {
		_, err := sandbox.Parse([]byte(c.data), c.name)
		if !errors.Is(err, sandbox.ErrSyntax) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v", c.name, c.data, err)
		}
	}
	if _, err := sandbox.Parse(make([]byte, sandbox.MaxPolicyBytes+1), "p.json"); !errors.Is(err, sandbox.ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
}

// A parsed policy runs: a strict sandbox from a file, applied to the
// runtime, refuses a send out of it and keeps the violation.
func TestParsedPolicyEnforced(t *testing.T) {
	p, err := sandbox.Parse([]byte("isolation = \"strict\"\nresponse = \"log\"\n"), "p.hcl")
	if err != nil {
		t.Fatal(err)
	}
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Logger = actortest.Logger(t)
	cfg.Clock = actortest.NewManualClock(time.Unix(0, 0))
	cfg.Catalog = behaviors.NewCatalog()
	procs := make(chan actor.Proc, 1)
	if err := cfg.Catalog.Register(actor.Entry{Name: "holder", New: func(map[string]string) (actor.Behavior, error) {
		return &holder{procs: procs}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	ctx := actortest.Context(t)
	out, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	tr := spec.Tree{Name: "box", SupervisorSpec: spec.SupervisorSpec{Strategy: spec.OneForOne, MaxRestarts: 3, MaxSeconds: 5,
		Children: []spec.ChildSpec{{ID: "h", Behavior: "holder"}}}}
	if err := rt.ApplySandbox(ctx, tr, p.Actor()); err != nil {
		t.Fatal(err)
	}
	proc := <-procs
	if err := proc.Send(out, []byte("x")); !errors.Is(err, actor.ErrBoundary) {
		t.Fatalf("send out of a strict sandbox: %v", err)
	}
	vs, err := rt.SandboxViolations("box")
	if err != nil || len(vs) != 1 || vs[0].Kind != actor.ViolationBoundary || vs[0].Other != out {
		t.Fatalf("violations %v (%v)", vs, err)
	}
}

type holder struct{ procs chan<- actor.Proc }

func (h *holder) Init(p actor.Proc) error                                { h.procs <- p; return nil }
func (*holder) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) { return m.Body, nil }
func (*holder) HandleCast(actor.Proc, actor.Message) error               { return nil }
func (*holder) HandleInfo(actor.Proc, actor.Message) error               { return nil }
func (*holder) Terminate(actor.Proc, actor.Reason)                       {}
func (*holder) CodeChange(string, []byte) error                          { return nil }
func (*holder) ExportState() ([]byte, error)                             { return nil, nil }
func (*holder) ImportState([]byte) error                                 { return nil }

// Start applies the policy's trace options with the sandbox: the seed's
// defaults trace messages and states; a policy for another tree is
// refused before anything runs.
func TestStartTraces(t *testing.T) {
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Logger = actortest.Logger(t)
	cfg.Clock = actortest.NewManualClock(time.Unix(0, 0))
	cfg.Catalog = behaviors.NewCatalog()
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	ctx := actortest.Context(t)
	tr := func(name string) spec.Tree {
		return spec.Tree{Name: name, SupervisorSpec: spec.SupervisorSpec{Strategy: spec.OneForOne, MaxRestarts: 3, MaxSeconds: 5,
			Children: []spec.ChildSpec{{ID: "e", Behavior: "echo"}}}}
	}
	if err := sandbox.Start(ctx, rt, tr("a"), sandbox.Defaults()); err != nil {
		t.Fatal(err)
	}
	if ti, err := rt.Tree("a"); err != nil || !ti.Tracing.Flow || !ti.Tracing.History {
		t.Fatalf("defaults: tracing %+v (%v)", ti.Tracing, err)
	}
	quiet := sandbox.Defaults()
	quiet.Trace = sandbox.Trace{HistorySamples: 100}
	if err := sandbox.Start(ctx, rt, tr("b"), quiet); err != nil {
		t.Fatal(err)
	}
	if ti, _ := rt.Tree("b"); ti.Tracing.Flow || ti.Tracing.History {
		t.Fatalf("tracing off: %+v", ti.Tracing)
	}
	st, err := rt.SandboxStatus("b")
	if err != nil || st.Policy.MaxProcesses != sandbox.DefaultMaxProcesses || st.Policy.MaxMemoryBytes != sandbox.DefaultMaxMemoryBytes {
		t.Fatalf("runtime policy %+v (%v)", st.Policy, err)
	}
	other := sandbox.Defaults()
	other.Name = "elsewhere"
	if err := sandbox.Start(ctx, rt, tr("c"), other); !errors.Is(err, sandbox.ErrInvalid) {
		t.Fatalf("policy for another tree: %v", err)
	}
	if _, err := rt.Tree("c"); !errors.Is(err, actor.ErrTreeNotFound) {
		t.Fatalf("a refused sandbox started: %v", err)
	}
}
