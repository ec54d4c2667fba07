package spec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

var (
	supervisorHCLAttrs = []hcl.AttributeSchema{
		{Name: "strategy"}, {Name: "max_restarts"}, {Name: "max_seconds"},
	}
	childHCLBlock = hcl.BlockHeaderSchema{Type: "child", LabelNames: []string{"id"}}

	// The body of a file: attributes and children directly, or one tree
	// block holding them.
	fileHCLSchema = &hcl.BodySchema{
		Attributes: append([]hcl.AttributeSchema{{Name: "name"}, {Name: "node"}}, supervisorHCLAttrs...),
		Blocks:     []hcl.BlockHeaderSchema{childHCLBlock, {Type: "tree", LabelNames: []string{"name"}}},
	}
	treeBlockHCLSchema = &hcl.BodySchema{
		Attributes: append([]hcl.AttributeSchema{{Name: "node"}}, supervisorHCLAttrs...),
		Blocks:     []hcl.BlockHeaderSchema{childHCLBlock},
	}
	childHCLSchema = &hcl.BodySchema{
		Attributes: append([]hcl.AttributeSchema{
			{Name: "type"}, {Name: "behavior"}, {Name: "args"}, {Name: "name"},
			{Name: "restart"}, {Name: "shutdown"},
		}, supervisorHCLAttrs...),
		Blocks: []hcl.BlockHeaderSchema{childHCLBlock},
	}
)

func parseHCLTree(data []byte, filename string) (*Tree, error) {
	if err := checkHCLNesting(data, filename); err != nil {
		return nil, err
	}
	f, diags := hclsyntax.ParseConfig(data, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%w: %s", ErrSyntax, diags.Error())
	}
	var ps problems
	t := &Tree{}
	content, diags := f.Body.Content(fileHCLSchema)
	addDiags(&ps, "", diags)
	body := content
	var trees []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == "tree" {
			trees = append(trees, b)
		}
	}
	if len(trees) > 0 {
		if len(trees) > 1 || len(content.Blocks) > 1 || len(content.Attributes) > 0 {
			ps.add(ErrSyntax, "", "%s: a tree block must be the only thing in the file", trees[0].DefRange)
			return nil, ps.err(ErrSyntax)
		}
		t.Name = trees[0].Labels[0]
		var d hcl.Diagnostics
		body, d = trees[0].Body.Content(treeBlockHCLSchema)
		addDiags(&ps, "", d)
	}
	var in intensityInput
	for _, name := range sortedAttrNames(body.Attributes) {
		a := body.Attributes[name]
		switch name {
		case "name":
			hclDecode(&ps, name, a, &t.Name)
		case "node":
			hclDecode(&ps, name, a, &t.Node)
		default:
			supervisorAttrFromHCL(&ps, &t.SupervisorSpec, &in, "", a)
		}
	}
	in.apply(&t.SupervisorSpec, true)
	t.Children = childrenFromHCL(&ps, "", body.Blocks)
	if err := ps.err(ErrSyntax); err != nil {
		return nil, err
	}
	return t, nil
}

// DecodeChildHCL reads one child spec from a `child "id" { ... }` block,
// with the same rules as Parse. Problem paths are relative to the child.
func DecodeChildHCL(block *hcl.Block) (ChildSpec, error) {
	var ps problems
	c := childFromHCL(&ps, "", block)
	return c, ps.err(ErrSyntax)
}

func childrenFromHCL(ps *problems, path string, blocks hcl.Blocks) []ChildSpec {
	var out []ChildSpec
	for _, b := range blocks {
		if b.Type != "child" {
			continue
		}
		out = append(out, childFromHCL(ps, indexPath(path, "children", len(out)), b))
	}
	return out
}

func childFromHCL(ps *problems, path string, b *hcl.Block) ChildSpec {
	var c ChildSpec
	if len(b.Labels) > 0 {
		c.ID = b.Labels[0]
	}
	content, diags := b.Body.Content(childHCLSchema)
	addDiags(ps, path, diags)
	var in intensityInput
	for _, name := range sortedAttrNames(content.Attributes) {
		a := content.Attributes[name]
		fp := joinPath(path, name)
		switch name {
		case "type":
			hclDecode(ps, fp, a, (*string)(&c.Type))
		case "behavior":
			hclDecode(ps, fp, a, &c.Behavior)
		case "args":
			hclDecode(ps, fp, a, &c.Args)
		case "name":
			hclDecode(ps, fp, a, &c.Name)
		case "restart":
			hclDecode(ps, fp, a, (*string)(&c.Restart))
		case "shutdown":
			hclDecode(ps, fp, a, &c.Shutdown)
		default:
			supervisorAttrFromHCL(ps, &c.SupervisorSpec, &in, path, a)
		}
	}
	in.apply(&c.SupervisorSpec, c.Type == Supervisor)
	c.Children = childrenFromHCL(ps, path, content.Blocks)
	return c
}

func supervisorAttrFromHCL(ps *problems, s *SupervisorSpec, in *intensityInput, path string, a *hcl.Attribute) {
	fp := joinPath(path, a.Name)
	switch a.Name {
	case "strategy":
		hclDecode(ps, fp, a, (*string)(&s.Strategy))
	case "max_restarts":
		hclDecode(ps, fp, a, &s.MaxRestarts)
		in.restarts = true
	case "max_seconds":
		hclDecode(ps, fp, a, &s.MaxSeconds)
		in.seconds = true
	}
}

// hclDecode evaluates a constant attribute (no variables, no functions)
// into a Go value.
func hclDecode(ps *problems, path string, a *hcl.Attribute, target any) {
	addDiags(ps, path, gohcl.DecodeExpression(a.Expr, nil, target))
}

func addDiags(ps *problems, path string, diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			msg = d.Subject.String() + ": " + msg
		}
		ps.add(ErrSyntax, path, "%s", msg)
	}
}

func sortedAttrNames(attrs hcl.Attributes) []string {
	// Document order, so problems come out in the order they were written.
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && attrLess(attrs[names[j]], attrs[names[j-1]]); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}

func attrLess(a, b *hcl.Attribute) bool {
	return a.Range.Start.Byte < b.Range.Start.Byte
}
