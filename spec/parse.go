package spec

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/steward/steward/internal/nesting"
)

// Format is the syntax of a spec or plan file.
type Format int

const (
	// FormatUnknown asks DetectFormat to sniff the content.
	FormatUnknown Format = iota
	FormatHCL
	FormatJSON
)

func (f Format) String() string {
	switch f {
	case FormatHCL:
		return "hcl"
	case FormatJSON:
		return "json"
	}
	return "unknown"
}

// DetectFormat picks a file's format from its extension (.hcl, .json, case
// insensitive), or else from its content: a document whose first non-blank
// byte is '{' is JSON, anything else HCL.
func DetectFormat(data []byte, filename string) Format {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".hcl":
		return FormatHCL
	case ".json":
		return FormatJSON
	}
	if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		return FormatJSON
	}
	return FormatHCL
}

// Parse reads a supervision tree from an HCL or JSON file (see the package
// documentation for both forms). The format comes from DetectFormat;
// filename is also used in HCL error positions. The tree is returned as
// written, not normalized nor validated: call Normalize and Validate, or use
// Load. Errors wrap ErrTooLarge or ErrSyntax; an ErrSyntax error is an
// *Error when the problems could be placed at field paths.
func Parse(data []byte, filename string) (*Tree, error) {
	if len(data) > MaxSpecBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrTooLarge, len(data), MaxSpecBytes)
	}
	switch DetectFormat(data, filename) {
	case FormatJSON:
		return parseJSONTree(data)
	default:
		return parseHCLTree(data, filename)
	}
}

// Load is Parse, Normalize and Validate in one call.
func Load(data []byte, filename string, opts ValidateOptions) (*Tree, error) {
	t, err := Parse(data, filename)
	if err != nil {
		return nil, err
	}
	Normalize(t)
	if err := Validate(t, opts); err != nil {
		return nil, err
	}
	return t, nil
}

func parseJSONTree(data []byte) (*Tree, error) {
	if err := checkJSONNesting(data); err != nil {
		return nil, err
	}
	v, err := parseJSONValue(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	var ps problems
	t := treeFromJSON(&ps, v)
	if err := ps.err(ErrSyntax); err != nil {
		return nil, err
	}
	return t, nil
}

// ParseChildJSON reads one child spec written as JSON (the form of an
// element of "children"), with the same rules as Parse. Problem paths are
// relative to the child.
func ParseChildJSON(data []byte) (ChildSpec, error) {
	if len(data) > MaxSpecBytes {
		return ChildSpec{}, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrTooLarge, len(data), MaxSpecBytes)
	}
	if err := checkJSONNesting(data); err != nil {
		return ChildSpec{}, err
	}
	v, err := parseJSONValue(data)
	if err != nil {
		return ChildSpec{}, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	var ps problems
	c := childFromJSON(&ps, "", v)
	return c, ps.err(ErrSyntax)
}

// checkJSONNesting refuses JSON nested deeper than maxNesting brackets
// before any recursive decoding starts.
func checkJSONNesting(data []byte) error {
	if err := nesting.JSON(data, maxNesting); err != nil {
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return nil
}

// checkHCLNesting is checkJSONNesting for HCL.
func checkHCLNesting(data []byte, filename string) error {
	if err := nesting.HCL(data, filename, maxNesting); err != nil {
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return nil
}
