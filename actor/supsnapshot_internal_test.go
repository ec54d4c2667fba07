package actor

import (
	"strconv"
	"testing"
)

// snapIDs lists a childSnaps' ids and states, in order.
func snapIDs(cs childSnaps) []string {
	var out []string
	for i, c := range cs.all() {
		if i != len(out) {
			panic("all: indices out of order")
		}
		out = append(out, c.spec.id+"="+c.state.String())
	}
	return out
}

// Snapshots built by appends and in-place replacements across chunk
// boundaries list what a full copy lists, and every older snapshot keeps
// listing what it listed when it was published.
func TestChildSnapsAppendReplace(t *testing.T) {
	var children []*child
	var snaps []childSnaps
	var want [][]string
	cur := buildChildSnaps(nil)
	record := func() {
		snaps = append(snaps, cur)
		want = append(want, snapIDs(buildChildSnaps(children)))
	}
	for i := range 3*snapChunk + 5 {
		c := &child{spec: &childSpec{id: "c" + strconv.Itoa(i)}}
		children = append(children, c)
		cur = cur.appended(c)
		if cur.len() != len(children) {
			t.Fatalf("len %d, want %d", cur.len(), len(children))
		}
		if i%snapChunk == snapChunk-1 || i%7 == 0 {
			record()
		}
		if i%3 == 0 {
			// Change an earlier child in place, as terminate_child does.
			j := i / 2
			children[j].state = childTerminated
			cur = cur.replaced(j, children[j])
			record()
		}
	}
	record()
	for k, s := range snaps {
		got := snapIDs(s)
		if len(got) != len(want[k]) {
			t.Fatalf("snapshot %d lists %d children, want %d", k, len(got), len(want[k]))
		}
		for i := range got {
			if got[i] != want[k][i] {
				t.Fatalf("snapshot %d child %d is %s, want %s", k, i, got[i], want[k][i])
			}
		}
	}
	full := snapIDs(buildChildSnaps(children))
	for i, id := range snapIDs(cur) {
		if id != full[i] {
			t.Fatalf("child %d: %s, a full copy has %s", i, id, full[i])
		}
	}
}
