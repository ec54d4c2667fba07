package actor

import (
	"iter"
	"slices"
)

// snapChunk is how many children one chunk of a published snapshot holds.
const snapChunk = 128

// childSnaps is the children of a published supervisor snapshot, in
// start order, kept in fixed chunks of snapChunk so that publishing a
// change costs O(chunk + n/chunk) rather than a copy of every child: a
// child appended is written into the last chunk's free room (or a new
// chunk), a child changed in place copies its own chunk and the chunk
// list. Readers stop at n, so an append writes only where no published
// snapshot reads: the room past the latest snapshot's n, which only the
// latest is ever extended into.
type childSnaps struct {
	chunks []*[snapChunk]childSnap
	n      int
}

// len is the number of children.
func (cs childSnaps) len() int { return cs.n }

// all yields the children in order, with their index.
func (cs childSnaps) all() iter.Seq2[int, childSnap] {
	return func(yield func(int, childSnap) bool) {
		for i := range cs.n {
			if !yield(i, cs.chunks[i/snapChunk][i%snapChunk]) {
				return
			}
		}
	}
}

// snapOf is c as published.
func snapOf(c *child) childSnap {
	return childSnap{spec: c.spec, proc: c.proc, state: c.state, restarts: c.restarts, dynamic: c.dynamic, last: c.last}
}

// buildChildSnaps copies every child: a full publish. It records each
// child's index in its idx hint.
func buildChildSnaps(children []*child) childSnaps {
	cs := childSnaps{n: len(children), chunks: make([]*[snapChunk]childSnap, 0, (len(children)+snapChunk-1)/snapChunk)}
	for start := 0; start < len(children); start += snapChunk {
		chunk := new([snapChunk]childSnap)
		for i, c := range children[start:min(start+snapChunk, len(children))] {
			chunk[i] = snapOf(c)
			c.idx = start + i
		}
		cs.chunks = append(cs.chunks, chunk)
	}
	return cs
}

// appended is cs with c added at the end, sharing what cs holds; cs
// must be the latest snapshot (see childSnaps).
func (cs childSnaps) appended(c *child) childSnaps {
	c.idx = cs.n
	out := childSnaps{n: cs.n + 1, chunks: cs.chunks}
	if cs.n%snapChunk == 0 {
		out.chunks = append(out.chunks, new([snapChunk]childSnap))
	}
	out.chunks[cs.n/snapChunk][cs.n%snapChunk] = snapOf(c)
	return out
}

// replaced is cs with the child at index i replaced by c: its chunk and
// the chunk list are copied, the other chunks shared.
func (cs childSnaps) replaced(i int, c *child) childSnaps {
	out := childSnaps{n: cs.n, chunks: slices.Clone(cs.chunks)}
	chunk := *cs.chunks[i/snapChunk]
	chunk[i%snapChunk] = snapOf(c)
	out.chunks[i/snapChunk] = &chunk
	return out
}
