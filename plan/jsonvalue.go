package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// This file is a copy of spec/jsonvalue.go (plus encode and jsonInt64); keep
// the two in step.

// jsonValue is a decoded JSON value that keeps the order of object keys, so
// that decoding can refuse unknown and duplicate keys by exact spelling
// (encoding/json matches keys case-insensitively and lets the last of two
// duplicates win) and name the path of every problem.
type jsonValue struct {
	kind jsonKind
	text string // string value, or a number's literal
	bool bool
	keys []string
	vals []*jsonValue // object values, parallel to keys; array elements
}

type jsonKind int

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// parseJSONValue decodes exactly one JSON value from data.
func parseJSONValue(data []byte) (*jsonValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJSON(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func readJSON(dec *json.Decoder, path string) (*jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, tokenErr(dec, err)
	}
	switch t := tok.(type) {
	case nil:
		return &jsonValue{kind: jsonNull}, nil
	case bool:
		return &jsonValue{kind: jsonBool, bool: t}, nil
	case json.Number:
		return &jsonValue{kind: jsonNumber, text: t.String()}, nil
	case string:
		return &jsonValue{kind: jsonString, text: t}, nil
	case json.Delim:
		switch t {
		case '[':
			v := &jsonValue{kind: jsonArray}
			for dec.More() {
				e, err := readJSON(dec, fmt.Sprintf("%s[%d]", path, len(v.vals)))
				if err != nil {
					return nil, err
				}
				v.vals = append(v.vals, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, tokenErr(dec, err)
			}
			return v, nil
		case '{':
			v := &jsonValue{kind: jsonObject}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, tokenErr(dec, err)
				}
				key, _ := kt.(string)
				if seen[key] {
					return nil, fmt.Errorf("%s: duplicate key", joinPath(path, key))
				}
				seen[key] = true
				e, err := readJSON(dec, joinPath(path, key))
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, key)
				v.vals = append(v.vals, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, tokenErr(dec, err)
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("offset %d: unexpected token %v", dec.InputOffset(), tok)
}

// jsonFields walks an object's fields, refusing unknown ones: fn is called
// for each known key in document order, problems are added for the others.
func jsonFields(ps *problems, v *jsonValue, path string, known []string, fn func(key, path string, val *jsonValue)) {
	for i, k := range v.keys {
		fp := joinPath(path, k)
		if !contains(known, k) {
			ps.add(ErrSyntax, fp, "unknown field")
			continue
		}
		if v.vals[i].kind == jsonNull {
			continue // null reads as absent
		}
		fn(k, fp, v.vals[i])
	}
}

func jsonStr(ps *problems, path string, v *jsonValue) string {
	if v.kind != jsonString {
		ps.add(ErrSyntax, path, "expected a string, got %s", v.kind)
		return ""
	}
	return v.text
}

func jsonInt64(ps *problems, path string, v *jsonValue) int64 {
	if v.kind != jsonNumber {
		ps.add(ErrSyntax, path, "expected an integer, got %s", v.kind)
		return 0
	}
	n, err := strconv.ParseInt(v.text, 10, 64)
	if err != nil {
		ps.add(ErrSyntax, path, "expected an integer, got %s", v.text)
		return 0
	}
	return n
}

func jsonInt(ps *problems, path string, v *jsonValue) int {
	if v.kind != jsonNumber {
		ps.add(ErrSyntax, path, "expected an integer, got %s", v.kind)
		return 0
	}
	n, err := strconv.ParseInt(v.text, 10, 32)
	if err != nil {
		ps.add(ErrSyntax, path, "expected an integer, got %s", v.text)
		return 0
	}
	return int(n)
}

func jsonStringMap(ps *problems, path string, v *jsonValue) map[string]string {
	if v.kind != jsonObject {
		ps.add(ErrSyntax, path, "expected an object of strings, got %s", v.kind)
		return nil
	}
	m := make(map[string]string, len(v.keys))
	for i, k := range v.keys {
		if v.vals[i].kind != jsonString {
			ps.add(ErrSyntax, joinPath(path, k), "expected a string, got %s", v.vals[i].kind)
			continue
		}
		m[k] = v.vals[i].text
	}
	return m
}

func tokenErr(dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("offset %d: %w", dec.InputOffset(), err)
}

// encode writes v back as JSON.
func (v *jsonValue) encode(b *bytes.Buffer) {
	switch v.kind {
	case jsonNull:
		b.WriteString("null")
	case jsonBool:
		b.WriteString(strconv.FormatBool(v.bool))
	case jsonNumber:
		b.WriteString(v.text)
	case jsonString:
		out, _ := json.Marshal(v.text)
		b.Write(out)
	case jsonArray:
		b.WriteByte('[')
		for i, e := range v.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			e.encode(b)
		}
		b.WriteByte(']')
	case jsonObject:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			out, _ := json.Marshal(k)
			b.Write(out)
			b.WriteByte(':')
			v.vals[i].encode(b)
		}
		b.WriteByte('}')
	}
}

func contains[T comparable](list []T, x T) bool {
	for _, e := range list {
		if e == x {
			return true
		}
	}
	return false
}
