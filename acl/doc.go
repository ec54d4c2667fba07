// Package acl is steward's access control, modeled on Consul and Nomad:
// policies grant read, write or deny per resource (kv by key prefix, trees,
// processes by node, plans, snapshots, modules, deployments, sandboxes,
// node-local views, operator, acl), tokens carry policies, and a node
// checks the token of every public gRPC call (metadata x-steward-token)
// before it answers or proposes.
//
//	methods.go     MethodAccess: every public method's resource and read/write
//	resources.go   Needs: the names a request touches (key, tree, node, sandbox)
//	policy.go      the policy language (HCL or JSON) and its limits
//	authorizer.go  the decision: longest prefix, deny on equal, default policy
//	checker.go     token resolution against the node's replica, the gRPC
//	               interceptors, the token carried on forwards
//	service.go     the ACL service (bootstrap, policies, tokens), written on
//	               the leader
//
// The replicated tables live in package state (state/acl.go), the commands
// in package fsm (fsm/commands_acl.go). The package holds no replicated
// state of its own and does no I/O but the node's own gRPC; docs/SECURITY.md
// "ACLs" is the operator's view.
package acl
