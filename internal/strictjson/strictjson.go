// Package strictjson decodes JSON documents strictly, for the file formats
// operators write (tree specs, plans): object keys keep their order and
// exact spelling, so that a decoder can refuse unknown and duplicate keys
// (encoding/json matches keys case-insensitively and lets the last of two
// duplicates win) and name the path of every problem. Fields, Str, Int,
// Int64 and StringMap read a decoded Value into Go values, reporting each
// problem at its path to the fielderr.Reporter they are given.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/internal/nesting"
)

// Value is a decoded JSON value.
type Value struct {
	Kind Kind
	Text string // a string's value, or a number's literal
	Bool bool
	Keys []string
	Vals []*Value // object values, parallel to Keys; array elements
}

// Kind is a JSON value's type.
type Kind int

const (
	Null Kind = iota
	Boolean
	Number
	String
	Array
	Object
)

func (k Kind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// Parse decodes exactly one JSON value from data, refusing first (before
// any recursive decoding) a document that opens more than maxDepth brackets
// at once.
func Parse(data []byte, maxDepth int) (*Value, error) {
	if err := nesting.JSON(data, maxDepth); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := read(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func read(dec *json.Decoder, path string) (*Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, tokenErr(dec, err)
	}
	switch t := tok.(type) {
	case nil:
		return &Value{Kind: Null}, nil
	case bool:
		return &Value{Kind: Boolean, Bool: t}, nil
	case json.Number:
		return &Value{Kind: Number, Text: t.String()}, nil
	case string:
		return &Value{Kind: String, Text: t}, nil
	case json.Delim:
		switch t {
		case '[':
			v := &Value{Kind: Array}
			for dec.More() {
				e, err := read(dec, fielderr.Index(path, len(v.Vals)))
				if err != nil {
					return nil, err
				}
				v.Vals = append(v.Vals, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, tokenErr(dec, err)
			}
			return v, nil
		case '{':
			v := &Value{Kind: Object}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, tokenErr(dec, err)
				}
				key, _ := kt.(string)
				if seen[key] {
					return nil, fmt.Errorf("%s: duplicate key", fielderr.Join(path, key))
				}
				seen[key] = true
				e, err := read(dec, fielderr.Join(path, key))
				if err != nil {
					return nil, err
				}
				v.Keys = append(v.Keys, key)
				v.Vals = append(v.Vals, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, tokenErr(dec, err)
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("offset %d: unexpected token %v", dec.InputOffset(), tok)
}

func tokenErr(dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("offset %d: %w", dec.InputOffset(), err)
}

// Fields walks an object's fields, refusing unknown ones: fn is called for
// each known key in document order; an unknown key is reported; a null
// value reads as absent.
func Fields(r fielderr.Reporter, v *Value, path string, known []string, fn func(key, path string, val *Value)) {
	for i, k := range v.Keys {
		fp := fielderr.Join(path, k)
		if !slices.Contains(known, k) {
			r.Report(fp, "unknown field")
			continue
		}
		if v.Vals[i].Kind == Null {
			continue
		}
		fn(k, fp, v.Vals[i])
	}
}

// Str reads a string.
func Str(r fielderr.Reporter, path string, v *Value) string {
	if v.Kind != String {
		r.Report(path, "expected a string, got %s", v.Kind)
		return ""
	}
	return v.Text
}

// Int reads an integer in the 32-bit range.
func Int(r fielderr.Reporter, path string, v *Value) int {
	n := Int64(r, path, v)
	if n < math.MinInt32 || n > math.MaxInt32 {
		r.Report(path, "expected an integer, got %s", v.Text)
		return 0
	}
	return int(n)
}

// Int64 reads a 64-bit integer.
func Int64(r fielderr.Reporter, path string, v *Value) int64 {
	if v.Kind != Number {
		r.Report(path, "expected an integer, got %s", v.Kind)
		return 0
	}
	n, err := strconv.ParseInt(v.Text, 10, 64)
	if err != nil {
		r.Report(path, "expected an integer, got %s", v.Text)
		return 0
	}
	return n
}

// StringMap reads an object of strings.
func StringMap(r fielderr.Reporter, path string, v *Value) map[string]string {
	if v.Kind != Object {
		r.Report(path, "expected an object of strings, got %s", v.Kind)
		return nil
	}
	m := make(map[string]string, len(v.Keys))
	for i, k := range v.Keys {
		if v.Vals[i].Kind != String {
			r.Report(fielderr.Join(path, k), "expected a string, got %s", v.Vals[i].Kind)
			continue
		}
		m[k] = v.Vals[i].Text
	}
	return m
}

// Encode writes v back as JSON.
func (v *Value) Encode(b *bytes.Buffer) {
	switch v.Kind {
	case Null:
		b.WriteString("null")
	case Boolean:
		b.WriteString(strconv.FormatBool(v.Bool))
	case Number:
		b.WriteString(v.Text)
	case String:
		out, _ := json.Marshal(v.Text)
		b.Write(out)
	case Array:
		b.WriteByte('[')
		for i, e := range v.Vals {
			if i > 0 {
				b.WriteByte(',')
			}
			e.Encode(b)
		}
		b.WriteByte(']')
	case Object:
		b.WriteByte('{')
		for i, k := range v.Keys {
			if i > 0 {
				b.WriteByte(',')
			}
			out, _ := json.Marshal(k)
			b.Write(out)
			b.WriteByte(':')
			v.Vals[i].Encode(b)
		}
		b.WriteByte('}')
	}
}
