package strictjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/steward/steward/internal/fuzzseed"
)

// FuzzParseAgreesWithEncodingJSON: Parse accepts exactly the documents
// encoding/json accepts (one value, whitespace around it), except those
// with a duplicate key, which it refuses, and decodes them to the same
// values; its token reader changed from encoding/json's to jsontext's, and
// what operators' files mean must not change with it.
func FuzzParseAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"w","children":[{"id":"a","behavior":"counter","args":{"k":"v"}}]}`,
		`[1, -2.5e3, 0, true, false, null, "x\u00e9\n", {}]`,
		`{"a":{"b":[[],[{}]]}}`, `"\ud800"`, "\"a\xffb\"", `  7  `, `{"a":1,"a":2}`,
		`{"a":1} {}`, `{"a" 1}`, `[1,]`, `{"a":01}`, ``, `nul`, `{"A":1,"a":2}`, `1e400`,
	} {
		fuzzseed.Add(f, []byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data, 64)
		if err != nil && strings.Contains(err.Error(), "nested deeper") {
			return
		}
		valid := json.Valid(data)
		if err != nil {
			if valid && !strings.Contains(err.Error(), "duplicate key") {
				t.Fatalf("refused what encoding/json accepts: %v", err)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted what encoding/json refuses: %q", data)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if got := toAny(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %#v, encoding/json %#v", got, want)
		}
	})
}

func toAny(v *Value) any {
	switch v.Kind {
	case Boolean:
		return v.Bool
	case Number:
		return json.Number(v.Text)
	case String:
		return v.Text
	case Array:
		out := make([]any, len(v.Vals))
		for i, e := range v.Vals {
			out[i] = toAny(e)
		}
		return out
	case Object:
		out := make(map[string]any, len(v.Keys))
		for i, k := range v.Keys {
			out[k] = toAny(v.Vals[i])
		}
		return out
	}
	return nil
}
