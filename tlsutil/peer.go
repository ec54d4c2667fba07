package tlsutil

import (
	"context"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Identity is who a gRPC caller is, by its verified certificate.
type Identity struct {
	// Role is the role the certificate names ("" for none, or for a
	// certificate naming more than one).
	Role Role
	// Region is the region of the role name.
	Region string
	// Subject is the certificate's subject (RFC 2253 form, as
	// x509.Name.String gives it), for the audit log.
	Subject string
}

// PeerIdentity is the identity of the caller of a gRPC call: ok is false
// when the call came without TLS or without a certificate verified against
// the CA (only verified chains count).
func PeerIdentity(ctx context.Context) (Identity, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return Identity{}, false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return Identity{}, false
	}
	leaf := info.State.VerifiedChains[0][0]
	id := Identity{Subject: leaf.Subject.String()}
	for _, name := range leaf.DNSNames {
		r, region, ok := ParseRoleName(name)
		if !ok {
			continue
		}
		if id.Role != "" && (id.Role != r || id.Region != region) {
			// Two roles: none.
			return Identity{Subject: id.Subject}, true
		}
		id.Role, id.Region = r, region
	}
	return id, true
}

// RoleOf is the role of a gRPC caller's verified certificate ("" for none).
func RoleOf(ctx context.Context) Role {
	id, _ := PeerIdentity(ctx)
	return id.Role
}

// ParseRoleName splits a role name <role>.<region>.steward.
func ParseRoleName(name string) (Role, string, bool) {
	parts := strings.Split(name, ".")
	if len(parts) != 3 || parts[2] != Domain {
		return "", "", false
	}
	r := Role(parts[0])
	if !r.Valid() || CheckRegion(parts[1]) != nil {
		return "", "", false
	}
	return r, parts[1], true
}
