package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/spf13/cobra"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/spec"
)

// The direct operator API for a supervisor's children, as OTP's supervisor
// module has it: start_child, terminate_child, restart_child and
// delete_child are committed as one-operation plans through the
// Coordination service (so they are planned from live facts, checked,
// recorded and shown by `ops`), which_children, count_children and
// get_childspec are reads answered by the node that runs the tree.

// deleteChild is the plan operation type of `sup child delete`.
const deleteChild = plan.DeleteChild

// supervisorArg splits TREE[/PATH] into the tree and the path of a nested
// supervisor (child ids joined by '/'; empty: the root).
func supervisorArg(arg string) (tree, path string, err error) {
	tree, path, _ = strings.Cut(arg, "/")
	if tree == "" || strings.HasSuffix(arg, "/") || strings.Contains(path, "//") {
		return "", "", usageError(fmt.Sprintf("supervisor %q: want TREE or TREE/PATH (child ids joined by '/')", arg))
	}
	return tree, path, nil
}

func newSupChildCmd(g *globals) *cobra.Command {
	child := &cobra.Command{
		Use:   "child",
		Short: "Start, terminate, restart or delete a supervisor's child, each as a one-operation plan",
		Long: `Change a supervisor's children directly, as OTP's supervisor:start_child,
terminate_child, restart_child and delete_child do. Each is committed as a plan
of one operation through the Coordination service and followed until it
finishes, as 'steward apply --watch' does; a refused or failed plan exits 1
with its reason. SUPERVISOR is TREE (the root) or TREE/PATH (a nested
supervisor, child ids joined by '/'). A change is not written into the tree's
spec: the next 'sup apply' of the tree moves it back to its spec.`,
	}
	child.AddCommand(newSupChildStartCmd(g),
		newSupChildOpCmd(g, plan.TerminateChild, "terminate", "terminated",
			"Stop a child with its shutdown policy; it is not restarted and keeps its spec (a temporary child's is deleted). Under simple_one_for_one ID is the instance's pid or instance id"),
		newSupChildOpCmd(g, plan.RestartChild, "restart", "restarted",
			"Start a terminated child again from its spec; a running child is refused"),
		newSupChildOpCmd(g, deleteChild, "delete", "deleted",
			"Delete the spec of a terminated child"))
	return child
}

// childOpJSON is `steward sup child ... -o json`.
type childOpJSON struct {
	PlanID    string `json:"plan_id"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	Operation string `json:"operation"`
	Tree      string `json:"tree"`
	Path      string `json:"path"`
	ChildID   string `json:"child_id"`
	Node      string `json:"node"`
	// PID is the process a start_child or restart_child started.
	PID string `json:"pid"`
	// Error is why the operation failed, as its node reported it.
	Error string `json:"error"`
}

func newSupChildStartCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start SUPERVISOR [ID] (--spec FILE | --args KEY=VALUE ...)",
		Short: "Start a new child: from a child spec, or (simple_one_for_one) an instance of the template",
		Long: `Start a child under SUPERVISOR (OTP's start_child). With --spec FILE (JSON, or HCL
with one 'child "ID" { ... }' block; '-' reads standard input) the child is
added to a static supervisor and started; ID, when given, must be the spec's id
(or fills in a spec without one). Without --spec the supervisor must be
simple_one_for_one: an instance of its template starts with the --args merged
over the template's (at least one), and gets the id "<template id>-<n>" (no ID
argument).`,
		Args: cobra.RangeArgs(1, 2),
	}
	out := outputFlag(cmd)
	specFile := cmd.Flags().String("spec", "", "the child spec file (.json or .hcl; '-': standard input)")
	args := cmd.Flags().StringToString("args", nil, "simple_one_for_one: args merged over the template's (KEY=VALUE, repeatable or comma-separated)")
	cmd.RunE = func(cmd *cobra.Command, argv []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		tree, path, err := supervisorArg(argv[0])
		if err != nil {
			return err
		}
		op := plan.Operation{Type: plan.StartChild}
		switch {
		case *specFile != "" && len(*args) > 0:
			return usageError("--spec and --args cannot be combined: --args starts a simple_one_for_one instance, --spec a child of a static supervisor")
		case *specFile != "":
			cs, err := readChildSpec(cmd, *specFile)
			if err != nil {
				return err
			}
			if len(argv) == 2 {
				switch cs.ID {
				case "":
					cs.ID = argv[1]
				case argv[1]:
				default:
					return usageError(fmt.Sprintf("ID %q differs from the spec's id %q", argv[1], cs.ID))
				}
			}
			if cs.ID == "" {
				return usageError("the child spec has no id: give ID or set it in the spec")
			}
			op.Params.Child = &cs
		case len(argv) == 2:
			return usageError(fmt.Sprintf("ID %q needs --spec FILE; a simple_one_for_one instance (--args) gets its id from the template", argv[1]))
		case len(*args) == 0:
			// OTP's start_child(Sup, []) has no form here yet: plan/
			// requires args for an instance.
			return usageError("give --spec FILE (a static supervisor's child) or --args KEY=VALUE (a simple_one_for_one instance)")
		default:
			op.Params.Args = *args
		}
		childID := ""
		if op.Params.Child != nil {
			childID = op.Params.Child.ID
		}
		return runChildPlan(cmd, g, *out, tree, path, childID, op, "started")
	}
	return cmd
}

// newSupChildOpCmd is `sup child terminate|restart|delete SUPERVISOR ID`.
func newSupChildOpCmd(g *globals, t plan.OpType, verb, done, short string) *cobra.Command {
	cmd := &cobra.Command{Use: verb + " SUPERVISOR ID", Short: short, Args: cobra.ExactArgs(2)}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, argv []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		tree, path, err := supervisorArg(argv[0])
		if err != nil {
			return err
		}
		if argv[1] == "" {
			return usageError("ID is empty")
		}
		op := plan.Operation{Type: t, Params: plan.Params{ChildID: argv[1]}}
		return runChildPlan(cmd, g, *out, tree, path, argv[1], op, done)
	}
	return cmd
}

// readChildSpec reads one child spec: JSON (an element of a tree's
// "children"), or HCL holding one `child "id" { ... }` block.
func readChildSpec(cmd *cobra.Command, arg string) (spec.ChildSpec, error) {
	data, filename, err := readSpecFile(cmd, arg)
	if err != nil {
		return spec.ChildSpec{}, err
	}
	if spec.DetectFormat(data, filename) == spec.FormatJSON {
		cs, err := spec.ParseChildJSON(data)
		if err != nil {
			return spec.ChildSpec{}, usageError(fmt.Sprintf("child spec %s: %v", arg, err))
		}
		return cs, nil
	}
	if filename == "" {
		filename = "child.hcl"
	}
	f, diags := hclparse.NewParser().ParseHCL(data, filename)
	if diags.HasErrors() {
		return spec.ChildSpec{}, usageError(fmt.Sprintf("child spec %s: %v", arg, diags))
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "child", LabelNames: []string{"id"}}}})
	if diags.HasErrors() {
		return spec.ChildSpec{}, usageError(fmt.Sprintf("child spec %s: want one child \"ID\" { ... } block: %v", arg, diags))
	}
	if len(content.Blocks) != 1 {
		return spec.ChildSpec{}, usageError(fmt.Sprintf("child spec %s: want one child \"ID\" { ... } block, found %d", arg, len(content.Blocks)))
	}
	cs, err := spec.DecodeChildHCL(content.Blocks[0])
	if err != nil {
		return spec.ChildSpec{}, usageError(fmt.Sprintf("child spec %s: %v", arg, err))
	}
	return cs, nil
}

// runChildPlan commits op, aimed at the supervisor tree/path, as a plan of
// its own and follows it to the end.
func runChildPlan(cmd *cobra.Command, g *globals, out, tree, path, childID string, op plan.Operation, done string) error {
	op.ID = string(op.Type)
	op.Target = plan.Target{Supervisor: tree, ChildID: path}
	data, err := json.Marshal(plan.Plan{Operations: []plan.Operation{op}})
	if err != nil {
		return err
	}
	c, ctx, closeConn, err := g.connect(cmd)
	if err != nil {
		return err
	}
	defer closeConn()
	coord := pb.NewCoordinationClient(c.Conn())
	const filename = "sup-child.json"
	if op.Type == plan.RestartChild {
		// The executor takes restart_child of a running child as done
		// (rollbacks rely on that); OTP answers {error, running}, and so
		// does this command, before anything is committed.
		dry, err := coord.DryRun(ctx, &pb.PlanRequest{Plan: data, Filename: filename})
		if err != nil {
			return g.rpcError(err)
		}
		var d plan.DryRun
		if err := json.Unmarshal(dry.DryRunJson, &d); err != nil {
			return err
		}
		for _, cf := range d.Conflicts {
			if cf.Kind == plan.ConflictNoOp {
				return &cliError{msg: fmt.Sprintf("refused, nothing committed: child %q of %s is running (OTP's {error, running}); terminate it first", childID, supervisorName(tree, path)), code: 1}
			}
		}
	}
	resp, err := coord.Apply(ctx, &pb.ApplyPlanRequest{Plan: data, Filename: filename})
	if err != nil {
		return g.rpcError(err)
	}
	w := cmd.OutOrStdout()
	progress := w
	if out == "json" {
		progress = io.Discard
	} else {
		fmt.Fprintf(w, "Plan %s committed at index %d: %s of %q under %s\n", resp.Id, resp.Meta.GetIndex(), op.Type, childLabel(childID), supervisorName(tree, path))
	}
	last, err := followPlan(cmd, g, resp.Id, "table", progress)
	if err != nil || last == nil {
		return err
	}
	v := coordination.NewView(last.Plan, last.ResultJson)
	j := childOpJSON{PlanID: v.ID, Status: v.Status, Reason: v.Reason, Operation: string(op.Type), Tree: tree, Path: path, ChildID: childID}
	for _, st := range v.Phases {
		for _, o := range st.Operations {
			if o.ID == op.ID {
				j.Node, j.PID = o.Node, o.ResultPID
				if o.Error != "" {
					j.Error = o.Error
				}
			}
		}
	}
	if out == "json" {
		if err := writeJSON(w, j); err != nil {
			return err
		}
	}
	if err := planOutcome(last); err != nil {
		if j.Error != "" {
			return &cliError{msg: fmt.Sprintf("%v (%s: %s)", err, op.Type, j.Error), code: 1}
		}
		return err
	}
	if out != "json" {
		line := fmt.Sprintf("Child %s of %s %s on %s", childLabel(childID), supervisorName(tree, path), done, j.Node)
		if j.PID != "" {
			line += ": pid " + j.PID
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

func supervisorName(tree, path string) string {
	if path == "" {
		return tree
	}
	return tree + "/" + path
}

func childLabel(id string) string {
	if id == "" {
		return "(new instance)"
	}
	return id
}

// childJSON is each item of `steward sup which-children -o json`.
type childJSON struct {
	ID       string `json:"id"`
	PID      string `json:"pid"`
	Type     string `json:"type"`
	Behavior string `json:"behavior"`
	Module   string `json:"module"`
	Restart  string `json:"restart"`
	State    string `json:"state"`
	Restarts uint32 `json:"restarts"`
	Dynamic  bool   `json:"dynamic"`
}

// supReadCmd makes a read about SUPERVISOR (TREE[/PATH], the first of
// nargs arguments) with -o and --node: run gets the connection, the
// supervisor asked about, the arguments and the output format.
func supReadCmd(g *globals, use, short, long string, nargs int,
	run func(cmd *cobra.Command, r *rpcs, sup *pb.SupervisorRequest, argv []string, out string) error,
) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.ExactArgs(nargs)}
	out := outputFlag(cmd)
	nodeName := cmd.Flags().String("node", "", "ask this node (default: the node the tree is placed on)")
	cmd.RunE = func(cmd *cobra.Command, argv []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		tree, path, err := supervisorArg(argv[0])
		if err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		return run(cmd, r, &pb.SupervisorRequest{Tree: tree, Path: path, Node: *nodeName}, argv, *out)
	}
	return cmd
}

func newSupWhichChildrenCmd(g *globals) *cobra.Command {
	return supReadCmd(g, "which-children SUPERVISOR",
		"List a supervisor's children (OTP's which_children), the child started last first",
		`List the children of SUPERVISOR (TREE, or TREE/PATH for a nested one) with
their pids, types, restart types and states, read live on the node that runs
the tree. Rows are in OTP's order: reverse start order, the child started last
first (a restarted child keeps its place). A terminated child has no pid.`, 1,
		func(cmd *cobra.Command, r *rpcs, sup *pb.SupervisorRequest, _ []string, out string) error {
			resp, err := r.rt.WhichChildren(r.ctx, sup)
			if err != nil {
				return g.rpcError(err)
			}
			items := make([]childJSON, 0, len(resp.Children))
			for _, k := range resp.Children {
				items = append(items, childJSON{ID: k.Id, PID: k.Pid, Type: k.Type, Behavior: k.Behavior, Module: k.Module,
					Restart: k.Restart, State: k.State, Restarts: k.Restarts, Dynamic: k.Dynamic})
			}
			w := cmd.OutOrStdout()
			if out == "json" {
				return writeJSON(w, items)
			}
			t := newTable(w, "ID", "PID", "TYPE", "BEHAVIOR", "RESTART", "STATE", "RESTARTS")
			for _, it := range items {
				kind := it.Behavior
				if it.Module != "" {
					kind = it.Module
					if it.Behavior != "" {
						kind += " (" + it.Behavior + ")"
					}
				}
				id := it.ID
				if it.Dynamic {
					id += " (dynamic)"
				}
				t.row(cell(id, 0), dash(it.PID), it.Type, dash(cell(kind, 60)), it.Restart, it.State, it.Restarts)
			}
			return t.flush()
		})
}

// countJSON is `steward sup count-children -o json`.
type countJSON struct {
	Tree        string `json:"tree"`
	Path        string `json:"path"`
	Node        string `json:"node"`
	Specs       uint32 `json:"specs"`
	Active      uint32 `json:"active"`
	Supervisors uint32 `json:"supervisors"`
	Workers     uint32 `json:"workers"`
}

func newSupCountChildrenCmd(g *globals) *cobra.Command {
	return supReadCmd(g, "count-children SUPERVISOR",
		"Count a supervisor's children (OTP's count_children): specs, active, supervisors, workers", "", 1,
		func(cmd *cobra.Command, r *rpcs, sup *pb.SupervisorRequest, _ []string, out string) error {
			resp, err := r.rt.CountChildren(r.ctx, sup)
			if err != nil {
				return g.rpcError(err)
			}
			j := countJSON{Tree: sup.Tree, Path: sup.Path, Node: resp.Node, Specs: resp.Specs, Active: resp.Active,
				Supervisors: resp.Supervisors, Workers: resp.Workers}
			w := cmd.OutOrStdout()
			if out == "json" {
				return writeJSON(w, j)
			}
			t := newTable(w, "SPECS", "ACTIVE", "SUPERVISORS", "WORKERS")
			t.row(j.Specs, j.Active, j.Supervisors, j.Workers)
			return t.flush()
		})
}

func newSupGetChildSpecCmd(g *globals) *cobra.Command {
	return supReadCmd(g, "get-childspec SUPERVISOR ID",
		"Print a child's spec as it was given (OTP's get_childspec), running or terminated",
		`Print the spec of SUPERVISOR's child ID, read on the node that runs the tree: a
child of the tree's spec or one started by 'sup child start'. Under
simple_one_for_one ID is an instance's pid or id (the template with the
instance's args), or the template's id. Table output is the spec as JSON;
-o json adds tree, path, node and id around it ("spec").`, 2,
		func(cmd *cobra.Command, r *rpcs, sup *pb.SupervisorRequest, argv []string, out string) error {
			resp, err := r.rt.GetChildSpec(r.ctx, &pb.ChildSpecRequest{Supervisor: sup, Id: argv[1]})
			if err != nil {
				return g.rpcError(err)
			}
			var cs spec.ChildSpec
			if err := json.Unmarshal(resp.SpecJson, &cs); err != nil {
				return fmt.Errorf("child spec from %s: %w", resp.Node, err)
			}
			w := cmd.OutOrStdout()
			if out == "json" {
				return writeJSON(w, struct {
					Tree string         `json:"tree"`
					Path string         `json:"path"`
					Node string         `json:"node"`
					ID   string         `json:"id"`
					Spec spec.ChildSpec `json:"spec"`
				}{sup.Tree, sup.Path, resp.Node, argv[1], cs})
			}
			return writeJSON(w, cs)
		})
}
