// Package tlsutil owns steward's TLS: the agent's CA pool and key pair
// loaded from files with errors that name the file and what is wrong, the
// *tls.Config of each connection kind (the gRPC server, node-to-node gRPC
// dials, the Raft stream layer, the CLI), all TLS 1.3, a reload that swaps
// the certificates for new connections without a restart, the certificate
// roles (server.<region>.steward, client.<region>.steward,
// cli.<region>.steward as DNS SANs, as Nomad names them) and the identity of
// a gRPC caller, and the generation of a CA and of role certificates
// (ECDSA P-256) for `steward tls`.
//
// It does not decide which role may call what: transport's role
// interceptor does, with PeerIdentity. It holds no cluster state.
package tlsutil
