package spec

import (
	"bytes"
	"encoding/json"
)

// Canonical returns the canonical encoding of a child spec: the JSON of its
// normalized deep copy, fields in declaration order and args keys sorted. Two
// child specs have the same canonical encoding exactly when they mean the
// same thing after Normalize, so the bytes can be compared or hashed to tell
// whether a child changed. c itself is not modified.
func Canonical(c ChildSpec) []byte {
	n := c.Clone()
	NormalizeChild(&n)
	return mustJSON(n)
}

// CanonicalTree is Canonical for a whole tree.
func CanonicalTree(t *Tree) []byte {
	if t == nil {
		return []byte("null")
	}
	n := t.Clone()
	Normalize(n)
	return mustJSON(n)
}

// Equal reports whether two child specs are the same after Normalize,
// including their whole subtrees.
func Equal(a, b ChildSpec) bool {
	return bytes.Equal(Canonical(a), Canonical(b))
}

// EqualShallow is Equal ignoring the children of supervisor children: it
// tells whether the child itself (its type, behavior, args, name, restart,
// shutdown, strategy and intensity) changed, so a reconciler can recurse
// into an unchanged supervisor instead of restarting it.
func EqualShallow(a, b ChildSpec) bool {
	a = a.Clone()
	b = b.Clone()
	a.Children, b.Children = nil, nil
	return Equal(a, b)
}

func mustJSON(v any) []byte {
	// Marshalling these plain structs of strings, ints, slices and string
	// maps cannot fail.
	out, err := json.Marshal(v)
	if err != nil {
		panic("spec: canonical encoding: " + err.Error())
	}
	return out
}
