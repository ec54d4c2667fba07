package deploy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
)

// Selector narrows a deployment's targets: comma-separated terms
// key=value with key one of tree (a tree's name), path (TREE/CHILD/...: that
// child slot and everything below it), node (a node's name) or pid
// (NODE/SEQ). Terms of one key are alternatives; terms of different keys
// must all hold. The empty selector is no narrowing.
type Selector struct {
	Trees, Paths, Nodes, PIDs []string
}

// MaxSelectorTerms bounds a selector (terms).
const MaxSelectorTerms = 1000

// ParseSelector reads a selector; an error names the bad term.
func ParseSelector(s string) (Selector, error) {
	var sel Selector
	s = strings.TrimSpace(s)
	if s == "" {
		return sel, nil
	}
	terms := strings.Split(s, ",")
	if len(terms) > MaxSelectorTerms {
		return sel, fmt.Errorf("targets: %d terms, more than the limit of %d", len(terms), MaxSelectorTerms)
	}
	for _, t := range terms {
		k, v, ok := strings.Cut(strings.TrimSpace(t), "=")
		if !ok || v == "" {
			return sel, fmt.Errorf("targets: %q is not key=value (keys: tree, path, node, pid)", t)
		}
		switch k {
		case "tree":
			if !spec.ValidName(v) {
				return sel, fmt.Errorf("targets: %q is not a tree name", v)
			}
			sel.Trees = append(sel.Trees, v)
		case "path":
			tree, _, _ := strings.Cut(v, "/")
			if !spec.ValidName(tree) {
				return sel, fmt.Errorf("targets: path %q does not start with a tree name", v)
			}
			sel.Paths = append(sel.Paths, strings.TrimSuffix(v, "/"))
		case "node":
			if !spec.ValidName(v) {
				return sel, fmt.Errorf("targets: %q is not a node name", v)
			}
			sel.Nodes = append(sel.Nodes, v)
		case "pid":
			if _, err := actor.ParsePID(v); err != nil {
				return sel, fmt.Errorf("targets: %q is not a pid (node/seq)", v)
			}
			sel.PIDs = append(sel.PIDs, v)
		default:
			return sel, fmt.Errorf("targets: unknown key %q in %q (keys: tree, path, node, pid)", k, t)
		}
	}
	return sel, nil
}

// Empty reports whether the selector narrows nothing.
func (s Selector) Empty() bool {
	return len(s.Trees)+len(s.Paths)+len(s.Nodes)+len(s.PIDs) == 0
}

// Match reports whether a worker is selected.
func (s Selector) Match(t *pb.CodeTarget) bool {
	if len(s.Trees) > 0 && !slices.Contains(s.Trees, t.Tree) {
		return false
	}
	if len(s.Nodes) > 0 && !slices.Contains(s.Nodes, t.Node) {
		return false
	}
	if len(s.PIDs) > 0 && !slices.Contains(s.PIDs, t.Pid) {
		return false
	}
	if len(s.Paths) > 0 {
		full := t.Tree + "/" + t.ChildId
		if !slices.ContainsFunc(s.Paths, func(p string) bool { return full == p || strings.HasPrefix(full, p+"/") }) {
			return false
		}
	}
	return true
}
