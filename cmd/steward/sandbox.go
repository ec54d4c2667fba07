package main

import (
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
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/sandbox/manager"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// sandboxJSON is a sandbox's committed record: each item of `sandbox list
// -o json` and `sandbox create -o json`.
type sandboxJSON struct {
	Name        string              `json:"name"`
	Node        string              `json:"node"`
	AutoPlaced  bool                `json:"auto_placed"`
	Status      string              `json:"status"`
	Reason      string              `json:"reason,omitempty"`
	Isolation   string              `json:"isolation"`
	Limits      map[string]any      `json:"limits"`
	Policy      map[string]any      `json:"policy"`
	Experiment  string              `json:"experiment"`
	Standalone  bool                `json:"standalone"`
	Modules     []sandboxModuleJSON `json:"modules"`
	PlacedIndex uint64              `json:"placed_index"`
	CreateIndex uint64              `json:"create_index"`
	ModifyIndex uint64              `json:"modify_index"`
	CreatedAt   string              `json:"created_at"`
	StatusAt    string              `json:"status_at"`
}

type sandboxModuleJSON struct {
	Name     string   `json:"name"`
	Versions []string `json:"versions"`
}

// toSandboxJSON reads a record; policy is its decoded policy (nil: decoded
// from the record), e its group (nil: unknown).
func toSandboxJSON(sb *pb.SandboxRecord, policy *structpb.Struct, e *pb.ExperimentRecord) sandboxJSON {
	j := sandboxJSON{Name: sb.Name, Node: sb.Node, AutoPlaced: sb.AutoPlaced, Status: sb.Status, Reason: sb.Reason,
		Experiment: sb.Experiment, Modules: []sandboxModuleJSON{}, PlacedIndex: sb.PlacedIndex, CreateIndex: sb.CreateIndex,
		ModifyIndex: sb.ModifyIndex, CreatedAt: jsonTime(sb.CreatedAtUnixNano), StatusAt: jsonTime(sb.StatusAtUnixNano),
		Policy: map[string]any{}, Limits: map[string]any{}}
	if policy != nil {
		j.Policy = policy.AsMap()
	} else if len(sb.PolicyJson) > 0 {
		_ = json.Unmarshal(sb.PolicyJson, &j.Policy)
	}
	if s, ok := j.Policy["isolation"].(string); ok {
		j.Isolation = s
	}
	if l, ok := j.Policy["limits"].(map[string]any); ok {
		j.Limits = l
	}
	if e != nil {
		j.Standalone = e.Standalone
	}
	for _, m := range sb.Modules {
		j.Modules = append(j.Modules, sandboxModuleJSON{Name: m.Name, Versions: append([]string{}, m.Versions...)})
	}
	return j
}

// sbxLimits is a policy's limits for people, in a fixed order.
func sbxLimits(l map[string]any) string {
	order := []string{"max_processes", "max_memory_bytes", "cpu_percent", "message_deadline", "max_messages_per_second", "max_mailbox", "max_file_handles"}
	var out []string
	seen := map[string]bool{}
	for _, k := range order {
		if v, ok := l[k]; ok && v != nil {
			out = append(out, fmt.Sprintf("%s=%v", k, sbxJSONValue(v)))
			seen[k] = true
		}
	}
	var rest []string
	for k, v := range l {
		if !seen[k] && v != nil {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, fmt.Sprintf("%s=%v", k, sbxJSONValue(l[k])))
	}
	return strings.Join(out, " ")
}

// sbxJSONValue renders a decoded JSON value: whole numbers without a
// fraction or an exponent.
func sbxJSONValue(v any) any {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return int64(f)
	}
	return v
}

// sbxGroup names a sandbox's group for the EXPERIMENT column: "-" for a
// sandbox created alone.
func sbxGroup(j sandboxJSON, e *pb.ExperimentRecord) string {
	if e == nil {
		return dash(j.Experiment)
	}
	if e.Standalone {
		return "-"
	}
	if e.Name != "" {
		return e.Name
	}
	return e.Id
}

func printSandbox(w io.Writer, j sandboxJSON, e *pb.ExperimentRecord) {
	fmt.Fprintf(w, "Sandbox     %s\n", j.Name)
	node := j.Node
	if j.AutoPlaced {
		node += " (auto-placed)"
	}
	fmt.Fprintf(w, "Node        %s\n", node)
	status := j.Status
	if j.Reason != "" {
		status += ": " + j.Reason
	}
	fmt.Fprintf(w, "Status      %s\n", status)
	iso := j.Isolation
	if r, ok := j.Policy["response"].(string); ok {
		iso += " (response " + r + ")"
	}
	fmt.Fprintf(w, "Isolation   %s\n", iso)
	fmt.Fprintf(w, "Limits      %s\n", sbxLimits(j.Limits))
	if e != nil && !e.Standalone {
		fmt.Fprintf(w, "Experiment  %s\n", sbxGroup(j, e))
	}
	for _, m := range j.Modules {
		fmt.Fprintf(w, "Module      %s@%s\n", m.Name, strings.Join(m.Versions, ","))
	}
}

// sandboxFileLimit bounds the file a create sends.
const sandboxFileLimit = sandbox.MaxDefinitionBytes

// sbxWaitFor is how long a create that waits for its deadline may take:
// --timeout, or the deadline (0: the longest default) and a margin when
// that is longer.
func sbxWaitFor(g *globals, deadline time.Duration) time.Duration {
	if deadline <= 0 {
		deadline = sandbox.DefaultExperimentDeadline
	}
	if w := deadline + 10*time.Second; w > g.timeout {
		return w
	}
	return g.timeout
}

func newSandboxCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run a supervision tree under an isolation policy and limits (sandbox create|list|inspect|destroy|violations|interactions|trace|verify)",
		Args:  cobra.NoArgs,
	}

	create := &cobra.Command{
		Use:   "create FILE",
		Short: "Create a sandbox from a sandbox file (HCL or JSON: name, node, isolation, limits, tree)",
		Long: `create commits the sandbox through Raft and, unless --no-wait, waits until its
node runs it. A sandbox its node cannot set up (its policy, tracing or limits)
is removed everywhere, and create prints the reason and exits 1. FILE '-'
reads standard input.`,
		Args: cobra.ExactArgs(1),
	}
	node := create.Flags().String("node", "", "run it on this node, overriding the file's node (\"auto\": the leader places it)")
	noWait := create.Flags().Bool("no-wait", false, "return once committed, without waiting for its node to run it")
	deadline := create.Flags().Duration("deadline", 0, "how long its node may take to start it (default 30s, at most 10m)")
	dry := create.Flags().Bool("dry-run", false, "check the file and show where it would run; commit nothing")
	createOut := outputFlag(create)
	create.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*createOut); err != nil {
			return err
		}
		if *deadline < 0 {
			return usageError(fmt.Sprintf("--deadline %s: must not be negative", *deadline))
		}
		data, err := readInput(cmd, "sandbox", args[0], sandboxFileLimit)
		if err != nil {
			return err
		}
		c, err := g.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), sbxWaitFor(g, *deadline))
		defer cancel()
		v, err := pb.NewSandboxesClient(c.Conn()).Create(ctx, &pb.CreateSandboxRequest{File: data, Filename: args[0], Node: *node,
			NoWait: *noWait, DeadlineMs: deadline.Milliseconds(), DryRun: *dry})
		if err != nil {
			return g.rpcError(err)
		}
		j := toSandboxJSON(v.Sandbox, v.Policy, v.Experiment)
		w := cmd.OutOrStdout()
		if *createOut == "json" {
			return writeJSON(w, j)
		}
		printSandbox(w, j, v.Experiment)
		switch {
		case *dry:
			fmt.Fprintln(w, "Dry run: nothing was committed")
		case j.Status != "running":
			fmt.Fprintf(w, "Committed; follow it with: steward sandbox inspect %s\n", j.Name)
		default:
			fmt.Fprintf(w, "Inspect it with: steward sandbox inspect %s\n", j.Name)
		}
		return nil
	}

	list := &cobra.Command{Use: "list", Short: "The sandboxes, with their node, status, isolation and experiment", Args: cobra.NoArgs}
	listNode := list.Flags().String("node", "", "only the sandboxes on this node")
	listOut := outputFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*listOut); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewSandboxesClient(c.Conn()).List(ctx, &pb.ListSandboxesRequest{Node: *listNode})
		if err != nil {
			return g.rpcError(err)
		}
		items := []sandboxJSON{}
		groups := []*pb.ExperimentRecord{}
		for _, v := range resp.Sandboxes {
			items = append(items, toSandboxJSON(v.Sandbox, v.Policy, v.Experiment))
			groups = append(groups, v.Experiment)
		}
		if *listOut == "json" {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"sandboxes": items})
		}
		t := newTable(cmd.OutOrStdout(), "NAME", "NODE", "STATUS", "ISOLATION", "EXPERIMENT")
		for i, j := range items {
			t.row(j.Name, j.Node, j.Status, dash(j.Isolation), sbxGroup(j, groups[i]))
		}
		return t.flush()
	}

	destroy := &cobra.Command{Use: "destroy NAME", Short: "Stop every process of a sandbox created alone and drop its traces, on every node", Args: cobra.ExactArgs(1)}
	destroy.RunE = func(cmd *cobra.Command, args []string) error {
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewSandboxesClient(c.Conn()).Destroy(ctx, &pb.DestroySandboxRequest{Name: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Sandbox %s destroyed (removed: %s)\n", args[0], strings.Join(resp.Removed, ", "))
		return nil
	}

	cmd.AddCommand(create, list, destroy)
	cmd.AddCommand(
		liveCmd(g, "inspect NAME", "Live usage against each limit, and the sandbox's processes (from its node)", "",
			func(c pb.SandboxesClient) liveRPC { return c.Inspect }, printInspection, nil),
		liveCmd(g, "violations NAME", "The broken rules the sandbox's node recorded (the most recent 256)", "",
			func(c pb.SandboxesClient) liveRPC { return c.Violations }, printViolations, nil),
		liveCmd(g, "interactions NAME", "Who exchanged messages with whom, in and across the boundary", "",
			func(c pb.SandboxesClient) liveRPC { return c.Interactions }, printInteractions, nil),
		traceCmd(g),
		liveCmd(g, "verify NAME", "Check message, state, resource and code isolation; exit 1 when any check fails",
			`verify runs the four isolation checks on the sandbox's node (message,
state, resource and code isolation) and prints each check's verdict and its
evidence. It exits 0 when every check passes and 1 when the overall verdict
is fail (after printing the report, in either output format).`,
			func(c pb.SandboxesClient) liveRPC { return c.Verify }, printVerifyReport, verifyExit),
	)
	return cmd
}

type liveRPC func(ctx context.Context, req *pb.SandboxLiveRequest, opts ...grpc.CallOption) (*pb.SandboxLiveResponse, error)

// liveCmd is a read command of a live view: the view from the sandbox's
// node, as it is with -o json, printed for people otherwise; after either,
// check may turn the view into an exit code.
func liveCmd(g *globals, use, short, long string, rpc func(pb.SandboxesClient) liveRPC,
	print func(io.Writer, []byte) error, check func(name string, view []byte) error) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.ExactArgs(1)}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runLive(cmd, g, *out, args[0], "", rpc, print, check)
	}
	return cmd
}

func traceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace NAME",
		Short: "The sandbox's raw trace: its message-flow graph, its processes' state history, or both",
		Args:  cobra.ExactArgs(1),
	}
	kind := cmd.Flags().String("type", "all", "messages, states or all")
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if _, err := sandbox.ParseTraceKind(*kind); err != nil {
			return usageError(fmt.Sprintf("--type %q: must be messages, states or all", *kind))
		}
		return runLive(cmd, g, *out, args[0], *kind, func(c pb.SandboxesClient) liveRPC { return c.Trace }, printTrace, nil)
	}
	return cmd
}

func runLive(cmd *cobra.Command, g *globals, out, name, kind string, rpc func(pb.SandboxesClient) liveRPC,
	print func(io.Writer, []byte) error, check func(string, []byte) error) error {
	if err := checkOutput(out); err != nil {
		return err
	}
	c, ctx, done, err := g.connect(cmd)
	if err != nil {
		return err
	}
	defer done()
	resp, err := liveView(ctx, pb.NewSandboxesClient(c.Conn()), rpc, &pb.SandboxLiveRequest{Name: name, Type: kind})
	if err != nil {
		return g.rpcError(err)
	}
	view := map[string]any{}
	if resp.View != nil {
		view = resp.View.AsMap()
	}
	// Through a map: encoding/json writes the Struct's numbers (float64)
	// without exponents, so integer fields decode back.
	doc, err := json.Marshal(view)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if out == "json" {
		if err := writeJSON(w, view); err != nil {
			return err
		}
	} else if err := print(w, doc); err != nil {
		return fmt.Errorf("%s: reading the view from %s: %w", commandName(cmd), resp.Node, err)
	}
	if check != nil {
		return check(name, doc)
	}
	return nil
}

// liveView asks for a live view. The server reads the sandbox's record
// consistently and forwards the view to the sandbox's node, which waits
// for its replica to hold that record: a sandbox just created is answered
// for, one just destroyed is not found.
func liveView(ctx context.Context, c pb.SandboxesClient, rpc func(pb.SandboxesClient) liveRPC, req *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
	return rpc(c)(ctx, req)
}

// sbxPID is a process for people: its PID and, when known, its path.
func sbxPID(pid actor.PID, child string) string {
	s := "-"
	if !pid.IsZero() {
		s = pid.String()
	}
	if child != "" {
		s += " (" + child + ")"
	}
	return s
}

func sbxClock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("15:04:05.000")
}

func sbxDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond / 10).String()
	default:
		return d.Round(10 * time.Microsecond).String()
	}
}

// sbxOfLimit is a value against its limit, "no limit" for 0.
func sbxOfLimit(v any, limit int64, unit string) string {
	if limit <= 0 {
		return fmt.Sprintf("%v%s (no limit)", v, unit)
	}
	return fmt.Sprintf("%v / %d%s", v, limit, unit)
}

func printInspection(w io.Writer, doc []byte) error {
	var in manager.Inspection
	if err := json.Unmarshal(doc, &in); err != nil {
		return err
	}
	status := in.Status
	if in.Reason != "" {
		status += ": " + in.Reason
	}
	fmt.Fprintf(w, "Sandbox       %s on %s: %s\n", in.Name, in.Node, status)
	if in.Tree != nil {
		tree := string(in.Tree.Status)
		if in.Tree.Reason != "" {
			tree += " (" + string(in.Tree.Reason) + ")"
		}
		fmt.Fprintf(w, "Tree          %s, started %s\n", tree, in.Tree.StartedAt.Local().Format(time.RFC3339))
	}
	if !in.Running && in.Sandbox == nil {
		fmt.Fprintf(w, "Not running on %s (yet, or any more): no usage to show\n", in.Node)
	}
	if s := in.Sandbox; s != nil {
		p := s.Policy
		var queue int64
		for _, pi := range in.Processes {
			queue += int64(pi.QueueLen)
		}
		fmt.Fprintf(w, "Isolation     %s (response %s)\n", p.Isolation, p.Response)
		fmt.Fprintf(w, "Processes     %s\n", sbxOfLimit(s.Processes, int64(p.MaxProcesses), ""))
		fmt.Fprintf(w, "Memory        %s\n", sbxOfLimit(s.MemoryBytes, p.MaxMemoryBytes, " bytes"))
		mailbox := ""
		if p.MaxMailbox > 0 {
			mailbox = fmt.Sprintf(", max_mailbox %d per process", p.MaxMailbox)
		}
		fmt.Fprintf(w, "Queue         %d messages in all%s\n", queue, mailbox)
		cpu := "- (no sample yet)"
		if s.Usage != nil {
			cpu = fmt.Sprintf("%.1f%%", s.Usage.CPUPercent)
		}
		fmt.Fprintf(w, "CPU           %s / %d%% of one core (used %s)\n", cpu, p.CPUPercent, sbxDur(s.CPUUsed))
		throttled := ""
		if s.Throttled {
			throttled = ", throttled now"
		}
		fmt.Fprintf(w, "Throttles     %d (%s throttled%s)\n", s.Throttles, sbxDur(s.ThrottledTime), throttled)
		fmt.Fprintf(w, "Dropped       %d at max_messages_per_second, %d at max_mailbox\n", s.RateDropped, s.MailboxDropped)
		fmt.Fprintf(w, "Violations    %d\n", s.Violations)
		fmt.Fprintf(w, "Latency       p50 %s, p99 %s, max %s over %d callbacks\n", sbxDur(s.Latency.P50), sbxDur(s.Latency.P99), sbxDur(s.Latency.Max), s.Latency.Count)
		fmt.Fprintf(w, "Crossings     %d kinds recorded", len(s.Crossings))
		if s.CrossingsDropped > 0 {
			fmt.Fprintf(w, " (%d dropped)", s.CrossingsDropped)
		}
		fmt.Fprintln(w)
		if len(s.TracedUp) == 0 {
			fmt.Fprintln(w, "Traced up     none")
		} else {
			for i, u := range s.TracedUp {
				label := "Traced up     "
				if i > 0 {
					label = "              "
				}
				fmt.Fprintf(w, "%s%s until %s\n", label, sbxPID(u.PID, u.ChildID), sbxClock(u.Until))
			}
		}
	}
	if len(in.Processes) > 0 {
		t := newTable(w, "PID", "CHILD", "BEHAVIOR", "STATUS", "QUEUE", "MEMORY", "MSGS IN")
		for _, p := range in.Processes {
			child := p.ChildID
			if child == "" && p.Supervisor {
				child = "(root)"
			}
			behavior := p.Behavior
			if p.Supervisor && behavior == "" {
				behavior = "supervisor"
			}
			t.row(p.PID, cell(dash(child), 40), cell(dash(behavior), 40), p.Status, p.QueueLen, p.MemoryBytes, p.MessagesIn)
		}
		return t.flush()
	}
	return nil
}

// sbxOther renders a violation's other end as the crossings table does
// ("-" when nothing is known).
func sbxOther(v actor.SandboxViolation) string {
	if s := v.OtherEnd(); s != "?" {
		return s
	}
	return "-"
}

func printViolations(w io.Writer, doc []byte) error {
	var vs manager.Violations
	if err := json.Unmarshal(doc, &vs); err != nil {
		return err
	}
	kept := ""
	if uint64(len(vs.Violations)) < vs.Total {
		kept = fmt.Sprintf(", the last %d kept", len(vs.Violations))
	}
	fmt.Fprintf(w, "Sandbox %s on %s: %d violations%s\n", vs.Name, vs.Node, vs.Total, kept)
	if len(vs.Violations) == 0 {
		return nil
	}
	t := newTable(w, "TIME", "KIND", "PROCESS", "OP", "OTHER", "LIMIT", "VALUE", "RESPONSE")
	for _, v := range vs.Violations {
		num := func(n int64) string {
			if n == 0 {
				return "-"
			}
			return fmt.Sprint(n)
		}
		t.row(sbxClock(v.Time), v.Kind, cell(sbxPID(v.PID, v.ChildID), 50), dash(string(v.Op)), cell(sbxOther(v), 50), num(v.Limit), num(v.Value), v.Response)
	}
	return t.flush()
}

func printInteractions(w io.Writer, doc []byte) error {
	var r sandbox.InteractionReport
	if err := json.Unmarshal(doc, &r); err != nil {
		return err
	}
	flow := "on"
	if !r.FlowTraced {
		flow = "off (only the boundary's records)"
	}
	fmt.Fprintf(w, "Sandbox %s: %d interactions, message-flow tracing %s\n", r.Tree, len(r.Interactions), flow)
	if r.FlowDropped > 0 || r.CrossingsDropped > 0 {
		fmt.Fprintf(w, "Incomplete: %d messages on edges the flow graph had no room for, %d crossings the table had no room for\n", r.FlowDropped, r.CrossingsDropped)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "Error: %s\n", cell(e, 0))
	}
	if len(r.Interactions) == 0 {
		return nil
	}
	end := func(pid, child, tree string, inside bool) string {
		s := pid
		if child != "" {
			s += " (" + child + ")"
		}
		if !inside && tree != "" && !strings.Contains(s, "@") {
			s += "@" + tree
		}
		return s
	}
	t := newTable(w, "FROM", "TO", "COUNT", "PATTERN", "CROSSES", "FIRST", "LAST")
	for _, in := range r.Interactions {
		crosses := "no"
		if in.Crosses {
			crosses = "yes"
			if len(in.Ops) > 0 {
				var ops []string
				for _, o := range in.Ops {
					ops = append(ops, string(o))
				}
				crosses += " (" + strings.Join(ops, ",") + ")"
			}
		}
		t.row(cell(end(in.From, in.FromChildID, in.FromTree, in.FromInside), 50), cell(end(in.To, in.ToChildID, in.ToTree, in.ToInside), 50),
			in.Count, in.Pattern, crosses, sbxClock(in.First), sbxClock(in.Last))
	}
	return t.flush()
}

func printTrace(w io.Writer, doc []byte) error {
	var d sandbox.TraceDump
	if err := json.Unmarshal(doc, &d); err != nil {
		return err
	}
	fmt.Fprintf(w, "Sandbox %s: trace of %s at %s\n", d.Tree, d.Kind, d.At.Local().Format(time.RFC3339))
	if m := d.Messages; m != nil {
		traced := "on"
		if !m.Traced {
			traced = "off"
		}
		fmt.Fprintf(w, "\nMessages      tracing %s, %d edges (at most %d, between at most %d processes), %d dropped\n",
			traced, len(m.Edges), m.MaxEdges, m.MaxProcesses, m.Dropped)
		for _, u := range m.TracedUp {
			fmt.Fprintf(w, "Traced up     %s until %s\n", sbxPID(u.PID, u.ChildID), sbxClock(u.Until))
		}
		if len(m.Edges) > 0 {
			t := newTable(w, "FROM", "TO", "COUNT", "FIRST", "LAST")
			for _, e := range m.Edges {
				from := sandbox.SystemEnd
				if !e.From.IsZero() {
					from = e.From.String()
				}
				t.row(from, e.To, e.Count, sbxClock(e.First), sbxClock(e.Last))
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
	}
	if s := d.States; s != nil {
		traced := "on"
		if !s.Traced {
			traced = "off"
		}
		fmt.Fprintf(w, "\nStates        tracing %s, every %s, the last %d distinct states per process\n",
			traced, time.Duration(s.IntervalMS)*time.Millisecond, s.MaxSamples)
		for _, p := range s.Processes {
			fmt.Fprintf(w, "%s %s: %d states\n", sbxPID(p.PID, p.ChildID), p.Behavior, len(p.Samples))
			if len(p.Samples) == 0 {
				continue
			}
			t := newTable(w, "  TIME", "STATE")
			for _, smp := range p.Samples {
				t.row("  "+sbxClock(smp.Time), cell(string(smp.State), 100))
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func sbxVerdict(v sandbox.Verdict) string { return strings.ToUpper(string(v)) }

func printVerifyReport(w io.Writer, doc []byte) error {
	var r sandbox.Report
	if err := json.Unmarshal(doc, &r); err != nil {
		return err
	}
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%-4s  %s\n", sbxVerdict(c.Verdict), c.Name)
		for _, e := range c.Evidence {
			mark := "ok"
			if e.Fails {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "      %-4s  %s\n", mark, cell(e.What, 0))
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "Error: %s\n", cell(e, 0))
	}
	on := ""
	if r.Node != "" {
		on = " on " + r.Node
	}
	fmt.Fprintf(w, "Verdict: %s (sandbox %s%s)\n", r.Verdict, r.Tree, on)
	return nil
}

// verifyExit is exit 1 when the report's verdict is fail.
func verifyExit(name string, doc []byte) error {
	var r sandbox.Report
	if err := json.Unmarshal(doc, &r); err != nil {
		return err
	}
	if r.Verdict == sandbox.Pass {
		return nil
	}
	var failed []string
	for _, c := range r.Checks {
		if c.Verdict != sandbox.Pass {
			failed = append(failed, string(c.Name))
		}
	}
	return &cliError{msg: fmt.Sprintf("sandbox %s failed verification: %s", name, strings.Join(failed, ", ")), code: 1}
}
