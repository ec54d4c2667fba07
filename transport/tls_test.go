package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// asPeer is a call context whose caller presented cert, verified.
func asPeer(cert *x509.Certificate) context.Context {
	info := credentials.TLSInfo{}
	if cert != nil {
		info.State = tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}
	}
	return peer.NewContext(context.Background(), &peer.Peer{AuthInfo: info})
}

func TestRoleCheck(t *testing.T) {
	ca, err := tlsutil.GenerateCA(tlsutil.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(r tlsutil.Role, region string, extra ...string) *x509.Certificate {
		c, err := ca.Issue(tlsutil.CertOptions{Role: r, Region: region, DNSNames: extra})
		if err != nil {
			t.Fatal(err)
		}
		return c.Cert
	}
	server, client, cli := issue(tlsutil.RoleServer, ""), issue(tlsutil.RoleClient, ""), issue(tlsutil.RoleCLI, "")
	foreignRegion := issue(tlsutil.RoleServer, "eu")
	noRole := func() *x509.Certificate { c := *cli; c.DNSNames = []string{"example.com"}; return &c }()
	rc := RoleCheck{Region: "global"}
	propose := func(ct pb.CommandType) any { return &pb.ProposeRequest{Type: ct} }
	const (
		facts   = "/steward.v1.Internal/Facts"
		prop    = "/steward.v1.Internal/Propose"
		work    = "/steward.v1.Internal/Work"
		kvPut   = "/steward.v1.KV/Put"
		healthz = "/grpc.health.v1.Health/Check"
	)
	for _, tc := range []struct {
		name   string
		cert   *x509.Certificate
		noTLS  bool
		method string
		req    any
		want   []string // empty: allowed
	}{
		{"server facts", server, false, facts, nil, nil},
		{"server propose kv", server, false, prop, propose(pb.CommandType_COMMAND_TYPE_KV_PUT), nil},
		{"client facts", client, false, facts, nil, []string{"role client", "steward.v1.Internal/Facts"}},
		{"client work", client, false, work, nil, nil},
		{"client propose report", client, false, prop, propose(pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT), nil},
		{"client propose snapshot part", client, false, prop, propose(pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART), nil},
		{"client propose kv", client, false, prop, propose(pb.CommandType_COMMAND_TYPE_KV_PUT), []string{"role client", "COMMAND_TYPE_KV_PUT"}},
		{"client propose acl", client, false, prop, propose(pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT), []string{"COMMAND_TYPE_ACL_TOKEN_UPSERT"}},
		{"cli work", cli, false, work, nil, []string{"role cli", "steward.v1.Internal/Work"}},
		{"cli kv", cli, false, kvPut, nil, nil},
		{"client kv", client, false, kvPut, nil, nil},
		{"no certificate internal", nil, false, facts, nil, []string{"no certificate signed by the CA", "Internal/Facts"}},
		{"no certificate kv", nil, false, kvPut, nil, nil},
		{"no TLS internal", nil, true, prop, propose(pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT), []string{"no certificate"}},
		{"other region", foreignRegion, false, facts, nil, []string{"region eu", "region global"}},
		{"other region kv", foreignRegion, false, kvPut, nil, []string{"region eu"}},
		{"no role", noRole, false, kvPut, nil, []string{"names no role"}},
		{"health without a certificate", nil, true, healthz, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := asPeer(tc.cert)
			if tc.noTLS {
				ctx = context.Background()
			}
			called := false
			_, err := rc.Unary()(ctx, tc.req, &grpc.UnaryServerInfo{FullMethod: tc.method}, func(context.Context, any) (any, error) {
				called = true
				return nil, nil
			})
			if len(tc.want) == 0 {
				if err != nil || !called {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if called || status.Code(err) != codes.PermissionDenied {
				t.Fatalf("got %v (handler called: %v), want PermissionDenied", err, called)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not name %q", err, w)
				}
			}
		})
	}
	// The stream interceptor checks by method.
	err = rc.Stream()(nil, fakeStream{ctx: asPeer(cli)}, &grpc.StreamServerInfo{FullMethod: work}, func(any, grpc.ServerStream) error { return nil })
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("cli Work stream: %v", err)
	}
	if err := rc.Stream()(nil, fakeStream{ctx: asPeer(client)}, &grpc.StreamServerInfo{FullMethod: work}, func(any, grpc.ServerStream) error { return nil }); err != nil {
		t.Errorf("client Work stream: %v", err)
	}
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f fakeStream) Context() context.Context { return f.ctx }
