package snapshot

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func gz(t *testing.T, js string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(js))
	zw.Close()
	return b.Bytes()
}

// A part without a version (format 1) is read as such, one of format 2
// too (no spawn args); one of a newer format than this binary's is
// refused, named; a captured part carries PartVersion (instance and spawn
// args round trip).
func TestPartVersions(t *testing.T) {
	p, err := DecodePart(gz(t, `{"node":"n1","trees":[{"name":"p","children":[{"path":"pool/w-1","dynamic":true,"pid":"n1/4"}]}],"processes":[{"pid":"n1/4","queue":[{"kind":"cast","body":"aQ=="}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 0 || p.Trees[0].Children[0].Args != nil || string(p.Processes[0].Queue[0].Body) != "i" {
		t.Fatalf("format 1 part read as %+v", p)
	}
	p, err = DecodePart(gz(t, `{"version":2,"node":"n1","processes":[{"pid":"n1/4","behavior":"echo"}]}`))
	if err != nil || p.Version != 2 || p.Processes[0].Args != nil {
		t.Fatalf("format 2 part read as %+v (%v)", p, err)
	}
	_, err = DecodePart(gz(t, `{"version":4,"node":"n1"}`))
	if err == nil || !strings.Contains(err.Error(), "format version 4, this binary reads up to 3") {
		t.Fatalf("a newer part: %v", err)
	}
	stored, _, err := encodePart(&Part{Version: PartVersion, Node: "n1", Trees: []Tree{{Name: "p", Children: []Child{{Path: "pool/w-1", Dynamic: true, Args: map[string]string{"start": "10"}}}}},
		Processes: []Process{{PID: "n1/9", Behavior: "counter", Args: map[string]string{"start": "3"}}}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodePart(stored)
	if err != nil || back.Version != PartVersion || back.Trees[0].Children[0].Args["start"] != "10" || back.Processes[0].Args["start"] != "3" {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

// Queued messages a restore cannot send again say why.
func TestUnsendable(t *testing.T) {
	for _, c := range []struct {
		m    Message
		want string
	}{
		{Message{Kind: "info", Body: []byte("x")}, ""},
		{Message{Kind: "cast", Body: []byte("x")}, ""},
		{Message{Kind: "call", Body: []byte("x")}, "a call"},
		{Message{Kind: "DOWN", Body: []byte("x")}, "monitor notification"},
		{Message{Kind: "info", Omitted: true, Size: 1 << 20}, "body was not captured"},
		{Message{Kind: "info"}, "empty"},
		{Message{Kind: "info", Body: []byte{0xff}}, "UTF-8"},
	} {
		if got := unsendable(c.m); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.m, got, c.want)
		}
	}
}
