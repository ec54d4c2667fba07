package node_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// get GETs url with the headers given and returns the status and body.
func get(t *testing.T, hc *http.Client, url string, header ...string) (int, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

type healthJSON struct {
	Node   string `json:"node"`
	Status string `json:"status"`
	Leader string `json:"leader"`
	Error  string `json:"error"`
}

func httpConfig(c *node.Config) { c.HTTPAddr = "127.0.0.1:0" }

// /v1/health/live answers 200 while the node serves; /v1/health/ready 200
// only while it knows a leader, 503 before; both JSON.
func TestHTTPHealth(t *testing.T) {
	hc := &http.Client{Timeout: 10 * time.Second}
	// A node alone, never bootstrapped: live, not ready.
	cfg := testkit.FastConfig("lonely", t.TempDir())
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Logger = testkit.Logger(t, "lonely")
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	base := "http://" + n.HTTPAddr()
	code, body, err := get(t, hc, base+"/v1/health/live")
	var h healthJSON
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &h) != nil || h.Status != "live" || h.Node != "lonely" {
		t.Fatalf("live: %d %s %v", code, body, err)
	}
	code, body, err = get(t, hc, base+"/v1/health/ready")
	h = healthJSON{}
	if err != nil || code != http.StatusServiceUnavailable || json.Unmarshal(body, &h) != nil || h.Status != "not_ready" || h.Error == "" {
		t.Fatalf("ready without a leader: %d %s %v", code, body, err)
	}
	if code, _, _ := get(t, hc, base+"/v1/nope"); code != http.StatusNotFound {
		t.Fatalf("unknown path: %d", code)
	}
	_ = n.Shutdown()
	if _, _, err := get(t, hc, base+"/v1/health/live"); err == nil {
		t.Fatal("live answered after shutdown")
	}

	// A cluster: ready on every node, naming the leader.
	c := testkit.NewCluster(t, 3, testkit.WithConfig(httpConfig))
	c.Eventually(30*time.Second, func() error {
		leader := c.Leader().Name()
		for _, m := range c.Live() {
			code, body, err := get(t, hc, "http://"+m.HTTPAddr()+"/v1/health/ready")
			if err != nil {
				return err
			}
			var h healthJSON
			if code != http.StatusOK || json.Unmarshal(body, &h) != nil || h.Status != "ready" || h.Leader != leader || h.Node != m.Name() {
				return fmt.Errorf("%s ready: %d %s (leader %s)", m.Name(), code, body, leader)
			}
		}
		return nil
	}, "ready everywhere")
}

// With TLS the listener serves HTTPS with the agent's certificate
// (verify_incoming: a client certificate required), reloaded with it.
func TestHTTPTLS(t *testing.T) {
	x := testkit.NewTLS(t, "")
	c := testkit.NewCluster(t, 1, testkit.WithTLS(x), testkit.WithConfig(httpConfig))
	c.WaitForLeader()
	n := c.Node(0)
	addr := n.HTTPAddr()
	hc := func(cfg *tls.Config) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	// Plain HTTP is told to speak HTTPS (Go's server answers 400).
	if code, body, err := get(t, hc(nil), "http://"+addr+"/v1/health/live"); err == nil && (code != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS")) {
		t.Fatalf("plain HTTP answered %d %s", code, body)
	}
	// HTTPS without a client certificate is refused in the handshake.
	noCert, err := tlsutil.ClientTLSConfig(tlsutil.CLIConfig{CAFile: x.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if code, body, err := get(t, hc(noCert), "https://"+addr+"/v1/health/live"); err == nil {
		t.Fatalf("HTTPS without a client certificate answered %d %s", code, body)
	}
	// With a CLI certificate: health and metrics.
	var served *tls.ConnectionState
	cli := x.ClientConfig(tlsutil.RoleCLI)
	cli.VerifyConnection = chainVerify(cli.VerifyConnection, &served)
	code, body, err := get(t, hc(cli), "https://"+addr+"/metrics")
	if err != nil || code != http.StatusOK || !bytes.Contains(body, []byte("steward_raft_leader 1")) {
		t.Fatalf("HTTPS /metrics: %d %v\n%.400s", code, err, body)
	}
	first := served.PeerCertificates[0].SerialNumber

	// A new certificate written over the agent's files and reloaded is
	// the one the listener serves.
	fresh := x.Issue(tlsutil.RoleServer, tlsutil.CertOptions{})
	cfg := c.Config(0).TLS
	for _, f := range [][2]string{{fresh.CertFile, cfg.CertFile}, {fresh.KeyFile, cfg.KeyFile}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	cli2 := x.ClientConfig(tlsutil.RoleCLI)
	cli2.VerifyConnection = chainVerify(cli2.VerifyConnection, &served)
	if code, body, err := get(t, hc(cli2), "https://"+addr+"/v1/health/ready"); err != nil || code != http.StatusOK {
		t.Fatalf("HTTPS ready after reload: %d %s %v", code, body, err)
	}
	if got := served.PeerCertificates[0].SerialNumber; got.Cmp(first) == 0 || got.Cmp(n.TLS().Leaf().SerialNumber) != 0 {
		t.Fatalf("after reload the listener serves serial %v (was %v, the reloaded one is %v)", got, first, n.TLS().Leaf().SerialNumber)
	}
}

// chainVerify records the connection state seen, then runs next.
func chainVerify(next func(tls.ConnectionState) error, into **tls.ConnectionState) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		*into = &cs
		if next != nil {
			return next(cs)
		}
		return nil
	}
}

// With ACLs, /metrics needs operator read (X-Steward-Token or
// Authorization: Bearer); health needs no token.
func TestHTTPACL(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithACLs(), testkit.WithConfig(httpConfig))
	c.WaitForLeader()
	hc := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + c.Node(0).HTTPAddr()
	mgmt, token := aclTokens(t, c)
	op := token("op-read", `operator = "read"`)
	kv := token("kv-read", `kv_prefix "" { policy = "read" }`)

	for _, p := range []string{"/v1/health/live", "/v1/health/ready"} {
		if code, body, err := get(t, hc, base+p); err != nil || code != http.StatusOK {
			t.Errorf("%s without a token: %d %s %v", p, code, body, err)
		}
	}
	for _, tc := range []struct {
		what   string
		header []string
		code   int
		body   string
	}{
		{"no token", nil, http.StatusForbidden, "operator read (token anonymous)"},
		{"unknown token", []string{"X-Steward-Token", "00000000-0000-0000-0000-000000000000"}, http.StatusForbidden, "matches no token"},
		{"kv-read token", []string{"X-Steward-Token", kv}, http.StatusForbidden, "operator read"},
		{"kv-read as bearer", []string{"Authorization", "Bearer " + kv}, http.StatusForbidden, "operator read"},
		{"operator read", []string{"X-Steward-Token", op}, http.StatusOK, "steward_raft_leader 1"},
		{"operator read as bearer", []string{"Authorization", "Bearer " + op}, http.StatusOK, "steward_grpc_server_handled_total"},
		{"management", []string{"X-Steward-Token", mgmt}, http.StatusOK, "steward_fsm_applied_total"},
	} {
		code, body, err := get(t, hc, base+"/metrics", tc.header...)
		if err != nil || code != tc.code || !strings.Contains(string(body), tc.body) {
			t.Errorf("/metrics, %s: %d %v, want %d with %q\n%.300s", tc.what, code, err, tc.code, tc.body, body)
		}
		if code == http.StatusForbidden {
			var e map[string]string
			if json.Unmarshal(body, &e) != nil || e["error"] == "" {
				t.Errorf("/metrics, %s: the refusal is not JSON with an error: %s", tc.what, body)
			}
		}
	}
}

// aclTokens bootstraps the ACLs of a one-node cluster started WithACLs and
// returns the management token, and a function that makes a token of one
// new policy (its name and rules).
func aclTokens(t *testing.T, c *testkit.Cluster) (mgmt string, token func(policy, rules string) string) {
	t.Helper()
	ctx := testkit.Ctx(t, 60*time.Second)
	aclc := pb.NewACLClient(c.Conn(0))
	var boot *pb.ACLTokenResponse
	c.Eventually(30*time.Second, func() error {
		var err error
		boot, err = aclc.Bootstrap(ctx, &pb.ACLBootstrapRequest{})
		if status.Code(err) == codes.FailedPrecondition {
			t.Fatalf("first bootstrap refused: %v", err)
		}
		return err
	}, "bootstrap")
	m := testkit.WithToken(ctx, boot.Token.SecretId)
	token = func(policy, rules string) string {
		var tok *pb.ACLTokenResponse
		c.Eventually(30*time.Second, func() error {
			if _, err := aclc.PolicyUpsert(m, &pb.ACLPolicyUpsertRequest{Name: policy, Rules: rules}); err != nil {
				return err
			}
			var err error
			tok, err = aclc.TokenCreate(m, &pb.ACLTokenCreateRequest{Policies: []string{policy}})
			return err
		}, "token of %s", policy)
		return tok.Token.SecretId
	}
	return boot.Token.SecretId, token
}
