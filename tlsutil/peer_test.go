package tlsutil

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// serveHealth serves the gRPC health service with creds and records the
// identity of each caller.
func serveHealth(t *testing.T, creds credentials.TransportCredentials) (string, <-chan Identity) {
	t.Helper()
	ids := make(chan Identity, 4)
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		id, ok := PeerIdentity(ctx)
		if !ok {
			id = Identity{Subject: "<none>"}
		}
		if RoleOf(ctx) != id.Role {
			t.Errorf("RoleOf %q, PeerIdentity %q", RoleOf(ctx), id.Role)
		}
		ids <- id
		return h(ctx, req)
	})}
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	s := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s, health.NewServer())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return l.Addr().String(), ids
}

func check(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// PeerIdentity gives the role, region and subject of a caller's verified
// certificate, and nothing for a caller without one or without TLS.
func TestPeerIdentity(t *testing.T) {
	ca := newCA(t)
	srvCfg := files(t, t.TempDir(), ca, RoleServer, CertOptions{Region: "eu"})
	srvCfg.Region = "eu"
	srv := configurator(t, srvCfg)
	addr, ids := serveHealth(t, credentials.NewTLS(srv.IncomingRPCConfig()))

	cliFiles := files(t, t.TempDir(), ca, RoleCLI, CertOptions{Region: "eu"})
	cfg, err := ClientTLSConfig(CLIConfig{CAFile: cliFiles.CAFile, CertFile: cliFiles.CertFile, KeyFile: cliFiles.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := check(t, addr, credentials.NewTLS(cfg)); err != nil {
		t.Fatal(err)
	}
	if id := <-ids; id.Role != RoleCLI || id.Region != "eu" || id.Subject != "CN=cli.eu.steward,O=steward" {
		t.Errorf("identity %+v", id)
	}
	// No certificate (the server does not require one here).
	anon, err := ClientTLSConfig(CLIConfig{CAFile: cliFiles.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := check(t, addr, credentials.NewTLS(anon)); err != nil {
		t.Fatal(err)
	}
	if id := <-ids; id.Subject != "<none>" || id.Role != "" {
		t.Errorf("a caller without a certificate: %+v", id)
	}
	// Without TLS at all.
	plain, plainIDs := serveHealth(t, nil)
	if err := check(t, plain, insecure.NewCredentials()); err != nil {
		t.Fatal(err)
	}
	if id := <-plainIDs; id.Subject != "<none>" {
		t.Errorf("a plain-text caller: %+v", id)
	}
}

func TestParseRoleName(t *testing.T) {
	for name, want := range map[string]Role{
		"server.global.steward": RoleServer, "client.eu-1.steward": RoleClient, "cli.x.steward": RoleCLI,
		"admin.global.steward": "", "server.global.consul": "", "server.steward": "", "server.Global.steward": "", "localhost": "",
	} {
		r, _, ok := ParseRoleName(name)
		if r != want || ok != (want != "") {
			t.Errorf("ParseRoleName(%q) = %q, %v", name, r, ok)
		}
	}
}
