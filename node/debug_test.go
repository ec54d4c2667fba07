package node_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/node"
	"github.com/steward/steward/testkit"
	"google.golang.org/protobuf/encoding/protowire"
)

func debugConfig(c *node.Config) { c.HTTPAddr = "127.0.0.1:0"; c.EnableDebug = true }

// Without enable_debug the HTTP listener serves no /debug/pprof/ path.
func TestDebugOffByDefault(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithConfig(httpConfig))
	c.WaitForLeader()
	hc := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + c.Node(0).HTTPAddr()
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/profile?seconds=1", "/debug/pprof/heap"} {
		if code, body, err := get(t, hc, base+p); err != nil || code != http.StatusNotFound {
			t.Errorf("%s with enable_debug off: %d %v, want 404\n%.200s", p, code, err, body)
		}
	}
	// The listener itself serves.
	if code, _, err := get(t, hc, base+"/v1/health/live"); err != nil || code != http.StatusOK {
		t.Fatalf("/v1/health/live: %d %v", code, err)
	}
}

// With enable_debug the index lists the profiles and a one-second CPU
// profile is a gzipped pprof protobuf with sample types and samples.
func TestDebugServesPprof(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithConfig(debugConfig))
	c.WaitForLeader()
	hc := &http.Client{Timeout: 30 * time.Second}
	base := "http://" + c.Node(0).HTTPAddr()
	code, body, err := get(t, hc, base+"/debug/pprof/")
	if err != nil || code != http.StatusOK || !strings.Contains(string(body), "goroutine") || !strings.Contains(string(body), "profile") {
		t.Fatalf("/debug/pprof/: %d %v\n%.300s", code, err, body)
	}
	code, body, err = get(t, hc, base+"/debug/pprof/goroutine?debug=1")
	if err != nil || code != http.StatusOK || !strings.Contains(string(body), "goroutine profile: total") {
		t.Fatalf("/debug/pprof/goroutine?debug=1: %d %v\n%.300s", code, err, body)
	}
	code, body, err = get(t, hc, base+"/debug/pprof/profile?seconds=1")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/debug/pprof/profile: %d %v\n%.300s", code, err, body)
	}
	fields, err := pprofFields(body)
	if err != nil {
		t.Fatalf("/debug/pprof/profile: not a pprof profile: %v", err)
	}
	// profile.proto: 1 sample_type, 4 location, 5 function, 6
	// string_table, 10 duration_nanos. A CPU profile names its sample
	// types (samples, cpu) in the string table and runs for the
	// second asked.
	for _, f := range []protowire.Number{1, 6, 10} {
		if fields[f] == 0 {
			t.Errorf("profile has no field %d (fields %v)", f, fields)
		}
	}
}

// pprofFields gunzips a pprof profile and counts its top-level protobuf
// fields by number, failing on anything that is not a well-formed
// message.
func pprofFields(b []byte) (map[protowire.Number]int, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	fields := map[protowire.Number]int{}
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		raw = raw[n:]
		m := protowire.ConsumeFieldValue(num, typ, raw)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		raw = raw[m:]
		fields[num]++
	}
	return fields, nil
}

// With ACLs on, /debug/pprof/ needs an operator token, as /metrics does.
func TestDebugACL(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithACLs(), testkit.WithConfig(debugConfig))
	c.WaitForLeader()
	hc := &http.Client{Timeout: 30 * time.Second}
	base := "http://" + c.Node(0).HTTPAddr()
	mgmt, token := aclTokens(t, c)
	kv := token("kv-read", `kv_prefix "" { policy = "read" }`)
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/profile?seconds=1", "/debug/pprof/heap"} {
		for _, tc := range []struct {
			what   string
			header []string
		}{
			{"no token", nil},
			{"kv-read token", []string{"X-Steward-Token", kv}},
		} {
			code, body, err := get(t, hc, base+p, tc.header...)
			if err != nil || code != http.StatusForbidden || !strings.Contains(string(body), "operator") {
				t.Errorf("%s, %s: %d %v, want 403 naming operator\n%.200s", p, tc.what, code, err, body)
			}
		}
	}
	code, body, err := get(t, hc, base+"/debug/pprof/cmdline", "X-Steward-Token", mgmt)
	if err != nil || code != http.StatusOK || len(body) == 0 {
		t.Errorf("/debug/pprof/cmdline with the management token: %d %v", code, err)
	}
	code, body, err = get(t, hc, base+"/debug/pprof/profile?seconds=1", "Authorization", "Bearer "+mgmt)
	if err != nil || code != http.StatusOK {
		t.Fatalf("/debug/pprof/profile with the management token: %d %v", code, err)
	}
	if _, err := pprofFields(body); err != nil {
		t.Errorf("/debug/pprof/profile with the management token: not a pprof profile: %v", err)
	}
}
