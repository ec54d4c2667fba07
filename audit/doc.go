// Package audit is the audit log (issue 12): every write a node accepts
// from a caller, appended as one JSON line to a local file, rotated by
// size, and read back by the Audit service (`steward audit`).
//
// What is a write is acl.MethodAccess's table (a method whose access is
// write). The entry says who (the token accessor the ACL interceptor
// resolved and the subject of the caller's verified certificate), what
// (the gRPC method, its ACL resource, and the names the request gives by
// field: key, name, tree, node, id, ...; never a value, a spec, a file or
// a secret), when, the result (ok, or the gRPC code and message), the
// caller's address and the node's name. Only the node that accepted the
// call writes it: a call forwarded by another node (metadata
// steward-forward-hops > 0: to the leader, or a keyring fan-out) is not
// written again.
//
// The interceptors (UnaryInterceptor, StreamInterceptor) are the outermost
// of the gRPC server, so that a call refused by the TLS role check or the
// ACL check is written with its code. Reads are not written.
//
// Failure policy (docs/SECURITY.md "Audit log"): fail-closed, as Nomad's
// audit log. Each entry is written and fsynced before the call's response
// leaves. When a write or fsync fails, the error is logged, counted
// (Stats, the Audit service), and the log is marked failed: from then on
// every write call is refused with Unavailable before it runs, and each
// refusal tries to reopen the file, so the log resumes as soon as the
// file can be written again. The call whose entry failed has already run
// and keeps its result (failing it would tell the caller a write did not
// happen when it did).
//
// This package does not decide what a caller may do (package acl) and
// holds no cluster state: it writes and reads files of the node it runs
// on.
package audit
