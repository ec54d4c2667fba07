// Package acl is steward's access control, modeled on Consul and Nomad:
// policies grant read, write or deny per resource (kv by key prefix, trees,
// processes by node, plans, snapshots, modules, deployments, sandboxes,
// node-local views, operator, acl), tokens carry policies, and a node
// checks the token of every public gRPC call (metadata x-steward-token)
// before it answers or proposes. It owns the method table (methods.go), the
// policy language (policy.go), the decision (authorizer.go) and the gRPC
// interceptor; the replicated tables live in package state, the commands in
// package fsm. It does no I/O of its own.
package acl
