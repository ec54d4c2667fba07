package snapshot

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sort"
	"strings"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/spec"
)

// PartVersion is the format of the parts this binary captures. Version 1
// (parts without a version field) had no instance args and no bounds on
// queued bodies; version 2 records each simple_one_for_one instance's
// args (Child.Args) and marks the queued messages whose body was left out
// (Message.Omitted) and the messages beyond MaxQueuedPerProcess
// (Process.QueueOmitted); version 3 records the args each unsupervised
// process was spawned with (Process.Args). Older parts stay readable; a
// restore brings back from them what they hold.
const PartVersion = 3

// Bounds on the queued messages a capture keeps (include_queues).
const (
	// MaxQueuedPerProcess bounds how many queued messages a snapshot keeps
	// per process (the oldest ones); the others are counted in
	// Process.QueueOmitted.
	MaxQueuedPerProcess = 100
	// MaxQueuedMessageBytes bounds one queued message's body (bytes): a
	// longer one is kept without its body (Message.Omitted). It is the
	// limit of a send_message, which restore re-sends messages with.
	MaxQueuedMessageBytes = 64 << 10
	// MaxQueuedBytesPerPart bounds the queued bodies one part keeps in all
	// (bytes); once reached, later messages are kept without their body.
	MaxQueuedBytesPerPart = 8 << 20
)

// Options say what a capture includes beyond trees, processes, names and
// system figures.
type Options struct {
	State  bool `json:"include_state"`
	Queues bool `json:"include_queues"`
	Links  bool `json:"include_links"`
}

// Part is one node's runtime as captured.
type Part struct {
	// Version is the part's format (PartVersion when captured by this
	// binary; 0 for a version 1 part, which had no such field).
	Version    int       `json:"version,omitempty"`
	Node       string    `json:"node"`
	CapturedAt time.Time `json:"captured_at"`
	Options    Options   `json:"options"`
	Trees      []Tree    `json:"trees"`
	Processes  []Process `json:"processes"`
	Names      []Name    `json:"registered_names"`
	System     System    `json:"system"`
}

// Tree is a supervision tree as captured: the spec it ran and its live
// children.
type Tree struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Root   string `json:"root"`
	Reason string `json:"reason,omitempty"`
	// SpecIndex is the desired-state index of the spec the node applied.
	SpecIndex uint64    `json:"spec_index"`
	Spec      spec.Tree `json:"spec"`
	Children  []Child   `json:"children"`
}

// Child is one child slot of a tree, depth first.
type Child struct {
	Path     string `json:"path"`
	PID      string `json:"pid,omitempty"`
	Type     string `json:"type"`
	Behavior string `json:"behavior,omitempty"`
	State    string `json:"state"`
	Restart  string `json:"restart"`
	Restarts int    `json:"restarts"`
	Dynamic  bool   `json:"dynamic,omitempty"`
	Strategy string `json:"strategy,omitempty"`
	// Args are a simple_one_for_one instance's args (Dynamic only; part
	// version 2 on): what a restore starts it again with.
	Args map[string]string `json:"args,omitempty"`
}

// Process is one process as captured.
type Process struct {
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
	// Args are, for an unsupervised process, the args it was spawned with
	// (part version 3 on): what a restore spawns it again with.
	Args map[string]string `json:"args,omitempty"`
	// State is the behavior's exported state (include_state).
	State []byte `json:"state,omitempty"`
	// StateError says why the state could not be read.
	StateError string `json:"state_error,omitempty"`
	// Queue holds up to MaxQueuedPerProcess queued messages, oldest first
	// (include_queues).
	Queue []Message `json:"queue,omitempty"`
	// QueueOmitted counts the queued messages beyond MaxQueuedPerProcess,
	// not kept (part version 2 on).
	QueueOmitted int `json:"queue_omitted,omitempty"`
	// Links, Monitors and MonitoredBy (include_links).
	Links       []string `json:"links,omitempty"`
	Monitors    []string `json:"monitors,omitempty"`
	MonitoredBy []string `json:"monitored_by,omitempty"`
}

// Message is a queued message.
type Message struct {
	Kind string `json:"kind"`
	From string `json:"from,omitempty"`
	Body []byte `json:"body"`
	// Omitted marks a message kept without its body: longer than
	// MaxQueuedMessageBytes, or past the part's MaxQueuedBytesPerPart.
	// Size is then the body's length (bytes).
	Omitted bool `json:"omitted,omitempty"`
	Size    int  `json:"size,omitempty"`
}

// Name is a registered name.
type Name struct {
	Name string `json:"name"`
	PID  string `json:"pid"`
}

// System are the node's figures at capture.
type System struct {
	HeapBytes          uint64 `json:"heap_bytes"`
	RuntimeMemoryBytes int64  `json:"runtime_memory_bytes"`
	Goroutines         int    `json:"goroutines"`
	Processes          int    `json:"processes"`
	QueueTotal         int    `json:"queue_total"`
}

// captureLocal captures a runtime. appliedIndex gives the desired-state
// index each tree runs at.
func captureLocal(ctx context.Context, rt *actor.Runtime, opts Options, appliedIndex func(string) uint64) (*Part, error) {
	now := time.Now().UTC()
	part := &Part{Version: PartVersion, Node: rt.Node(), CapturedAt: now, Options: opts, Trees: []Tree{}, Processes: []Process{}, Names: []Name{}}
	for _, ti := range rt.Trees() {
		t := Tree{Name: ti.Name, Status: string(ti.Status), Root: pidString(ti.Root), Reason: string(ti.Reason),
			SpecIndex: appliedIndex(ti.Name), Spec: ti.Spec, Children: []Child{}}
		if ti.Status == actor.TreeRunning {
			t.Children = children(rt, ti.Root, "")
		}
		part.Trees = append(part.Trees, t)
	}
	queuedBytes := 0
	for _, pi := range rt.Processes() {
		if pi.Status == actor.StatusDead {
			continue
		}
		p := Process{
			PID: pi.PID.String(), Tree: pi.Tree, ChildID: pi.ChildID, Parent: pidString(pi.Parent), Supervisor: pi.Supervisor,
			Behavior: pi.Behavior, Status: string(pi.Status), Restarts: pi.Restarts, QueueLen: pi.QueueLen,
			MessagesIn: pi.MessagesIn, MessagesOut: pi.MessagesOut, MemoryBytes: pi.MemoryBytes,
			RegisteredName: pi.RegisteredName, StartedAt: pi.StartedAt.UTC(),
		}
		if pi.Tree == "" {
			p.Args, _ = rt.SpawnArgs(pi.PID)
		}
		if opts.State && !pi.Supervisor {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := rt.GetState(sctx, pi.PID)
			cancel()
			if err != nil {
				p.StateError = err.Error()
			} else {
				p.State = st
			}
		}
		if opts.Queues && pi.QueueLen > 0 {
			msgs, err := rt.Peek(pi.PID, MaxQueuedPerProcess)
			if err == nil {
				for _, m := range msgs {
					qm := Message{Kind: m.Kind.String(), From: pidString(m.From), Body: m.Body}
					if len(m.Body) > MaxQueuedMessageBytes || queuedBytes+len(m.Body) > MaxQueuedBytesPerPart {
						qm.Body, qm.Omitted, qm.Size = nil, true, len(m.Body)
					}
					queuedBytes += len(qm.Body)
					p.Queue = append(p.Queue, qm)
				}
				p.QueueOmitted = max(0, pi.QueueLen-len(msgs))
			}
		}
		if opts.Links {
			p.Links, p.Monitors, p.MonitoredBy = pidStrings(pi.Links), pidStrings(pi.Monitors), pidStrings(pi.MonitoredBy)
		}
		part.Processes = append(part.Processes, p)
		part.System.QueueTotal += pi.QueueLen
	}
	for _, n := range rt.RegisteredNames() {
		part.Names = append(part.Names, Name{Name: n.Name, PID: n.PID.String()})
	}
	sort.Slice(part.Names, func(i, j int) bool { return part.Names[i].Name < part.Names[j].Name })
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	st := rt.Stats()
	part.System.HeapBytes, part.System.RuntimeMemoryBytes = ms.HeapInuse, st.MemoryBytes
	part.System.Goroutines, part.System.Processes = goruntime.NumGoroutine(), len(part.Processes)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("capture interrupted: %w", err)
	}
	return part, nil
}

func children(rt *actor.Runtime, sup actor.PID, prefix string) []Child {
	kids, err := rt.WhichChildren(sup)
	if err != nil {
		return nil
	}
	var args map[string]map[string]string
	var out []Child
	for _, k := range kids {
		path := strings.TrimPrefix(prefix+"/"+k.ID, "/")
		c := Child{Path: path, PID: pidString(k.PID), Type: string(k.Type), Behavior: k.Behavior, State: k.State,
			Restart: string(k.Restart), Restarts: k.Restarts, Dynamic: k.Dynamic}
		if k.Dynamic {
			if args == nil {
				args, _ = rt.InstanceArgs(sup)
			}
			c.Args = args[k.ID]
		}
		if k.Type == spec.Supervisor && !k.PID.IsZero() {
			if pol, err := rt.SupervisorPolicy(k.PID); err == nil {
				c.Strategy = string(pol.Strategy)
			}
			out = append(out, c)
			out = append(out, children(rt, k.PID, path)...)
			continue
		}
		out = append(out, c)
	}
	return out
}

func pidString(p actor.PID) string {
	if p.IsZero() {
		return ""
	}
	return p.String()
}

func pidStrings(ps []actor.PID) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}
