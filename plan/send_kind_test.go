package plan

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// send_message's kind: info (the default) or cast, from JSON and HCL;
// anything else is refused at the field.
func TestSendMessageKind(t *testing.T) {
	for _, file := range []struct{ name, body, want string }{
		{"p.json", `{"operations":[{"id":"a","type":"send_message","node":"n1","target":{"name":"x"},"params":{"message":"m","kind":"cast"}}]}`, "cast"},
		{"p.json", `{"operations":[{"id":"a","type":"send_message","node":"n1","target":{"name":"x"},"params":{"message":"m"}}]}`, ""},
		{"p.hcl", "operation \"a\" {\n type = \"send_message\"\n node = \"n1\"\n target {\n name = \"x\"\n }\n params {\n message = \"m\"\n kind = \"cast\"\n }\n}\n", "cast"},
	} {
		p, err := Parse([]byte(file.body), file.name)
		if err == nil {
			err = Validate(p, Options{Now: time.Unix(0, 0)})
		}
		if err != nil {
			t.Fatalf("%s: %v", file.body, err)
		}
		if got := p.Operations[0].Params.Kind; got != file.want {
			t.Fatalf("%s: kind %q, want %q", file.body, got, file.want)
		}
	}
	for _, b := range []struct{ file, want string }{
		{`{"operations":[{"id":"a","type":"send_message","node":"n1","target":{"name":"x"},"params":{"message":"m","kind":"call"}}]}`, `operations[0].params.kind: "call" is not info or cast`},
		{`{"operations":[{"id":"a","type":"kill_process","node":"n1","target":{"name":"x"},"params":{"kind":"cast"}}]}`, "operations[0].params.kind: not used by kill_process"},
	} {
		p, err := Parse([]byte(b.file), "p.json")
		if err == nil {
			err = Validate(p, Options{Now: time.Unix(0, 0)})
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%.80s: %v, want %q", b.file, err, b.want)
		}
	}
}
