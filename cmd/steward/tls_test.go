package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steward/steward/testkit"
	"github.com/steward/steward/tlsutil"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// steward tls ca create and cert create write consul-like files: a CA and
// role certificates (ECDSA P-256) that verify against it, numbered, never
// replacing a file.
func TestTLSCACertCreate(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, "tls", "ca", "create", "--dir", dir)
	for _, f := range []string{"steward-agent-ca.pem", "steward-agent-ca-key.pem"} {
		if !strings.Contains(out, filepath.Join(dir, f)) {
			t.Errorf("output does not name %s:\n%s", f, out)
		}
	}
	ca := readCert(t, filepath.Join(dir, "steward-agent-ca.pem"))
	if !ca.IsCA {
		t.Fatal("the CA is no CA")
	}
	if fi, err := os.Stat(filepath.Join(dir, "steward-agent-ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode: %v, %v", fi, err)
	}
	if _, err := run(t, "tls", "ca", "create", "--dir", dir); err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second CA in the same dir: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	mustRun(t, "tls", "cert", "create", "--server", "--dir", dir)
	mustRun(t, "tls", "cert", "create", "--server", "--dir", dir, "--additional-dnsname", "s1.example.com", "--additional-ipaddress", "10.0.0.5")
	mustRun(t, "tls", "cert", "create", "--client", "--dir", dir, "--region", "eu", "--days", "30")
	js := decodeJSON[map[string]any](t, mustRun(t, "tls", "cert", "create", "--cli", "--dir", dir, "-o", "json"))
	hasKeys(t, "cert create -o json", js, "cert", "key", "role", "dns_names", "not_after")
	for _, tc := range []struct {
		file, role string
		names      []string
	}{
		{"global-server-steward-0.pem", "server.global.steward", []string{"localhost"}},
		{"global-server-steward-1.pem", "server.global.steward", []string{"s1.example.com"}},
		{"eu-client-steward-0.pem", "client.eu.steward", nil},
		{"global-cli-steward-0.pem", "cli.global.steward", nil},
	} {
		c := readCert(t, filepath.Join(dir, tc.file))
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: tc.role, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s does not verify as %s: %v", tc.file, tc.role, err)
		}
		for _, n := range tc.names {
			if err := c.VerifyHostname(n); err != nil {
				t.Errorf("%s: %v", tc.file, err)
			}
		}
		pub, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			t.Errorf("%s: key is not ECDSA P-256", tc.file)
		}
		if _, err := os.Stat(filepath.Join(dir, strings.TrimSuffix(tc.file, ".pem")+"-key.pem")); err != nil {
			t.Errorf("%s: no key file: %v", tc.file, err)
		}
	}
	if ip := readCert(t, filepath.Join(dir, "global-server-steward-1.pem")).IPAddresses; len(ip) < 1 || ip[0].String() != "10.0.0.5" {
		t.Errorf("additional IP: %v", ip)
	}
	if d := time.Until(readCert(t, filepath.Join(dir, "eu-client-steward-0.pem")).NotAfter); d > 31*24*time.Hour || d < 29*24*time.Hour {
		t.Errorf("--days 30: valid for %s", d)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tls", "cert", "create", "--dir", dir}, 2, "exactly one of --server, --client, --cli"},
		{[]string{"tls", "cert", "create", "--server", "--client", "--dir", dir}, 2, "exactly one of"},
		{[]string{"tls", "cert", "create", "--server", "--region", "EU!", "--dir", dir}, 2, "region"},
		{[]string{"tls", "cert", "create", "--server", "--additional-ipaddress", "nope", "--dir", dir}, 2, `"nope" is not an IP`},
		{[]string{"tls", "cert", "create", "--client", "--additional-dnsname", "server.global.steward", "--dir", dir}, 2, "is a role name"},
		{[]string{"tls", "cert", "create", "--server", "--days", "0", "--dir", dir}, 2, "days"},
		{[]string{"tls", "cert", "create", "--server", "--dir", t.TempDir()}, 1, "steward-agent-ca.pem"},
	} {
		_, err := run(t, tc.args...)
		if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("steward %s: %v (exit %d), want exit %d naming %q", strings.Join(tc.args, " "), err, exitCode(err), tc.code, tc.want)
		}
	}
}

// The CLI talks to a TLS cluster with --ca-file, --cert-file and --key-file
// or their variables; without them it is told the agent may speak TLS
// only; a file that does not load is a usage error naming it.
func TestCLIWithTLS(t *testing.T) {
	x := testkit.NewTLS(t, "")
	c := testkit.NewCluster(t, 3, testkit.WithTLS(x))
	addr := c.Followers()[0].GRPCAddr()
	f := x.Issue(tlsutil.RoleCLI, tlsutil.CertOptions{})
	flags := []string{"--addr", addr, "--ca-file", f.CAFile, "--cert-file", f.CertFile, "--key-file", f.KeyFile}
	mustRun(t, append([]string{"kv", "put", "k", "v"}, flags...)...)
	if out := mustRun(t, append([]string{"kv", "get", "k"}, flags...)...); !strings.Contains(out, "v") {
		t.Errorf("kv get: %q", out)
	}
	mustRun(t, append([]string{"status", "--tls-server-name", "server.global.steward"}, flags...)...)

	t.Setenv("STEWARD_CACERT", f.CAFile)
	t.Setenv("STEWARD_CLIENT_CERT", f.CertFile)
	t.Setenv("STEWARD_CLIENT_KEY", f.KeyFile)
	if out := mustRun(t, "kv", "get", "k", "--addr", addr); !strings.Contains(out, "v") {
		t.Errorf("kv get with the variables: %q", out)
	}
	if _, err := run(t, "status", "--addr", addr, "--tls-server-name", "client.global.steward"); err == nil || !strings.Contains(err.Error(), "TLS with the agent") {
		t.Errorf("a server checked for another name: %v", err)
	}
	t.Setenv("STEWARD_CACERT", "")
	t.Setenv("STEWARD_CLIENT_CERT", "")
	t.Setenv("STEWARD_CLIENT_KEY", "")

	_, err := run(t, "status", "--addr", addr, "--timeout", "5s")
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("plain text against a TLS agent: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope.pem")
	_, err = run(t, "status", "--addr", addr, "--ca-file", missing)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing CA file: %v", err)
	}
	_, err = run(t, "status", "--addr", addr, "--ca-file", f.CAFile, "--cert-file", f.CertFile)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "give both or neither") {
		t.Errorf("a cert without its key: %v", err)
	}
}

// The dev agent says security is off in its start-up lines.
func TestAgentDevSaysSecurityOff(t *testing.T) {
	out := runDevAgent(t, append([]string{"--dev"}, freePorts...)...)
	if !strings.Contains(out, "security: off (TLS, gossip encryption and ACLs disabled") {
		t.Errorf("no security line:\n%s", out)
	}
	// Told otherwise, it says what is on.
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	out = runDevAgent(t, append([]string{"--dev", "--encrypt", key}, freePorts...)...)
	if !strings.Contains(out, "security: TLS off, gossip encryption on, ACLs off") {
		t.Errorf("no security line saying gossip encryption is on:\n%s", out)
	}
}

// A server agent with TLS reloads its certificates on SIGHUP: after its
// files are replaced by ones of a new CA and the signal is sent, new
// connections need the new CA; the agent keeps running.
func TestAgentTLSReloadOnSIGHUP(t *testing.T) {
	x := testkit.NewTLS(t, "")
	agent := x.Agent(tlsutil.RoleServer)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	args := append([]string{"agent", "--server", "--name", "s1", "--data-dir", dir, "--bootstrap-expect", "1",
		"--ca-file", agent.CAFile, "--cert-file", agent.CertFile, "--key-file", agent.KeyFile,
		"--verify-incoming", "--verify-outgoing", "--verify-server-hostname"}, freePorts...)
	done := startCmd(ctx, out, args...)
	grpcRE := regexp.MustCompile(`grpc:\s+(\S+)`)
	var addr string
	testkit.Eventually(t, 30*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("agent stopped: %v\n%s", err, out)
		default:
		}
		m := grpcRE.FindStringSubmatch(out.String())
		if m == nil {
			return errors.New("no start-up lines yet")
		}
		addr = m[1]
		return nil
	}, "the agent's start-up lines")
	status := func(f tlsutil.CLIConfig) error {
		_, err := run(t, "status", "--addr", addr, "--timeout", "5s", "--ca-file", f.CAFile, "--cert-file", f.CertFile, "--key-file", f.KeyFile)
		return err
	}
	oldCLI := x.Issue(tlsutil.RoleCLI, tlsutil.CertOptions{})
	testkit.Eventually(t, 20*time.Second, func() error { return status(oldCLI) }, "status with the first CA")

	y := testkit.NewTLS(t, "")
	fresh := y.Agent(tlsutil.RoleServer)
	for _, p := range [][2]string{{fresh.CAFile, agent.CAFile}, {fresh.CertFile, agent.CertFile}, {fresh.KeyFile, agent.KeyFile}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newCLI := y.Issue(tlsutil.RoleCLI, tlsutil.CertOptions{})
	if err := status(newCLI); err == nil {
		t.Fatal("the new CA works before the reload")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if !strings.Contains(out.String(), "TLS certificates reloaded") {
			return errors.New("no reload logged yet")
		}
		return status(newCLI)
	}, "status with the new CA after SIGHUP")
	if err := status(oldCLI); err == nil {
		t.Error("the old CA still works after the reload")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not stop\n%s", out)
	}
}
