// Package nesting refuses documents nested deeper than a limit before any
// recursive decoding starts, so that a hostile file cannot exhaust the
// stack: JSON by its brackets, HCL by its lexer's tokens.
package nesting

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// JSON returns an error when data opens more than max brackets at once.
func JSON(data []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return fmt.Errorf("nested deeper than %d brackets", max)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// HCL is JSON for HCL: braces, brackets, parentheses, templates, quotes and
// heredocs all count.
func HCL(data []byte, filename string, max int) error {
	toks, _ := hclsyntax.LexConfig(data, filename, hcl.InitialPos)
	depth := 0
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			depth++
			if depth > max {
				return fmt.Errorf("%s: nested deeper than %d brackets", t.Range, max)
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			depth--
		}
	}
	return nil
}
