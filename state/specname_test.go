package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// specNameJSON is specName as it was written first, with encoding/json:
// the reference every version's TreeApply must agree with.
func specNameJSON(doc []byte) (string, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(doc, &members); err != nil {
		return "", err
	}
	raw, ok := members["name"]
	if !ok {
		return "", errors.New(`no "name" member`)
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", fmt.Errorf(`"name": %v`, err)
	}
	return name, nil
}

// FuzzSpecNameAgreesWithEncodingJSON: specName accepts exactly the
// documents the encoding/json reading accepted, with the same name, so
// that replicas of different versions agree on every TREE_APPLY.
func FuzzSpecNameAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"web","children":[{"id":"a","behavior":"counter","args":{"x":"1"}}],"strategy":"one_for_one"}`,
		`{"name":"a","name":"b"}`, `{"name":"a","name":null}`, `{"name":1}`, `{"name":1,"name":"x"}`, `{"name":"x","name":1}`,
		`null`, `[]`, `"x"`, `{}`, `{"name":"a"} x`, `{"name":"a"}{}`, ` {"name" : "a" } `, `{"na\u006de":"\u00e9"}`,
		"{\"name\":\"\xff\"}", "{\"\xffname\":\"a\"}", `{"name":"a",}`, `{"name":"a"`, `{"x":[1,2,{"y":null}],"name":"n"}`,
		`{"x":1e400,"name":"n"}`, `{"x":-0.0e-5,"name":"n"}`, `{"x":01,"name":"n"}`, `{"name":"a\ud800"}`, ``, `   `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		want, wantErr := specNameJSON(doc)
		got, err := specName(doc)
		if (err == nil) != (wantErr == nil) || (err == nil && got != want) {
			t.Fatalf("%q: specName = %q, %v; encoding/json reads %q, %v", doc, got, err, want, wantErr)
		}
	})
}
