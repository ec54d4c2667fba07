package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
)

// rpcs are the Runtime and Supervision clients of the chosen agent, with a
// context bounded by --timeout.
type rpcs struct {
	rt   pb.RuntimeClient
	sup  pb.SupervisionClient
	ctx  context.Context
	done func()
}

func (g *globals) dialRPCs(cmd *cobra.Command) (*rpcs, error) {
	c, ctx, done, err := g.connect(cmd)
	if err != nil {
		return nil, err
	}
	return &rpcs{rt: pb.NewRuntimeClient(c.Conn()), sup: pb.NewSupervisionClient(c.Conn()), ctx: ctx, done: done}, nil
}

const processArgHelp = `PROCESS is a PID ("n1/7" or "pid:n1/7"), a registered name ("name:NAME" or a
bare NAME, with --node), or a place in a tree ("tree:TREE/child/..."; a bare
"TREE/child" when it is not a PID; "tree:TREE" is the root supervisor).`

// processRef reads a PROCESS argument in the forms actor.ParseTarget
// accepts.
func processRef(arg, node string) (*pb.ProcessRef, error) {
	t, err := actor.ParseTarget(arg)
	if err != nil {
		return nil, usageError(fmt.Sprintf("process %q: %v", arg, err))
	}
	ref := &pb.ProcessRef{Node: node}
	switch {
	case !t.PID.IsZero():
		ref.Pid = t.PID.String()
	case t.Name != "":
		if node == "" {
			return nil, usageError(fmt.Sprintf("process %q: a registered name needs --node NODE (names are per node)", arg))
		}
		ref.Name = t.Name
	default:
		ref.Tree, ref.Path = t.Tree, t.Path
	}
	return ref, nil
}

// procJSON is each item of `steward proc list -o json` and the base of
// `steward proc info -o json`. Supervisor is the tree the process belongs
// to; Type says whether it is a worker or a supervisor.
type procJSON struct {
	PID        string `json:"pid"`
	Node       string `json:"node"`
	Supervisor string `json:"supervisor"`
	ChildID    string `json:"child_id"`
	Type       string `json:"type"`
	Behavior   string `json:"behavior"`
	// Module is the child spec's module ref ("counter" follows the active
	// version, "counter@3" pinned), "" for a child naming a behavior.
	Module         string `json:"module"`
	Status         string `json:"status"`
	Restarts       uint32 `json:"restarts"`
	QueueLen       uint32 `json:"queue_len"`
	MessagesIn     uint64 `json:"messages_in"`
	MessagesOut    uint64 `json:"messages_out"`
	MemoryBytes    int64  `json:"memory_bytes"`
	RegisteredName string `json:"registered_name"`
	Parent         string `json:"parent"`
}

// procInfoJSON is `steward proc info -o json`.
type procInfoJSON struct {
	procJSON
	Links       []string `json:"links"`
	Monitors    []string `json:"monitors"`
	MonitoredBy []string `json:"monitored_by"`
	TrapExit    bool     `json:"trap_exit"`
	StartedAt   string   `json:"started_at"`
}

func toProcJSON(p *pb.ProcessInfo) procJSON {
	typ := "worker"
	if p.Supervisor {
		typ = "supervisor"
	}
	return procJSON{
		PID: p.Pid, Node: p.Node, Supervisor: p.Tree, ChildID: p.ChildId, Type: typ, Behavior: p.Behavior, Module: p.Module,
		Status: p.Status, Restarts: p.Restarts, QueueLen: p.QueueLen, MessagesIn: p.MessagesIn,
		MessagesOut: p.MessagesOut, MemoryBytes: p.MemoryBytes, RegisteredName: p.RegisteredName, Parent: p.Parent,
	}
}

func toProcInfoJSON(p *pb.ProcessInfo) procInfoJSON {
	return procInfoJSON{
		procJSON: toProcJSON(p), Links: nonNil(p.Links), Monitors: nonNil(p.Monitors),
		MonitoredBy: nonNil(p.MonitoredBy), TrapExit: p.TrapExit, StartedAt: jsonTime(p.StartedAtUnixNano),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// jsonTime renders Unix nanoseconds as RFC 3339 in UTC ("" for 0).
func jsonTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// textTime renders Unix nanoseconds for people, in local time.
func textTime(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).Format("2006-01-02 15:04:05.000")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stateJSON embeds a process state in JSON output: as is when it is JSON
// (native behaviors export JSON), else as a string.
func stateJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		var buf bytes.Buffer
		if json.Compact(&buf, b) == nil {
			return buf.Bytes()
		}
	}
	s, _ := json.Marshal(string(b))
	return s
}

func newProcCmd(g *globals) *cobra.Command {
	proc := &cobra.Command{
		Use:   "proc",
		Short: "Inspect and act on processes, wherever they run",
		Long:  "Inspect and act on processes. A request is forwarded to the node that runs the process.\n\n" + processArgHelp,
	}
	proc.AddCommand(newProcListCmd(g), newProcInfoCmd(g), newProcStateCmd(g), newProcKillCmd(g),
		newProcSendCmd(g), newProcSuspendCmd(g, true), newProcSuspendCmd(g, false))
	return proc
}

func newProcListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List processes of every alive node (or of one node, or one tree)", Args: cobra.NoArgs}
	out := outputFlag(cmd)
	nodeName := cmd.Flags().String("node", "", "only this node's processes")
	tree := cmd.Flags().String("sup", "", "only the processes of this supervision tree")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.rt.ListProcesses(r.ctx, &pb.ListProcessesRequest{Node: *nodeName, Tree: *tree})
		if err != nil {
			return g.rpcError(err)
		}
		warnUnreachable(cmd.ErrOrStderr(), resp.Unreachable)
		items := make([]procJSON, 0, len(resp.Processes))
		for _, p := range resp.Processes {
			items = append(items, toProcJSON(p))
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, items)
		}
		t := newTable(w, "PID", "NODE", "SUPERVISOR", "CHILD", "BEHAVIOR", "MODULE", "STATUS", "RESTARTS", "QUEUE", "IN", "OUT", "MEMORY")
		for _, p := range items {
			t.row(p.PID, p.Node, dash(p.Supervisor), dash(p.ChildID), dash(p.Behavior), dash(p.Module), p.Status, p.Restarts, p.QueueLen,
				p.MessagesIn, p.MessagesOut, humanBytes(p.MemoryBytes))
		}
		return t.flush()
	}
	return cmd
}

func warnUnreachable(w io.Writer, m map[string]string) {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "Warning: node %s did not answer: %s\n", n, m[n])
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// processCmd is a command taking one PROCESS argument and --node.
func processCmd(use, short string) (*cobra.Command, *string) {
	cmd := &cobra.Command{Use: use, Short: short, Long: short + ".\n\n" + processArgHelp, Args: cobra.ExactArgs(1)}
	nodeName := cmd.Flags().String("node", "", "the node of a registered name (or of a tree, instead of its placement)")
	return cmd, nodeName
}

func newProcInfoCmd(g *globals) *cobra.Command {
	cmd, nodeName := processCmd("info PROCESS", "Show everything known about a process")
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		ref, err := processRef(args[0], *nodeName)
		if err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		p, err := r.rt.GetProcess(r.ctx, &pb.ProcessRequest{Ref: ref})
		if err != nil {
			return g.rpcError(err)
		}
		j := toProcInfoJSON(p)
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, j)
		}
		t := newTable(w)
		t.row("PID:", j.PID)
		t.row("Node:", j.Node)
		t.row("Tree:", dash(j.Supervisor))
		t.row("Child id:", dash(j.ChildID))
		t.row("Parent:", dash(j.Parent))
		t.row("Type:", j.Type)
		t.row("Behavior:", dash(j.Behavior))
		t.row("Module:", dash(j.Module))
		t.row("Status:", j.Status)
		t.row("Registered name:", dash(j.RegisteredName))
		t.row("Restarts:", j.Restarts)
		t.row("Queue length:", j.QueueLen)
		t.row("Messages in/out:", fmt.Sprintf("%d/%d", j.MessagesIn, j.MessagesOut))
		t.row("Memory:", humanBytes(j.MemoryBytes))
		t.row("Trap exit:", j.TrapExit)
		t.row("Started:", textTime(p.StartedAtUnixNano))
		t.row("Links:", dash(strings.Join(j.Links, ", ")))
		t.row("Monitors:", dash(strings.Join(j.Monitors, ", ")))
		t.row("Monitored by:", dash(strings.Join(j.MonitoredBy, ", ")))
		return t.flush()
	}
	return cmd
}

// stateOutJSON is `steward proc state -o json`.
type stateOutJSON struct {
	PID   string          `json:"pid"`
	State json.RawMessage `json:"state"`
}

func newProcStateCmd(g *globals) *cobra.Command {
	cmd, nodeName := processCmd("state PROCESS", "Print a process's state (JSON states are pretty-printed)")
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		ref, err := processRef(args[0], *nodeName)
		if err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.rt.GetState(r.ctx, &pb.ProcessRequest{Ref: ref})
		if err != nil {
			return g.rpcError(err)
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, stateOutJSON{PID: resp.Pid, State: stateJSON(resp.State)})
		}
		var buf bytes.Buffer
		if json.Indent(&buf, resp.State, "", "  ") == nil {
			buf.WriteByte('\n')
			_, err = w.Write(buf.Bytes())
			return err
		}
		_, err = w.Write(append(resp.State, '\n'))
		return err
	}
	return cmd
}

func newProcKillCmd(g *globals) *cobra.Command {
	cmd, nodeName := processCmd("kill PROCESS", "Kill a process at once; its supervisor restarts it according to its restart type")
	reason := cmd.Flags().String("reason", "killed", "exit reason (\"normal\" does not make a transient child restart)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ref, err := processRef(args[0], *nodeName)
		if err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.rt.Kill(r.ctx, &pb.KillRequest{Ref: ref, Reason: *reason})
		if err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", resp.Pid, resp.Detail)
		return nil
	}
	return cmd
}

// sendJSON is `steward proc send -o json`.
type sendJSON struct {
	PID   string `json:"pid"`
	Kind  string `json:"kind"`
	Reply string `json:"reply"`
}

func newProcSendCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "send PROCESS MSG",
		Short: "Send a message to a process (MSG '-' reads standard input, '@FILE' reads a file)",
		Long: "Send a message to a process: info (a plain message), cast, or call (waits for the reply and prints it).\n" +
			"A dead or unknown process is an error.\n\n" + processArgHelp,
		Args: cobra.ExactArgs(2),
	}
	nodeName := cmd.Flags().String("node", "", "the node of a registered name (or of a tree, instead of its placement)")
	kind := cmd.Flags().String("kind", "info", "info, cast or call")
	callTimeout := cmd.Flags().Duration("call-timeout", 5*time.Second, "how long a call waits for its reply")
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if *kind != "info" && *kind != "cast" && *kind != "call" {
			return usageError(fmt.Sprintf("--kind %q: must be info, cast or call", *kind))
		}
		ref, err := processRef(args[0], *nodeName)
		if err != nil {
			return err
		}
		// The agent's runtime runs with the default message limit.
		body, err := readValue(cmd, args[1], "message", actor.DefaultMaxMessageBytes)
		if err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.rt.Send(r.ctx, &pb.SendRequest{Ref: ref, Body: body, Kind: *kind, TimeoutMs: uint32(callTimeout.Milliseconds())})
		if err != nil {
			return g.rpcError(err)
		}
		w := cmd.OutOrStdout()
		switch {
		case *out == "json":
			return writeJSON(w, sendJSON{PID: resp.Pid, Kind: *kind, Reply: string(resp.Reply)})
		case *kind == "call":
			_, err = w.Write(append(resp.Reply, '\n'))
			return err
		}
		fmt.Fprintf(w, "%s: %s\n", resp.Pid, resp.Detail)
		return nil
	}
	return cmd
}

func newProcSuspendCmd(g *globals, suspend bool) *cobra.Command {
	use, short := "resume PROCESS", "Let a suspended process handle its queued messages again"
	if suspend {
		use, short = "suspend PROCESS", "Suspend a process: its messages queue (none is lost) until it is resumed"
	}
	cmd, nodeName := processCmd(use, short)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ref, err := processRef(args[0], *nodeName)
		if err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		op := r.rt.Resume
		if suspend {
			op = r.rt.Suspend
		}
		resp, err := op(r.ctx, &pb.ProcessRequest{Ref: ref})
		if err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", resp.Pid, resp.Detail)
		return nil
	}
	return cmd
}
