// Package hcldoc reads the HCL documents operators write (tree specs,
// plans), as internal/strictjson reads their JSON form: a file nested too
// deep is refused before it is parsed, attribute values must be constants
// (no variables, no functions), and diagnostics are reported as problems at
// field paths to a fielderr.Reporter, in document order.
package hcldoc

import (
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/internal/nesting"
)

// Parse parses an HCL file and returns its body, refusing first (before
// any recursive decoding) a file nested deeper than maxDepth; filename is
// used in error positions. The error is the nesting error or the parser's
// hcl.Diagnostics.
func Parse(data []byte, filename string, maxDepth int) (hcl.Body, error) {
	if err := nesting.HCL(data, filename, maxDepth); err != nil {
		return nil, err
	}
	f, diags := hclsyntax.ParseConfig(data, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	return f.Body, nil
}

// Content reads body against schema, reporting what does not fit (unknown
// attributes and blocks, missing labels) at path. The content returned
// holds whatever did fit.
func Content(r fielderr.Reporter, path string, body hcl.Body, schema *hcl.BodySchema) *hcl.BodyContent {
	content, diags := body.Content(schema)
	Diags(r, path, diags)
	return content
}

// Decode evaluates a constant attribute (no variables, no functions) into
// target, a pointer to a Go value, reporting a problem at path when it does
// not fit.
func Decode(r fielderr.Reporter, path string, a *hcl.Attribute, target any) {
	Diags(r, path, gohcl.DecodeExpression(a.Expr, nil, target))
}

// Diags reports each error diagnostic at path, with its source range.
func Diags(r fielderr.Reporter, path string, diags hcl.Diagnostics) {
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
		r.Report(path, "%s", msg)
	}
}

// Attrs returns attributes in document order, so that problems come out in
// the order they were written.
func Attrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *hcl.Attribute) int { return a.Range.Start.Byte - b.Range.Start.Byte })
	return out
}
