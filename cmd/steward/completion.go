package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/client"
	"github.com/steward/steward/pb"
)

// Shell completion: cobra's `completion bash|zsh|fish|powershell` writes
// the script, and the script calls the hidden `__complete` command, which
// asks the agent (--addr or STEWARD_ADDR, with the token and TLS flags)
// for tree names, node names, plan, deployment, experiment and snapshot
// ids. A completion never prints an error: an agent that does not answer
// within completionTimeout, or refuses, gives no candidates.

// completionTimeout bounds the agent calls of one completion.
const completionTimeout = 2 * time.Second

// lister returns the candidates of one kind, "value\tdescription" each;
// toComplete is what was typed of the value (most listers leave the
// filtering to candidates).
type lister func(ctx context.Context, c *client.Client, toComplete string) ([]string, error)

func listTrees(ctx context.Context, c *client.Client, _ string) ([]string, error) {
	resp, err := pb.NewSupervisionClient(c.Conn()).ListTrees(ctx, &pb.ListTreesRequest{Read: &pb.ReadOptions{Stale: true}})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range resp.Trees {
		desc := "on " + t.Node
		if t.Status != "" {
			desc += ", " + t.Status
		}
		out = append(out, t.Name+"\t"+desc)
	}
	return out, nil
}

func listNodes(ctx context.Context, c *client.Client, _ string) ([]string, error) {
	resp, err := c.Cluster.Members(ctx, &pb.MembersRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range resp.Members {
		out = append(out, fmt.Sprintf("%s\t%s, %s", m.Name, m.Status, m.RaftRole))
	}
	return out, nil
}

// listPlanIDs lists the plans of filter (running, finished, all).
func listPlanIDs(filter string) lister {
	return func(ctx context.Context, c *client.Client, _ string) ([]string, error) {
		resp, err := pb.NewCoordinationClient(c.Conn()).List(ctx, &pb.ListPlansRequest{Filter: filter})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, p := range resp.Plans {
			out = append(out, fmt.Sprintf("%s\t%s, %d operations", p.Id, p.Status, p.Operations))
		}
		return out, nil
	}
}

func listDeployments(ctx context.Context, c *client.Client, _ string) ([]string, error) {
	resp, err := pb.NewDeploymentsClient(c.Conn()).List(ctx, &pb.ListDeploymentsRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range resp.Deployments {
		d := v.Deployment
		out = append(out, fmt.Sprintf("%s\t%s@%s, %s", d.Id, d.Module, d.Version, d.Status))
	}
	return out, nil
}

func listExperiments(ctx context.Context, c *client.Client, _ string) ([]string, error) {
	resp, err := pb.NewExperimentsClient(c.Conn()).List(ctx, &pb.ListExperimentsRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range resp.Experiments {
		e := v.Experiment
		out = append(out, fmt.Sprintf("%s\t%s", e.Id, e.Status))
		if e.Name != "" { // the commands take the name too
			out = append(out, fmt.Sprintf("%s\t%s, %s", e.Name, e.Id, e.Status))
		}
	}
	return out, nil
}

func listSnapshots(ctx context.Context, c *client.Client, _ string) ([]string, error) {
	resp, err := pb.NewSnapshotsClient(c.Conn()).List(ctx, &pb.ListSnapshotsRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range resp.Snapshots {
		out = append(out, fmt.Sprintf("%s\t%s, %d nodes", s.Id, s.Status, len(s.Parts)))
	}
	return out, nil
}

func listSandboxes(ctx context.Context, c *client.Client, _ string) ([]string, error) {
	resp, err := pb.NewSandboxesClient(c.Conn()).List(ctx, &pb.ListSandboxesRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range resp.Sandboxes {
		out = append(out, fmt.Sprintf("%s\ton %s, %s", v.Sandbox.Name, v.Sandbox.Node, v.Sandbox.Status))
	}
	return out, nil
}

func listCheckpoints(ctx context.Context, c *client.Client, _ string) ([]string, error) {
	resp, err := pb.NewCheckpointsClient(c.Conn()).List(ctx, &pb.ListCheckpointsRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, cp := range resp.Checkpoints {
		out = append(out, cp.Id+"\tcheckpoint")
		if cp.Name != "" { // the commands take the name too
			out = append(out, cp.Name+"\t"+cp.Id)
		}
	}
	return out, nil
}

// listModuleNames lists the stored modules.
func listModuleNames(ctx context.Context, c *client.Client, _ string) ([]string, error) {
	resp, err := pb.NewModulesClient(c.Conn()).List(ctx, &pb.ListModulesRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range resp.Modules {
		out = append(out, fmt.Sprintf("%s\tactive %s, %d versions", m.Name, dash(m.Active), m.Versions))
	}
	return out, nil
}

// listModuleVersions completes NAME@VERSION: the module names, each
// followed by "@" (no space after it), then that module's versions once
// the "@" is typed.
func listModuleVersions(ctx context.Context, c *client.Client, toComplete string) ([]string, error) {
	name, _, versions := strings.Cut(toComplete, "@")
	if !versions {
		names, err := listModuleNames(ctx, c, "")
		for i, n := range names {
			v, desc, _ := strings.Cut(n, "\t")
			names[i] = v + "@\t" + desc
		}
		return names, err
	}
	resp, err := pb.NewModulesClient(c.Conn()).History(ctx, &pb.ModuleHistoryRequest{Name: name})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range resp.Versions {
		desc := "stored"
		if v.Version == resp.Active {
			desc = "active"
		}
		out = append(out, name+"@"+v.Version+"\t"+desc)
	}
	return out, nil
}

// maxKVCandidates bounds the keys one completion offers.
const maxKVCandidates = 1000

// listKeys lists the keys starting with what was typed, from the agent's
// own replica.
func listKeys(ctx context.Context, c *client.Client, toComplete string) ([]string, error) {
	resp, err := c.KV.List(ctx, &pb.KVListRequest{Prefix: toComplete, Read: &pb.ReadOptions{Stale: true}})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range resp.Entries {
		if len(out) == maxKVCandidates {
			break
		}
		out = append(out, e.Key)
	}
	return out, nil
}

// fixedValues is a lister of constant candidates.
func fixedValues(values ...string) lister {
	return func(context.Context, *client.Client, string) ([]string, error) { return values, nil }
}

// fileArg is an argument that is a file: cobra's file completion.
var fileArg lister

// argCompletions are the positional arguments completed, by command path
// (below the root), one lister per argument in order. A test checks that
// every path names a command.
var argCompletions = map[string][]lister{
	"sup delete":           {listTrees},
	"sup tree":             {listTrees},
	"sup restart":          {listTrees},
	"sup strategy":         {listTrees, fixedValues("one_for_one", "one_for_all", "rest_for_one")},
	"sup count-children":   {listTrees},
	"sup which-children":   {listTrees},
	"sup get-childspec":    {listTrees},
	"sup child start":      {listTrees},
	"sup child terminate":  {listTrees},
	"sup child restart":    {listTrees},
	"sup child delete":     {listTrees},
	"trace flow enable":    {listTrees},
	"trace flow disable":   {listTrees},
	"trace flow show":      {listTrees},
	"raft remove-peer":     {listNodes},
	"ops status":           {listPlanIDs("all")},
	"ops watch":            {listPlanIDs("all")},
	"ops cancel":           {listPlanIDs("running")},
	"deploy status":        {listDeployments},
	"deploy watch":         {listDeployments},
	"deploy pause":         {listDeployments},
	"deploy resume":        {listDeployments},
	"deploy promote":       {listDeployments},
	"deploy fail":          {listDeployments},
	"deploy revert":        {listDeployments},
	"deploy cancel":        {listDeployments},
	"experiment status":    {listExperiments},
	"experiment watch":     {listExperiments},
	"experiment compare":   {listExperiments},
	"experiment destroy":   {listExperiments},
	"snapshot inspect":     {listSnapshots},
	"snapshot delete":      {listSnapshots},
	"snapshot restore":     {listSnapshots},
	"snapshot diff":        {listSnapshots, listSnapshots},
	"snapshot export":      {listSnapshots, fileArg},
	"sandbox destroy":      {listSandboxes},
	"sandbox inspect":      {listSandboxes},
	"sandbox interactions": {listSandboxes},
	"sandbox trace":        {listSandboxes},
	"sandbox verify":       {listSandboxes},
	"sandbox violations":   {listSandboxes},
	"checkpoint inspect":   {listCheckpoints},
	"checkpoint delete":    {listCheckpoints},
	"checkpoint rollback":  {listCheckpoints},
	"module history":       {listModuleNames},
	"module inspect":       {listModuleVersions},
	"module delete":        {listModuleVersions},
	"module verify":        {listModuleVersions},
	"deploy":               {listModuleVersions},
	"kv get":               {listKeys},
	"kv delete":            {listKeys},
	"kv put":               {listKeys},
}

// repeatLast are the commands whose last argument repeats
// (deploy NAME@VERSION [NAME@VERSION...]).
var repeatLast = map[string]bool{"deploy": true}

// registerCompletions gives the commands of argCompletions their argument
// completion, and every --node and --nodes flag node names and every
// -o/--output flag its formats.
func registerCompletions(root *cobra.Command, g *globals) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		if ls, ok := argCompletions[path]; ok {
			c.ValidArgsFunction = g.argCompleter(ls, repeatLast[path])
		}
		if c.Flags().Lookup("node") != nil {
			_ = c.RegisterFlagCompletionFunc("node", g.flagCompleter(listNodes, false))
		}
		if c.Flags().Lookup("nodes") != nil {
			_ = c.RegisterFlagCompletionFunc("nodes", g.flagCompleter(listNodes, true))
		}
		if f := c.Flags().Lookup("output"); f != nil && f.Usage == "output format: table or json" {
			_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	walk(root)
}

// argCompleter completes the argument at len(args) with its lister; past
// the last one nothing, or the last one again when it repeats.
func (g *globals) argCompleter(ls []lister, repeat bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		i := len(args)
		if i >= len(ls) && repeat {
			i = len(ls) - 1
		}
		if i >= len(ls) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if ls[i] == nil {
			return nil, cobra.ShellCompDirectiveDefault // a file
		}
		out := g.candidates(cmd, ls[i], "", toComplete)
		directive := cobra.ShellCompDirectiveNoFileComp
		for _, v := range out {
			if name, _, _ := strings.Cut(v, "\t"); strings.HasSuffix(name, "@") {
				directive |= cobra.ShellCompDirectiveNoSpace // NAME@: the version comes next
				break
			}
		}
		return out, directive
	}
}

// flagCompleter completes a flag's value; a list flag (--nodes a,b)
// completes the item after the last comma, keeping those before.
func (g *globals) flagCompleter(l lister, list bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		prefix := ""
		if i := strings.LastIndex(toComplete, ","); list && i >= 0 {
			prefix, toComplete = toComplete[:i+1], toComplete[i+1:]
		}
		return g.candidates(cmd, l, prefix, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// candidates asks the agent, within completionTimeout, for l's values
// starting with toComplete, sorted, each after prefix; none on any error.
func (g *globals) candidates(cmd *cobra.Command, l lister, prefix, toComplete string) []string {
	c, err := g.dial()
	if err != nil {
		return nil
	}
	defer c.Close()
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, min(completionTimeout, g.timeout))
	defer cancel()
	values, err := l(ctx, c, toComplete)
	if err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, v := range strings.Split(prefix, ",") { // a list offers no item twice
		seen[v] = true
	}
	for _, v := range values {
		name, _, _ := strings.Cut(v, "\t")
		if !strings.HasPrefix(name, toComplete) || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, prefix+v)
	}
	sort.Strings(out)
	return out
}
