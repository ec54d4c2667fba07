package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/internal/nesting"
	"github.com/steward/steward/spec"
)

// Limits of the files operators write.
const (
	// MaxDefinitionBytes bounds a sandbox file and an experiment file.
	MaxDefinitionBytes = 256 << 10
	// MaxExperimentSandboxes bounds the sandboxes of one experiment.
	MaxExperimentSandboxes = 16
	// DefaultExperimentDeadline is how long an experiment's parts may take
	// to start when its file does not say; MaxExperimentDeadline bounds it.
	DefaultExperimentDeadline = 60 * time.Second
	MaxExperimentDeadline     = 10 * time.Minute
	maxNesting                = 64
)

// Definition is a sandbox as a sandbox file writes it: its policy, where
// to run it, and its tree.
//
//	name      = "exp-a"
//	node      = "auto"          # or a node's name; omitted: auto
//	isolation = "strict"
//	limits { max_processes = 10 }
//	tree {
//	  strategy = "one_for_one"
//	  child "w" { module = "counter" }
//	}
//
// JSON has the same fields, "tree" an object as a tree spec file writes it.
type Definition struct {
	Name   string
	Node   string
	Tree   *spec.Tree
	Policy Policy
}

// Experiment is an experiment file: several sandboxes created all or
// nothing.
//
//	name     = "ab"
//	deadline = "60s"
//	sandbox "a" { node = "n1"  tree { ... } }
//	sandbox "b" { node = "n2"  tree { ... } }
//
// JSON: {"name": "ab", "deadline": "60s", "sandboxes": [{...}, {...}]}.
type Experiment struct {
	Name      string
	Deadline  time.Duration
	Sandboxes []Definition
}

// ParseDefinition reads a sandbox file (HCL or JSON, as Parse decides),
// fills omitted policy fields with the defaults and validates the policy;
// the tree is parsed and normalized, not validated (its behaviors and
// modules are the caller's to check: spec.Validate with the node's
// catalog). Errors wrap ErrTooLarge, ErrSyntax or ErrInvalid with each
// problem at its field path (tree problems under "tree").
func ParseDefinition(data []byte, filename string) (Definition, error) {
	if len(data) > MaxDefinitionBytes {
		return Definition{}, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(data), MaxDefinitionBytes)
	}
	if isJSON(data, filename) {
		var raw map[string]json.RawMessage
		if err := decodeStrict(data, &raw); err != nil {
			return Definition{}, err
		}
		return definitionJSON(raw, "")
	}
	body, hs, err := parseHCLFile(data, filename)
	if err != nil {
		return Definition{}, err
	}
	return definitionHCL(body, hs, "", "")
}

// ParseExperiment reads an experiment file: each sandbox as
// ParseDefinition reads one, problems under "sandboxes[i]".
func ParseExperiment(data []byte, filename string) (Experiment, error) {
	if len(data) > MaxDefinitionBytes {
		return Experiment{}, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(data), MaxDefinitionBytes)
	}
	var ps fielderr.List
	var e Experiment
	var deadline *string
	if isJSON(data, filename) {
		var f struct {
			Name      *string                      `json:"name"`
			Deadline  *string                      `json:"deadline"`
			Sandboxes []map[string]json.RawMessage `json:"sandboxes"`
		}
		if err := decodeStrict(data, &f); err != nil {
			return Experiment{}, err
		}
		if f.Name != nil {
			e.Name = *f.Name
		}
		deadline = f.Deadline
		for i, raw := range f.Sandboxes {
			d, err := definitionJSON(raw, fielderr.Index("sandboxes", i))
			merge(&ps, err, "")
			e.Sandboxes = append(e.Sandboxes, d)
		}
	} else {
		body, hs, err := parseHCLFile(data, filename)
		if err != nil {
			return Experiment{}, err
		}
		var f struct {
			Name      *string `hcl:"name,optional"`
			Deadline  *string `hcl:"deadline,optional"`
			Sandboxes []struct {
				Name string   `hcl:"name,label"`
				Body hcl.Body `hcl:",remain"`
			} `hcl:"sandbox,block"`
		}
		if diags := gohcl.DecodeBody(body, nil, &f); diags.HasErrors() {
			return Experiment{}, reportHCL(hs, diags)
		}
		if f.Name != nil {
			e.Name = *f.Name
		}
		deadline = f.Deadline
		for i, b := range f.Sandboxes {
			var bhs *hclsyntax.Body
			if sb, ok := b.Body.(*hclsyntax.Body); ok {
				bhs = sb
			}
			d, err := definitionHCL(b.Body, bhs, b.Name, fielderr.Index("sandboxes", i))
			merge(&ps, err, "")
			e.Sandboxes = append(e.Sandboxes, d)
		}
	}
	e.Deadline = DefaultExperimentDeadline
	if deadline != nil {
		d, err := time.ParseDuration(*deadline)
		switch {
		case err != nil:
			ps.Add(ErrInvalid, "deadline", "%q is not a duration such as \"60s\"", *deadline)
		case d < time.Second || d > MaxExperimentDeadline:
			ps.Add(ErrInvalid, "deadline", "%s is outside [1s, %s]", d, MaxExperimentDeadline)
		default:
			e.Deadline = d
		}
	}
	if e.Name != "" && !spec.ValidName(e.Name) {
		ps.Add(ErrInvalid, "name", "%q must be 1-%d letters, digits, '_', '-' or '.', starting with a letter or digit", e.Name, spec.MaxNameLen)
	}
	switch n := len(e.Sandboxes); {
	case n == 0:
		ps.Add(ErrInvalid, "sandboxes", "an experiment needs at least one sandbox")
	case n > MaxExperimentSandboxes:
		ps.Add(ErrInvalid, "sandboxes", "%d sandboxes, more than %d", n, MaxExperimentSandboxes)
	}
	seen := map[string]int{}
	for i, d := range e.Sandboxes {
		if d.Name == "" {
			continue
		}
		if j, ok := seen[d.Name]; ok {
			ps.Add(ErrInvalid, fielderr.Join(fielderr.Index("sandboxes", i), "name"), "%q is also sandboxes[%d]", d.Name, j)
		}
		seen[d.Name] = i
	}
	return e, errOf(&ps)
}

// definitionJSON reads one sandbox object; path prefixes its problems.
func definitionJSON(raw map[string]json.RawMessage, path string) (Definition, error) {
	var ps fielderr.List
	var d Definition
	if v, ok := raw["node"]; ok {
		if err := json.Unmarshal(v, &d.Node); err != nil {
			ps.Add(ErrSyntax, fielderr.Join(path, "node"), "expected a string")
		}
		delete(raw, "node")
	}
	treeRaw, hasTree := raw["tree"]
	delete(raw, "tree")
	rest, _ := json.Marshal(raw)
	var f file
	if err := parseJSON(rest, &f); err != nil {
		merge(&ps, err, path)
	}
	d.Policy, _ = policyOf(&ps, f, path)
	d.Name = d.Policy.Name
	if !hasTree {
		ps.Add(ErrInvalid, fielderr.Join(path, "tree"), "a sandbox needs a tree")
	} else {
		t, err := spec.Parse(treeRaw, "tree.json")
		if err != nil {
			merge(&ps, err, fielderr.Join(path, "tree"))
		} else {
			d.Tree = t
		}
	}
	d.finish(&ps, path)
	return d, errOf(&ps)
}

// definitionHCL reads one sandbox body; label is its block's label (an
// experiment's sandbox "name" block), path prefixes its problems.
func definitionHCL(body hcl.Body, hs *hclsyntax.Body, label, path string) (Definition, error) {
	var ps fielderr.List
	var d Definition
	content, rest, diags := body.PartialContent(&hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "node"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "tree"}},
	})
	if diags.HasErrors() {
		merge(&ps, reportHCL(hs, diags), path)
		return d, errOf(&ps)
	}
	if a, ok := content.Attributes["node"]; ok {
		if diags := gohcl.DecodeExpression(a.Expr, nil, &d.Node); diags.HasErrors() {
			ps.Add(ErrSyntax, fielderr.Join(path, "node"), "expected a string")
		}
	}
	var f file
	if diags := gohcl.DecodeBody(rest, nil, &f); diags.HasErrors() {
		merge(&ps, reportHCL(hs, diags), path)
	}
	d.Policy, _ = policyOf(&ps, f, path)
	if label != "" {
		if d.Policy.Name != "" && d.Policy.Name != label {
			ps.Add(ErrInvalid, fielderr.Join(path, "name"), "%q differs from the block's label %q", d.Policy.Name, label)
		}
		d.Policy.Name = label
	}
	d.Name = d.Policy.Name
	switch trees := content.Blocks.OfType("tree"); len(trees) {
	case 0:
		ps.Add(ErrInvalid, fielderr.Join(path, "tree"), "a sandbox needs a tree block")
	case 1:
		t, err := spec.DecodeTreeBodyHCL(d.Name, trees[0].Body, "")
		if err != nil {
			merge(&ps, err, fielderr.Join(path, "tree"))
		} else {
			d.Tree = t
		}
	default:
		ps.Add(ErrInvalid, fielderr.Join(path, "tree"), "%d tree blocks, a sandbox has one", len(trees))
	}
	d.finish(&ps, path)
	return d, errOf(&ps)
}

// policyOf lays f over the defaults and validates it, problems prefixed.
func policyOf(ps *fielderr.List, f file, path string) (Policy, bool) {
	p, err := f.policy()
	if err != nil {
		merge(ps, err, path)
		return p, false
	}
	if err := p.Validate(); err != nil {
		merge(ps, err, path)
		return p, false
	}
	return p, true
}

// finish checks the name and the tree's name and node against the
// sandbox's, and normalizes the tree.
func (d *Definition) finish(ps *fielderr.List, path string) {
	if d.Name == "" {
		ps.Add(ErrInvalid, fielderr.Join(path, "name"), "a sandbox needs a name")
	}
	if d.Tree == nil {
		return
	}
	if d.Tree.Name == "" {
		d.Tree.Name = d.Name
	} else if d.Tree.Name != d.Name {
		ps.Add(ErrInvalid, fielderr.Join(path, "tree.name"), "%q differs from the sandbox's name %q", d.Tree.Name, d.Name)
	}
	switch {
	case d.Tree.Node != "" && d.Node == "":
		d.Node = d.Tree.Node
	case d.Tree.Node != "" && d.Tree.Node != d.Node:
		ps.Add(ErrInvalid, fielderr.Join(path, "tree.node"), "%q differs from the sandbox's node %q", d.Tree.Node, d.Node)
	}
	if d.Node == "" {
		d.Node = "auto"
	}
	d.Tree.Node = ""
	spec.Normalize(d.Tree)
}

// merge copies err's problems into ps, their paths under prefix.
func merge(ps *fielderr.List, err error, prefix string) {
	if err == nil {
		return
	}
	var fe *fielderr.Error
	if !errors.As(err, &fe) {
		kind := ErrInvalid
		if errors.Is(err, ErrSyntax) || errors.Is(err, spec.ErrSyntax) {
			kind = ErrSyntax
		}
		ps.Add(kind, prefix, "%v", err)
		return
	}
	kind := ErrInvalid
	if errors.Is(fe.Err, ErrSyntax) || errors.Is(fe.Err, spec.ErrSyntax) {
		kind = ErrSyntax
	}
	for _, p := range fe.Problems {
		k := kind
		if errors.Is(p.Kind, ErrSyntax) || errors.Is(p.Kind, spec.ErrSyntax) {
			k = ErrSyntax
		}
		ps.Add(k, fielderr.Join(prefix, p.Path), "%s", p.Message)
	}
}

// errOf is the list's error: ErrSyntax when any problem is one, else
// ErrInvalid.
func errOf(ps *fielderr.List) error {
	err := ps.Err(ErrInvalid)
	var fe *fielderr.Error
	if errors.As(err, &fe) {
		for _, p := range fe.Problems {
			if errors.Is(p.Kind, ErrSyntax) {
				fe.Err = ErrSyntax
				break
			}
		}
	}
	return err
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var ps fielderr.List
	if err := nesting.JSON(data, maxNesting); err != nil {
		ps.Add(ErrSyntax, "", "%v", err)
		return ps.Err(ErrSyntax)
	}
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			ps.Add(ErrSyntax, te.Field, "expected %s, got %s", te.Type, te.Value)
		} else {
			ps.Add(ErrSyntax, "", "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return ps.Err(ErrSyntax)
	}
	if dec.More() {
		ps.Add(ErrSyntax, "", "data after the object")
		return ps.Err(ErrSyntax)
	}
	return nil
}

func parseHCLFile(data []byte, filename string) (hcl.Body, *hclsyntax.Body, error) {
	if err := nesting.HCL(data, filename, maxNesting); err != nil {
		var ps fielderr.List
		ps.Add(ErrSyntax, "", "%v", err)
		return nil, nil, ps.Err(ErrSyntax)
	}
	hf, diags := hclsyntax.ParseConfig(data, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, nil, reportHCL(nil, diags)
	}
	hs, _ := hf.Body.(*hclsyntax.Body)
	return hf.Body, hs, nil
}

func reportHCL(body *hclsyntax.Body, diags hcl.Diagnostics) error {
	var ps fielderr.List
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		path := ""
		if d.Subject != nil {
			path = hclPath(body, *d.Subject)
		}
		ps.Add(ErrSyntax, path, "%s: %s", d.Summary, d.Detail)
	}
	return ps.Err(ErrSyntax)
}

// Canonical is a policy in the policy file's JSON with every field
// written out: what a sandbox record carries, and what Parse reads back
// to the same policy on every node of the same version. A node of a
// version that does not know a field refuses the document (Parse refuses
// unknown fields), so it never runs a sandbox with fewer limits than its
// policy says.
func Canonical(p Policy) []byte {
	str := func(s string) *string { return &s }
	dur := func(d time.Duration) *string {
		if d == 0 {
			return nil
		}
		return str(d.String())
	}
	ival := func(v int) *int { return &v }
	f := file{
		Isolation:       str(string(p.Isolation)),
		Response:        str(string(p.Response)),
		MonitorInterval: dur(p.MonitorInterval),
		Trace:           &traceFile{Messages: &p.Trace.Messages, States: &p.Trace.States, HistorySamples: ival(p.Trace.HistorySamples)},
		Limits: &limitsFile{
			MaxMemoryBytes:  &p.Limits.MaxMemoryBytes,
			MaxProcesses:    ival(p.Limits.MaxProcesses),
			CPUPercent:      ival(p.Limits.CPUPercent),
			MessageDeadline: dur(p.Limits.MessageDeadline),
			MaxFileHandles:  ival(p.Limits.MaxFileHandles),
		},
		Allow: &allowFile{Names: p.Allow.Names, Trees: p.Allow.Trees},
	}
	if p.Name != "" {
		f.Name = str(p.Name)
	}
	if p.Limits.MaxMessagesPerSecond != 0 {
		f.Limits.MaxMessagesPerSecond = ival(p.Limits.MaxMessagesPerSecond)
	}
	if p.Limits.MaxMailbox != 0 {
		f.Limits.MaxMailbox = ival(p.Limits.MaxMailbox)
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(fmt.Sprintf("sandbox: encoding a policy: %v", err)) // plain values only
	}
	return b
}
