package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"github.com/steward/steward/tlsutil"
	"github.com/steward/steward/ui"
)

// do sends a request with the headers given (name, value, ...) and returns
// the response, its body read unless it is an event stream.
func do(t *testing.T, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	hc := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// sse is an open live feed.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
}

// openStream GETs the live feed; the stream is closed with the test.
func openStream(t *testing.T, ctx context.Context, url string, header ...string) *sse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return &sse{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads one frame: its event name and data. Comment lines (":") and
// the retry field are checked and skipped.
func (s *sse) next(t *testing.T) (event, data string) {
	t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("read the event stream: %v (after event %q data %q)", err, event, data)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if event != "" || data != "" {
				return event, data
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "retry: "):
			if line != "retry: 2000" {
				t.Fatalf("retry field %q", line)
			}
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if data != "" {
				t.Fatalf("a frame with two data lines: %q, %q", data, line)
			}
			data = strings.TrimPrefix(line, "data: ")
			if !json.Valid([]byte(data)) {
				t.Fatalf("frame data is not JSON: %q", data)
			}
		default:
			t.Fatalf("unexpected line in the event stream: %q", line)
		}
	}
}

// TestDashboardHandlers: with ACLs on, every data endpoint and the live
// feed refuse an anonymous caller (403) and serve a token that may read;
// the token goes in X-Steward-Token, and in ?token= on the live feed
// only. Unknown files and endpoints are 404, writes 405; / redirects to
// /ui/. The live feed's framing: retry, hello, then change
// notifications and events as one-line JSON data; past MaxStreams feeds
// the next is 503.
func TestDashboardHandlers(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithACLs(),
		testkit.WithConfig(func(cfg *node.Config) { cfg.HTTPAddr = "127.0.0.1:0" }),
		testkit.WithStack(func(string) stack.Config {
			coord := coordination.DefaultConfig()
			return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &coord}
		}))
	secret := c.BootstrapACL(0)
	base := "http://" + c.Node(0).HTTPAddr()
	tok := []string{ui.TokenHeader, secret}

	t.Run("assets", func(t *testing.T) {
		resp, _ := do(t, "GET", base+"/")
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
			t.Fatalf("/: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, body := do(t, "GET", base+"/ui/")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `<script src="app.js">`) {
			t.Fatalf("/ui/: %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Fatalf("/ui/ CSP %q", csp)
		}
		for _, f := range []string{"app.js", "app.css"} {
			resp, body := do(t, "GET", base+"/ui/"+f)
			if resp.StatusCode != http.StatusOK || len(body) < 100 {
				t.Fatalf("%s: %d %d bytes", f, resp.StatusCode, len(body))
			}
			// No CDN: nothing is loaded from elsewhere.
			rest := strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "") // SVG's namespace, not an address
			if strings.Contains(rest, "http://") || strings.Contains(rest, "https://") {
				t.Fatalf("%s names a remote address", f)
			}
		}
		resp, body = do(t, "GET", base+"/ui/nope.js")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "nope.js") {
			t.Fatalf("unknown asset: %d %q", resp.StatusCode, body)
		}
		resp, body = do(t, "GET", base+"/ui/api/nope", tok...)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"error"`) {
			t.Fatalf("unknown endpoint: %d %q", resp.StatusCode, body)
		}
		if resp, _ := do(t, "POST", base+"/ui/api/members", tok...); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("POST members: %d", resp.StatusCode)
		}
	})

	t.Run("acl", func(t *testing.T) {
		for _, ep := range []string{"members", "trees", "plans", "events", "stream"} {
			resp, body := do(t, "GET", base+"/ui/api/"+ep)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "permission denied") || !strings.Contains(body, "anonymous") {
				t.Fatalf("anonymous %s: %d %q", ep, resp.StatusCode, body)
			}
		}
		// ?token= is for the live feed only.
		if resp, body := do(t, "GET", base+"/ui/api/members?token="+secret); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("members with ?token=: %d %q", resp.StatusCode, body)
		}
		resp, body := do(t, "GET", base+"/ui/api/members", tok...)
		var m struct {
			Node    string `json:"node"`
			Members struct {
				Members []struct {
					Name     string `json:"name"`
					RaftRole string `json:"raft_role"`
				} `json:"members"`
			} `json:"members"`
			Status struct {
				Leader string `json:"leader"`
			} `json:"status"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &m) != nil || m.Node != "n1" ||
			len(m.Members.Members) != 1 || m.Members.Members[0].RaftRole != "leader" || m.Status.Leader != "n1" {
			t.Fatalf("members with a token: %d %s", resp.StatusCode, body)
		}
		resp, body = do(t, "GET", base+"/ui/api/events?last=0", tok...)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "last") {
			t.Fatalf("events?last=0: %d %q", resp.StatusCode, body)
		}
		resp, body = do(t, "GET", base+"/ui/api/plans/plan-nope", tok...)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown plan: %d %q", resp.StatusCode, body)
		}
		resp, body = do(t, "GET", base+"/ui/api/stream?token=wrong-secret")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "token") {
			t.Fatalf("stream with an unknown token: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("stream", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s := openStream(t, ctx, base+"/ui/api/stream?token="+secret)
		if s.resp.StatusCode != http.StatusOK || s.resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %q", s.resp.StatusCode, s.resp.Header.Get("Content-Type"))
		}
		ev, data := s.next(t)
		var hello struct {
			Node          string `json:"node"`
			HistoryEvents int    `json:"history_events"`
		}
		if ev != "hello" || json.Unmarshal([]byte(data), &hello) != nil || hello.Node != "n1" || hello.HistoryEvents != ui.HistoryEvents {
			t.Fatalf("first frame %q %q", ev, data)
		}
		spec := `tree "feed" {
  strategy = "one_for_one"
  child "w" {
    behavior = "counter"
  }
}`
		if _, err := pb.NewSupervisionClient(c.Conn(0)).ApplyTree(testkit.WithToken(testkit.Ctx(t, 10*time.Second), secret),
			&pb.ApplyTreeRequest{Spec: []byte(spec), Filename: "feed.hcl"}); err != nil {
			t.Fatal(err)
		}
		sawChange, sawSpawn := false, false
		for !sawChange || !sawSpawn {
			ev, data := s.next(t)
			switch ev {
			case "change":
				var ch struct {
					Topics []string `json:"topics"`
				}
				if err := json.Unmarshal([]byte(data), &ch); err != nil {
					t.Fatal(err)
				}
				for _, tp := range ch.Topics {
					sawChange = sawChange || tp == "trees"
				}
			case "event":
				var e struct {
					Seq     string `json:"seq"`
					Node    string `json:"node"`
					Type    string `json:"type"`
					Tree    string `json:"tree"`
					ChildID string `json:"child_id"`
					PID     string `json:"pid"`
				}
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					t.Fatal(err)
				}
				if e.Node != "n1" || e.Seq == "" {
					t.Fatalf("event %s", data)
				}
				sawSpawn = sawSpawn || (e.Type == "spawned" && e.Tree == "feed" && e.ChildID == "w" && e.PID != "")
			default:
				t.Fatalf("frame %q %q", ev, data)
			}
		}
	})

	t.Run("limit", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for i := range ui.MaxStreams {
			s := openStream(t, ctx, base+"/ui/api/stream", tok...)
			if s.resp.StatusCode != http.StatusOK {
				t.Fatalf("stream %d: %d", i+1, s.resp.StatusCode)
			}
			if ev, _ := s.next(t); ev != "hello" {
				t.Fatalf("stream %d: first frame %q", i+1, ev)
			}
		}
		resp, body := do(t, "GET", base+"/ui/api/stream", tok...)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, fmt.Sprint(ui.MaxStreams)) {
			t.Fatalf("stream %d: %d %q", ui.MaxStreams+1, resp.StatusCode, body)
		}
	})
}

// TestDashboardTLS: under TLS the dashboard is HTTPS on the same
// listener, and its endpoints reach the agent's own gRPC services (over
// TLS too): the members view and the live feed answer with a CLI
// certificate; plain HTTP is refused.
func TestDashboardTLS(t *testing.T) {
	x := testkit.NewTLS(t, "")
	c := testkit.NewCluster(t, 1, testkit.WithTLS(x),
		testkit.WithConfig(func(cfg *node.Config) { cfg.HTTPAddr = "127.0.0.1:0" }),
		testkit.WithStack(func(string) stack.Config {
			return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig()}
		}))
	addr := c.Node(0).HTTPAddr()
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: x.ClientConfig(tlsutil.RoleCLI)}}
	resp, err := hc.Get("https://" + addr + "/ui/api/members")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"raft_role":"leader"`) {
		t.Fatalf("HTTPS members: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/ui/api/stream", nil)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := &sse{resp: resp, r: bufio.NewReader(resp.Body)}
	if ev, data := s.next(t); resp.StatusCode != http.StatusOK || ev != "hello" {
		t.Fatalf("HTTPS stream: %d %q %q", resp.StatusCode, ev, data)
	}
	plain, err := http.Get("http://" + addr + "/ui/")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP answered %d", plain.StatusCode)
		}
	}
}
