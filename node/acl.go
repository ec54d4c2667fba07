package node

import (
	"github.com/steward/steward/acl"
	"github.com/steward/steward/state"
	"google.golang.org/grpc"
)

// ACLConfig is the acl block: tokens checked on every public gRPC call
// (package acl, docs/SECURITY.md "ACLs").
type ACLConfig struct {
	// Enabled turns the checks on (Consul's acl.enabled; --acl-enabled).
	Enabled bool
	// DefaultPolicy is what no rule covers: "deny" (the default) or
	// "allow" (to migrate a running cluster: tokens and policies are
	// created first, then every agent restarted with deny).
	DefaultPolicy string
}

// Validate checks the block; errors name acl.default_policy.
func (c ACLConfig) Validate() error {
	if err := acl.ValidateDefaultPolicy(c.DefaultPolicy); err != nil {
		return err
	}
	return nil
}

// aclSource is what the node's ACL checker reads.
type aclSource struct{ n *Node }

func (s aclSource) LocalNode() string { return s.n.cfg.Name }

func (s aclSource) TreeNode(tree string) string {
	if tree == "" {
		return ""
	}
	rec, err := s.n.State().Tree(tree)
	if err != nil || rec == nil {
		return ""
	}
	return rec.Node
}

func (s aclSource) State() *state.Store { return s.n.State() }

func (s aclSource) IsLeader() bool { return s.n.IsLeader() }

// setupACL builds the token checker when ACLs are on.
func (n *Node) setupACL() error {
	if !n.cfg.ACL.Enabled {
		return nil
	}
	c, err := acl.NewChecker(aclSource{n}, acl.CheckerConfig{DefaultPolicy: n.cfg.ACL.DefaultPolicy, Logger: n.logger, Now: n.cfg.Clock.Now})
	if err != nil {
		return err
	}
	n.acl = c
	return nil
}

// aclServerOptions are the ACL check, innermost of the interceptors
// (after audit and the TLS role check).
func (n *Node) aclServerOptions() []grpc.ServerOption {
	if n.acl == nil {
		return nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(n.acl.UnaryInterceptor),
		grpc.ChainStreamInterceptor(n.acl.StreamInterceptor),
	}
}

// aclDialOptions make the calls a node makes while serving a caller (a
// forward to the leader, to a process's node) carry the caller's token.
func aclDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(acl.ForwardTokenUnary),
		grpc.WithChainStreamInterceptor(acl.ForwardTokenStream),
	}
}

// registerACL registers the ACL service (refusing every call with ACLs
// off).
func (n *Node) registerACL() {
	acl.RegisterService(n.server, n.cfg.ACL.Enabled, n.cfg.Clock.Now)
}
