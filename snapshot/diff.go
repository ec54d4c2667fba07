package snapshot

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/steward/steward/spec"
)

// Change is one difference between two snapshots.
type Change struct {
	Node string `json:"node"`
	// Kind: node_added, node_removed, tree_added, tree_removed,
	// tree_changed, process_added, process_removed, process_restarted,
	// status_changed, state_changed, name_added, name_removed, name_moved.
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
}

// Diff lists what changed from snapshot a to snapshot b, node by node, in a
// stable order. Supervised processes are matched by tree and child path
// (a restarted child is the same slot with a new PID), others by PID.
func Diff(a, b map[string]*Part) []Change {
	var out []Change
	nodes := map[string]bool{}
	for n := range a {
		nodes[n] = true
	}
	for n := range b {
		nodes[n] = true
	}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		pa, pb := a[n], b[n]
		switch {
		case pa == nil:
			out = append(out, Change{Node: n, Kind: "node_added", Subject: n})
			continue
		case pb == nil:
			out = append(out, Change{Node: n, Kind: "node_removed", Subject: n})
			continue
		}
		out = append(out, diffTrees(n, pa, pb)...)
		out = append(out, diffProcesses(n, pa, pb)...)
		out = append(out, diffNames(n, pa, pb)...)
	}
	return out
}

func diffTrees(n string, a, b *Part) []Change {
	ta, tb := map[string]Tree{}, map[string]Tree{}
	for _, t := range a.Trees {
		ta[t.Name] = t
	}
	for _, t := range b.Trees {
		tb[t.Name] = t
	}
	var out []Change
	for _, name := range unionKeys(ta, tb) {
		x, inA := ta[name]
		y, inB := tb[name]
		switch {
		case !inA:
			out = append(out, Change{Node: n, Kind: "tree_added", Subject: name, To: y.Status})
		case !inB:
			out = append(out, Change{Node: n, Kind: "tree_removed", Subject: name, From: x.Status})
		default:
			if !bytes.Equal(spec.CanonicalTree(&x.Spec), spec.CanonicalTree(&y.Spec)) {
				out = append(out, Change{Node: n, Kind: "tree_changed", Subject: name,
					From: fmt.Sprintf("spec index %d", x.SpecIndex), To: fmt.Sprintf("spec index %d", y.SpecIndex)})
			}
			if x.Status != y.Status {
				out = append(out, Change{Node: n, Kind: "status_changed", Subject: "tree " + name, From: x.Status, To: y.Status})
			}
		}
	}
	return out
}

func processKey(p Process) string {
	if p.Tree != "" {
		return p.Tree + "/" + p.ChildID
	}
	return p.PID
}

func diffProcesses(n string, a, b *Part) []Change {
	pa, pbm := map[string]Process{}, map[string]Process{}
	for _, p := range a.Processes {
		pa[processKey(p)] = p
	}
	for _, p := range b.Processes {
		pbm[processKey(p)] = p
	}
	var out []Change
	for _, k := range unionKeys(pa, pbm) {
		x, inA := pa[k]
		y, inB := pbm[k]
		switch {
		case !inA:
			out = append(out, Change{Node: n, Kind: "process_added", Subject: k, To: y.PID})
		case !inB:
			out = append(out, Change{Node: n, Kind: "process_removed", Subject: k, From: x.PID})
		default:
			if x.PID != y.PID {
				out = append(out, Change{Node: n, Kind: "process_restarted", Subject: k, From: x.PID, To: y.PID})
			}
			if x.Status != y.Status {
				out = append(out, Change{Node: n, Kind: "status_changed", Subject: k, From: x.Status, To: y.Status})
			}
			if x.State != nil && y.State != nil && !bytes.Equal(x.State, y.State) {
				out = append(out, Change{Node: n, Kind: "state_changed", Subject: k, From: clip(x.State), To: clip(y.State)})
			}
		}
	}
	return out
}

func diffNames(n string, a, b *Part) []Change {
	na, nb := map[string]string{}, map[string]string{}
	for _, x := range a.Names {
		na[x.Name] = x.PID
	}
	for _, x := range b.Names {
		nb[x.Name] = x.PID
	}
	var out []Change
	for _, k := range unionKeys(na, nb) {
		x, inA := na[k]
		y, inB := nb[k]
		switch {
		case !inA:
			out = append(out, Change{Node: n, Kind: "name_added", Subject: k, To: y})
		case !inB:
			out = append(out, Change{Node: n, Kind: "name_removed", Subject: k, From: x})
		case x != y:
			out = append(out, Change{Node: n, Kind: "name_moved", Subject: k, From: x, To: y})
		}
	}
	return out
}

func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func unionKeys[V any](a, b map[string]V) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
