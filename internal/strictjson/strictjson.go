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

	"github.com/go-json-experiment/json/jsontext"
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
//
// The tokens are read with jsontext (the token layer of encoding/json/v2):
// encoding/json's Decoder.Token built an error value for each token it
// peeked at and made a tree spec of 4,000 children take 70 ms
// (BenchmarkParseLargeTree). Its leniencies are kept: duplicate keys are
// left to read's own check (which names the key's path) and invalid
// UTF-8 in a string becomes U+FFFD, as encoding/json does.
func Parse(data []byte, maxDepth int) (*Value, error) {
	if err := nesting.JSON(data, maxDepth); err != nil {
		return nil, err
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	var p path
	v, err := read(dec, &p)
	if err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// path is where read is in the document, kept as segments and spelled
// (fielderr.Join, fielderr.Index) only for an error.
type path struct{ segs []segment }

type segment struct {
	key   string
	index int // -1 for an object key
}

func (p *path) push(key string, index int) { p.segs = append(p.segs, segment{key, index}) }
func (p *path) pop()                       { p.segs = p.segs[:len(p.segs)-1] }

func (p *path) String() string {
	s := ""
	for _, seg := range p.segs {
		if seg.index >= 0 {
			s = fielderr.Index(s, seg.index)
		} else {
			s = fielderr.Join(s, seg.key)
		}
	}
	return s
}

// smallObject is how many keys an object's duplicate check scans before
// it keeps a set instead.
const smallObject = 16

func read(dec *jsontext.Decoder, p *path) (*Value, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, tokenErr(dec, err)
	}
	switch tok.Kind() {
	case 'n':
		return &Value{Kind: Null}, nil
	case 't', 'f':
		return &Value{Kind: Boolean, Bool: tok.Bool()}, nil
	case '0':
		return &Value{Kind: Number, Text: tok.String()}, nil
	case '"':
		return &Value{Kind: String, Text: tok.String()}, nil
	case '[':
		v := &Value{Kind: Array}
		for {
			if ok, err := more(dec, ']'); err != nil {
				return nil, err
			} else if !ok {
				return v, nil
			}
			p.push("", len(v.Vals))
			e, err := read(dec, p)
			p.pop()
			if err != nil {
				return nil, err
			}
			v.Vals = append(v.Vals, e)
		}
	case '{':
		v := &Value{Kind: Object}
		var seen map[string]bool
		for {
			if ok, err := more(dec, '}'); err != nil {
				return nil, err
			} else if !ok {
				return v, nil
			}
			kt, err := dec.ReadToken()
			if err != nil {
				return nil, tokenErr(dec, err)
			}
			key := kt.String()
			dup := false
			if seen == nil && len(v.Keys) < smallObject {
				dup = slices.Contains(v.Keys, key)
			} else {
				if seen == nil {
					seen = make(map[string]bool, 2*len(v.Keys))
					for _, k := range v.Keys {
						seen[k] = true
					}
				}
				dup = seen[key]
				seen[key] = true
			}
			p.push(key, -1)
			if dup {
				return nil, fmt.Errorf("%s: duplicate key", p)
			}
			e, err := read(dec, p)
			p.pop()
			if err != nil {
				return nil, err
			}
			v.Keys = append(v.Keys, key)
			v.Vals = append(v.Vals, e)
		}
	}
	return nil, fmt.Errorf("offset %d: unexpected token %v", dec.InputOffset(), tok)
}

// more reports whether a value comes next in the array or object that the
// delimiter end closes: false, having read end, at its end, and false with
// the syntax error that comes next instead of a value.
func more(dec *jsontext.Decoder, end jsontext.Kind) (bool, error) {
	switch dec.PeekKind() {
	case end:
		if _, err := dec.ReadToken(); err != nil {
			return false, tokenErr(dec, err)
		}
		return false, nil
	case 0:
		_, err := dec.ReadToken()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return false, tokenErr(dec, err)
	}
	return true, nil
}

// tokenErr says where the document broke: the byte offset and what was
// wrong, as encoding/json said it.
func tokenErr(dec *jsontext.Decoder, err error) error {
	off := dec.InputOffset()
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && se.Err != nil {
		off, err = se.ByteOffset, se.Err
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("offset %d: %w", off, err)
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
