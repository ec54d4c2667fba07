package testkit

import (
	"context"
	"time"

	"github.com/steward/steward/acl"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// WithACLs turns ACLs on, default deny, on every node (acl { enabled =
// true }); bootstrap them through the ACL service.
func WithACLs() Option {
	return WithConfig(func(c *node.Config) {
		c.ACL.Enabled = true
		c.ACL.DefaultPolicy = "deny"
	})
}

// WithToken is ctx carrying an ACL secret ID, as the CLI sends it.
func WithToken(ctx context.Context, secret string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-steward-token", secret)
}

// BootstrapACL bootstraps the ACLs of a cluster WithACLs through node i
// with a secret of the test's choosing and returns it (the management
// token's). It retries through leader changes; an answer lost after the
// bootstrap applied is told apart by the secret working.
func (c *Cluster) BootstrapACL(i int) string {
	c.t.Helper()
	secret := acl.NewUUID()
	c.Eventually(30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		aclc := pb.NewACLClient(c.Conn(i))
		_, err := aclc.Bootstrap(ctx, &pb.ACLBootstrapRequest{BootstrapSecret: secret})
		if status.Code(err) == codes.FailedPrecondition {
			if self, serr := aclc.TokenSelf(WithToken(ctx, secret), &pb.ACLTokenSelfRequest{}); serr == nil && self.GetToken().GetManagement() {
				return nil // an earlier try applied
			}
			c.t.Fatalf("ACLs were bootstrapped with another secret: %v", err)
		}
		return err
	}, "ACL bootstrap")
	return secret
}
