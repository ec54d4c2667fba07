package testkit

import (
	"context"

	"github.com/steward/steward/node"
	"google.golang.org/grpc/metadata"
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
