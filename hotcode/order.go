package hotcode

import "sort"

// DependencyOrder orders modules so that each comes after the ones among
// them it declares as dependencies (manifest dependencies naming another
// of them), ties by name; a cycle's members follow by name. It returns
// indexes into mans.
func DependencyOrder(mans []*Manifest) []int {
	byName := map[string]int{}
	for i, m := range mans {
		byName[m.Name] = i
	}
	names := make([]string, 0, len(mans))
	for _, m := range mans {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	done := map[string]bool{}
	var out []int
	for len(out) < len(names) {
		progressed := false
		for _, n := range names {
			if done[n] {
				continue
			}
			ready := true
			for _, d := range mans[byName[n]].Dependencies {
				if _, ours := byName[d.Name]; ours && d.Name != n && !done[d.Name] {
					ready = false
				}
			}
			if ready {
				done[n], progressed = true, true
				out = append(out, byName[n])
				break // the first ready by name, then look again
			}
		}
		if !progressed { // a cycle: the rest by name
			for _, n := range names {
				if !done[n] {
					done[n] = true
					out = append(out, byName[n])
				}
			}
		}
	}
	return out
}
