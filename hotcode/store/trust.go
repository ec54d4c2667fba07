package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
)

// Signed modules (docs/MODULES.md "Signed modules"). The cluster trusts up
// to MaxTrustedKeys ed25519 public keys; a push may carry a detached
// signature over the binary's exact bytes, which the leader verifies
// against them: at strict, once a key is trusted, a signature is required;
// at any level a signature given must verify. The check is named
// "signature" among the validation problems.

// MaxTrustedKeys is the most signing keys a cluster trusts at once (the
// leader's limit, carried in MODULE_TRUST_ADD).
const MaxTrustedKeys = 32

// SignatureCheck names the signature check in a refusal.
const SignatureCheck = "signature"

var (
	// ErrUnsigned: a strict push without a signature while the cluster
	// trusts a signing key.
	ErrUnsigned = errors.New("unsigned module")
	// ErrUntrustedSignature: the push's signature is malformed or no
	// trusted key verifies it.
	ErrUntrustedSignature = errors.New("signature not verified by a trusted key")
)

// Fingerprint is a public key's fingerprint: the hex SHA-256 of its raw
// 32 bytes.
func Fingerprint(pub []byte) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// ParsePublicKey reads an ed25519 public key as operators hold one: PEM
// "PUBLIC KEY" (PKIX, as `openssl pkey -pubout` writes) or the base64 of
// the raw 32 bytes (standard or URL alphabet, padded or not). Surrounding
// white space is ignored.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	text := bytes.TrimSpace(data)
	if block, _ := pem.Decode(text); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("a PEM block of type %q, want \"PUBLIC KEY\" (openssl pkey -pubout)", block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM public key: %v", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %T public key, want ed25519", k)
		}
		return pub, nil
	}
	raw, err := decodeBase64(string(text))
	if err != nil {
		return nil, fmt.Errorf("neither PEM nor base64: %v", err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("base64 of %d bytes, an ed25519 public key is %d", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// ParseSignature reads a detached signature file: the base64 of the
// 64-byte ed25519 signature (what `steward module sign` writes), or the
// raw 64 bytes (what `openssl pkeyutl -sign -rawin` writes).
func ParseSignature(data []byte) ([]byte, error) {
	if len(data) == ed25519.SignatureSize {
		return data, nil
	}
	raw, err := decodeBase64(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	if len(raw) != ed25519.SignatureSize {
		return nil, fmt.Errorf("base64 of %d bytes, an ed25519 signature is %d", len(raw), ed25519.SignatureSize)
	}
	return raw, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return nil, err
}

// checkSignature verifies a push's signature against the trusted keys:
// the key that verified it (nil: unsigned and not required), or the
// failed signature check.
func checkSignature(st *state.Store, level hotcode.Level, bin, sig []byte) (*pb.ModuleTrustedKey, *hotcode.Problem, error) {
	_, keys, err := st.ModuleTrustedKeys(nil)
	if err != nil {
		return nil, nil, err
	}
	fail := func(sentinel error, format string, args ...any) (*pb.ModuleTrustedKey, *hotcode.Problem, error) {
		return nil, &hotcode.Problem{Check: SignatureCheck, Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}, nil
	}
	if len(sig) == 0 {
		if level == hotcode.Strict && len(keys) > 0 {
			return fail(ErrUnsigned, "strict requires a signature by a trusted key (%d trusted: %s); sign it with `steward module sign` and push with --signature",
				len(keys), keyNames(keys))
		}
		return nil, nil, nil
	}
	if len(sig) != ed25519.SignatureSize {
		return fail(ErrUntrustedSignature, "the signature is %d bytes, an ed25519 signature is %d", len(sig), ed25519.SignatureSize)
	}
	if len(keys) == 0 {
		return fail(ErrUntrustedSignature, "no signing key is trusted in the cluster (steward module trust add), so the signature cannot be verified")
	}
	for _, k := range keys {
		if len(k.PublicKey) == ed25519.PublicKeySize && ed25519.Verify(ed25519.PublicKey(k.PublicKey), bin, sig) {
			return k, nil, nil
		}
	}
	return fail(ErrUntrustedSignature, "none of the %d trusted keys (%s) verifies the signature over these bytes", len(keys), keyNames(keys))
}

func keyNames(keys []*pb.ModuleTrustedKey) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

// withProblem adds a failed check to a validation result: the refusal
// lists it with the others.
func withProblem(err error, name string, level hotcode.Level, p *hotcode.Problem) error {
	if p == nil {
		return err
	}
	var ve *hotcode.ValidationError
	if errors.As(err, &ve) {
		ve.Problems = append(ve.Problems, *p)
		return ve
	}
	if err != nil {
		return err
	}
	return &hotcode.ValidationError{Name: name, Level: level, Problems: []hotcode.Problem{*p}}
}

// TrustAdd trusts a signing key (on the leader): the name is a spec-style
// name, the key 32 bytes; the same name and key again change nothing.
func (s *service) TrustAdd(ctx context.Context, req *pb.TrustModuleKeyRequest) (*pb.TrustModuleKeyResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.TrustModuleKeyRequest) (*pb.TrustModuleKeyResponse, error) {
			return pb.NewModulesClient(c).TrustAdd(ctx, r)
		},
		func(ctx context.Context, r *pb.TrustModuleKeyRequest) (*pb.TrustModuleKeyResponse, error) {
			if !spec.ValidName(r.Name) {
				return nil, fmt.Errorf("%w: key name %q: must be 1-%d letters, digits, '_', '-' or '.', starting with a letter or digit", transport.ErrInvalidRequest, r.Name, spec.MaxNameLen)
			}
			if len(r.PublicKey) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("%w: key %q is %d bytes, an ed25519 public key is %d", transport.ErrInvalidRequest, r.Name, len(r.PublicKey), ed25519.PublicKeySize)
			}
			_, keys, err := s.l.node.State().ModuleTrustedKeys(nil)
			if err != nil {
				return nil, err
			}
			for _, k := range keys {
				switch {
				case k.Name == r.Name && bytes.Equal(k.PublicKey, r.PublicKey):
					return &pb.TrustModuleKeyResponse{Meta: s.srv().WriteMeta(k.ModifyIndex), Key: k, Unchanged: true}, nil
				case k.Name == r.Name:
					return nil, fmt.Errorf("%w: a key named %q is already trusted with another public key (fingerprint %s); remove it first",
						transport.ErrConflict, r.Name, Fingerprint(k.PublicKey)[:16])
				case bytes.Equal(k.PublicKey, r.PublicKey):
					return nil, fmt.Errorf("%w: this public key is already trusted as %q", transport.ErrConflict, k.Name)
				}
			}
			if len(keys) >= MaxTrustedKeys {
				return nil, fmt.Errorf("%w: the cluster trusts %d signing keys, the limit; remove one first", transport.ErrConflict, len(keys))
			}
			res, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD, &pb.ModuleTrustAddCommand{
				Key: &pb.ModuleTrustedKey{Name: r.Name, PublicKey: r.PublicKey, AddedBy: r.AddedBy}, MaxKeys: MaxTrustedKeys})
			if err != nil {
				return nil, err
			}
			k, ok := res.Value.(*pb.ModuleTrustedKey)
			if !ok {
				return nil, fmt.Errorf("trust add answered %T", res.Value)
			}
			return &pb.TrustModuleKeyResponse{Meta: s.srv().WriteMeta(res.Index), Key: k, Unchanged: k.CreateIndex != res.Index}, nil
		})
}

// TrustList lists the trusted signing keys by name.
func (s *service) TrustList(ctx context.Context, req *pb.ListTrustedModuleKeysRequest) (*pb.ListTrustedModuleKeysResponse, error) {
	return transport.Read(ctx, s.srv(), req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ListTrustedModuleKeysRequest) (*pb.ListTrustedModuleKeysResponse, error) {
			return pb.NewModulesClient(c).TrustList(ctx, r)
		},
		func(st *state.Store, _ *pb.ListTrustedModuleKeysRequest) (*pb.ListTrustedModuleKeysResponse, error) {
			idx, keys, err := st.ModuleTrustedKeys(nil)
			if err != nil {
				return nil, err
			}
			return &pb.ListTrustedModuleKeysResponse{Meta: s.srv().ReadMeta(idx), Keys: keys, MaxKeys: MaxTrustedKeys}, nil
		})
}

// TrustRemove stops trusting a key (versions it signed stay stored).
func (s *service) TrustRemove(ctx context.Context, req *pb.RemoveTrustedModuleKeyRequest) (*pb.RemoveTrustedModuleKeyResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.RemoveTrustedModuleKeyRequest) (*pb.RemoveTrustedModuleKeyResponse, error) {
			return pb.NewModulesClient(c).TrustRemove(ctx, r)
		},
		func(ctx context.Context, r *pb.RemoveTrustedModuleKeyRequest) (*pb.RemoveTrustedModuleKeyResponse, error) {
			if r.Name == "" {
				return nil, fmt.Errorf("%w: name the key to remove", transport.ErrInvalidRequest)
			}
			res, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_MODULE_TRUST_REMOVE, &pb.ModuleTrustRemoveCommand{Name: r.Name})
			if err != nil {
				return nil, err
			}
			return &pb.RemoveTrustedModuleKeyResponse{Meta: s.srv().WriteMeta(res.Index)}, nil
		})
}
