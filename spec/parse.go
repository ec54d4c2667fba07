package spec

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/internal/strictjson"
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
	v, err := strictjson.Parse(data, maxNesting)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	var ps fielderr.List
	t := treeFromJSON(fielderr.Reporter{List: &ps, Kind: ErrSyntax}, v)
	if err := ps.Err(ErrSyntax); err != nil {
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
	v, err := strictjson.Parse(data, maxNesting)
	if err != nil {
		return ChildSpec{}, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	var ps fielderr.List
	c := childFromJSON(fielderr.Reporter{List: &ps, Kind: ErrSyntax}, "", v)
	return c, ps.Err(ErrSyntax)
}
