package spec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/internal/hcldoc"
)

var (
	supervisorHCLAttrs = []hcl.AttributeSchema{
		{Name: "strategy"}, {Name: "max_restarts"}, {Name: "max_seconds"}, {Name: "auto_shutdown"},
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
			{Name: "type"}, {Name: "behavior"}, {Name: "module"}, {Name: "args"}, {Name: "name"},
			{Name: "restart"}, {Name: "significant"}, {Name: "shutdown"},
		}, supervisorHCLAttrs...),
		Blocks: []hcl.BlockHeaderSchema{childHCLBlock},
	}
)

func parseHCLTree(data []byte, filename string) (*Tree, error) {
	root, err := hcldoc.Parse(data, filename, maxNesting)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	var ps fielderr.List
	r := fielderr.Reporter{List: &ps, Kind: ErrSyntax}
	t := &Tree{}
	content := hcldoc.Content(r, "", root, fileHCLSchema)
	body := content
	var trees []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == "tree" {
			trees = append(trees, b)
		}
	}
	if len(trees) > 0 {
		if len(trees) > 1 || len(content.Blocks) > 1 || len(content.Attributes) > 0 {
			r.Report("", "%s: a tree block must be the only thing in the file", trees[0].DefRange)
			return nil, ps.Err(ErrSyntax)
		}
		t.Name = trees[0].Labels[0]
		body = hcldoc.Content(r, "", trees[0].Body, treeBlockHCLSchema)
	}
	var in intensityInput
	for _, a := range hcldoc.Attrs(body.Attributes) {
		switch a.Name {
		case "name":
			hcldoc.Decode(r, a.Name, a, &t.Name)
		case "node":
			hcldoc.Decode(r, a.Name, a, &t.Node)
		default:
			supervisorAttrFromHCL(r, &t.SupervisorSpec, &in, "", a)
		}
	}
	in.apply(r, "", &t.SupervisorSpec, true)
	t.Children = childrenFromHCL(r, "", body.Blocks)
	if err := ps.Err(ErrSyntax); err != nil {
		return nil, err
	}
	return t, nil
}

// DecodeTreeBodyHCL reads a tree named name from the body of a block that
// holds what a tree block holds (node, strategy, intensity, children), as
// another document embeds a tree (a sandbox file's tree block). Problem
// paths are relative to the block, prefixed with path.
func DecodeTreeBodyHCL(name string, body hcl.Body, path string) (*Tree, error) {
	var ps fielderr.List
	r := fielderr.Reporter{List: &ps, Kind: ErrSyntax}
	t := &Tree{Name: name}
	content := hcldoc.Content(r, path, body, treeBlockHCLSchema)
	var in intensityInput
	for _, a := range hcldoc.Attrs(content.Attributes) {
		switch a.Name {
		case "node":
			hcldoc.Decode(r, fielderr.Join(path, a.Name), a, &t.Node)
		default:
			supervisorAttrFromHCL(r, &t.SupervisorSpec, &in, path, a)
		}
	}
	in.apply(r, path, &t.SupervisorSpec, true)
	t.Children = childrenFromHCL(r, path, content.Blocks)
	if err := ps.Err(ErrSyntax); err != nil {
		return nil, err
	}
	return t, nil
}

// DecodeChildHCL reads one child spec from a `child "id" { ... }` block,
// with the same rules as Parse. Problem paths are relative to the child.
func DecodeChildHCL(block *hcl.Block) (ChildSpec, error) {
	var ps fielderr.List
	c := childFromHCL(fielderr.Reporter{List: &ps, Kind: ErrSyntax}, "", block)
	return c, ps.Err(ErrSyntax)
}

func childrenFromHCL(r fielderr.Reporter, path string, blocks hcl.Blocks) []ChildSpec {
	var out []ChildSpec
	for _, b := range blocks {
		if b.Type != "child" {
			continue
		}
		out = append(out, childFromHCL(r, fielderr.Index(fielderr.Join(path, "children"), len(out)), b))
	}
	return out
}

func childFromHCL(r fielderr.Reporter, path string, b *hcl.Block) ChildSpec {
	var c ChildSpec
	if len(b.Labels) > 0 {
		c.ID = b.Labels[0]
	}
	content := hcldoc.Content(r, path, b.Body, childHCLSchema)
	var in intensityInput
	for _, a := range hcldoc.Attrs(content.Attributes) {
		fp := fielderr.Join(path, a.Name)
		switch a.Name {
		case "type":
			hcldoc.Decode(r, fp, a, (*string)(&c.Type))
		case "behavior":
			hcldoc.Decode(r, fp, a, &c.Behavior)
		case "module":
			hcldoc.Decode(r, fp, a, &c.Module)
		case "args":
			hcldoc.Decode(r, fp, a, &c.Args)
		case "name":
			hcldoc.Decode(r, fp, a, &c.Name)
		case "restart":
			hcldoc.Decode(r, fp, a, (*string)(&c.Restart))
		case "significant":
			hcldoc.Decode(r, fp, a, &c.Significant)
		case "shutdown":
			hcldoc.Decode(r, fp, a, &c.Shutdown)
		default:
			supervisorAttrFromHCL(r, &c.SupervisorSpec, &in, path, a)
		}
	}
	in.apply(r, path, &c.SupervisorSpec, c.Type == Supervisor)
	c.Children = childrenFromHCL(r, path, content.Blocks)
	return c
}

func supervisorAttrFromHCL(r fielderr.Reporter, s *SupervisorSpec, in *intensityInput, path string, a *hcl.Attribute) {
	fp := fielderr.Join(path, a.Name)
	switch a.Name {
	case "strategy":
		hcldoc.Decode(r, fp, a, (*string)(&s.Strategy))
	case "max_restarts":
		hcldoc.Decode(r, fp, a, &s.MaxRestarts)
		in.restarts = true
	case "max_seconds":
		hcldoc.Decode(r, fp, a, &s.MaxSeconds)
		in.seconds = true
	case "auto_shutdown":
		hcldoc.Decode(r, fp, a, (*string)(&s.AutoShutdown))
	}
}
