package acl

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

func init() {
	transport.RegisterCode("acl.invalid", ErrInvalid, codes.InvalidArgument)
	transport.RegisterCode("acl.permission_denied", ErrPermissionDenied, codes.PermissionDenied)
	transport.RegisterCode("acl.token_not_found", ErrTokenNotFound, codes.PermissionDenied)
	transport.RegisterCode("acl.disabled", ErrDisabled, codes.FailedPrecondition)
	transport.RegisterCode("state.acl_bootstrapped", state.ErrACLBootstrapped, codes.FailedPrecondition)
}

// Service is the ACL gRPC service: policies and tokens, written through
// Raft on the leader (a follower forwards, with the caller's token, and
// the leader's interceptor checks it again), read from the leader.
type Service struct {
	pb.UnimplementedACLServer
	srv     *transport.Server
	enabled bool
	now     func() time.Time
}

// RegisterService registers the ACL service on srv. With enabled false
// every call is refused with ErrDisabled.
func RegisterService(srv *transport.Server, enabled bool, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{srv: srv, enabled: enabled, now: now}
	pb.RegisterACLServer(srv.GRPC(), s)
	return s
}

func (s *Service) check() error {
	if !s.enabled {
		return transport.ToStatus(fmt.Errorf("%w on node %s: start the agents with acl { enabled = true } (or --acl-enabled)", ErrDisabled, s.srv.Backend().NodeName()))
	}
	return nil
}

// ValidUUID says whether s is a UUID in its canonical text form (8-4-4-4-12
// hexadecimal digits), as the secrets and accessors this package makes.
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// NewUUID is a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("acl: crypto/rand: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// View is a stored token as the API shows it (no secret).
func View(t *pb.ACLToken) *pb.ACLTokenView {
	if t == nil {
		return nil
	}
	return &pb.ACLTokenView{AccessorId: t.AccessorId, Description: t.Description, Policies: t.Policies, Management: t.Management,
		CreateTimeUnixNano: t.CreateTimeUnixNano, ExpirationTimeUnixNano: t.ExpirationTimeUnixNano,
		CreateIndex: t.CreateIndex, ModifyIndex: t.ModifyIndex}
}

// Bootstrap makes the management token, once. Anyone may call it: no
// token exists before.
func (s *Service) Bootstrap(ctx context.Context, req *pb.ACLBootstrapRequest) (*pb.ACLTokenResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if req.BootstrapSecret != "" && !ValidUUID(req.BootstrapSecret) {
		return nil, transport.ToStatus(fmt.Errorf("%w: bootstrap_secret is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hexadecimal)", ErrInvalid))
	}
	return transport.OnLeader(ctx, s.srv, req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ACLBootstrapRequest) (*pb.ACLTokenResponse, error) {
			return pb.NewACLClient(c).Bootstrap(ctx, r)
		},
		func(ctx context.Context, r *pb.ACLBootstrapRequest) (*pb.ACLTokenResponse, error) {
			if done, err := s.srv.Backend().State().ACLBootstrapped(); err != nil {
				return nil, err
			} else if done {
				return nil, fmt.Errorf("%w: a management token exists; ask its holder", state.ErrACLBootstrapped)
			}
			secret := strings.ToLower(r.BootstrapSecret)
			if secret == "" {
				secret = NewUUID()
			}
			tok := &pb.ACLToken{AccessorId: NewUUID(), SecretHash: HashSecret(secret), Description: "bootstrap token (management)"}
			res, err := s.srv.Apply(ctx, pb.CommandType_COMMAND_TYPE_ACL_BOOTSTRAP, &pb.ACLBootstrapCommand{Token: tok})
			if err != nil {
				return nil, err
			}
			v := View(res.Value.(*pb.ACLToken))
			v.SecretId = secret
			return &pb.ACLTokenResponse{Token: v, Index: res.Index}, nil
		})
}

// PolicyUpsert creates or replaces a policy after parsing its rules.
func (s *Service) PolicyUpsert(ctx context.Context, req *pb.ACLPolicyUpsertRequest) (*pb.ACLPolicyResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := ValidatePolicyName(req.Name); err != nil {
		return nil, transport.ToStatus(err)
	}
	if len(req.Description) > MaxDescription {
		return nil, transport.ToStatus(fmt.Errorf("%w: description is %d bytes, the limit is %d", ErrInvalid, len(req.Description), MaxDescription))
	}
	if _, err := Parse(req.Rules); err != nil {
		return nil, transport.ToStatus(fmt.Errorf("policy %q: %w", req.Name, err))
	}
	return transport.OnLeader(ctx, s.srv, req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ACLPolicyUpsertRequest) (*pb.ACLPolicyResponse, error) {
			return pb.NewACLClient(c).PolicyUpsert(ctx, r)
		},
		func(ctx context.Context, r *pb.ACLPolicyUpsertRequest) (*pb.ACLPolicyResponse, error) {
			res, err := s.srv.Apply(ctx, pb.CommandType_COMMAND_TYPE_ACL_POLICY_UPSERT, &pb.ACLPolicyUpsertCommand{
				Policy: &pb.ACLPolicy{Name: r.Name, Description: r.Description, Rules: r.Rules}, MaxPolicies: MaxPolicies})
			if err != nil {
				return nil, err
			}
			return &pb.ACLPolicyResponse{Policy: res.Value.(*pb.ACLPolicy), Index: res.Index}, nil
		})
}

// PolicyDelete deletes a policy no token names.
func (s *Service) PolicyDelete(ctx context.Context, req *pb.ACLPolicyDeleteRequest) (*pb.ACLDeleteResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, transport.ToStatus(fmt.Errorf("%w: name: required", ErrInvalid))
	}
	return transport.OnLeader(ctx, s.srv, req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ACLPolicyDeleteRequest) (*pb.ACLDeleteResponse, error) {
			return pb.NewACLClient(c).PolicyDelete(ctx, r)
		},
		func(ctx context.Context, r *pb.ACLPolicyDeleteRequest) (*pb.ACLDeleteResponse, error) {
			res, err := s.srv.Apply(ctx, pb.CommandType_COMMAND_TYPE_ACL_POLICY_DELETE, &pb.ACLPolicyDeleteCommand{Name: r.Name})
			if err != nil {
				return nil, err
			}
			return &pb.ACLDeleteResponse{Index: res.Index}, nil
		})
}

// PolicyList lists the policies, read on the leader.
func (s *Service) PolicyList(ctx context.Context, req *pb.ACLListRequest) (*pb.ACLPolicyListResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return transport.Read(ctx, s.srv, req, nil,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ACLListRequest) (*pb.ACLPolicyListResponse, error) {
			return pb.NewACLClient(c).PolicyList(ctx, r)
		},
		func(st *state.Store, _ *pb.ACLListRequest) (*pb.ACLPolicyListResponse, error) {
			idx, ps, err := st.ACLPolicies()
			return &pb.ACLPolicyListResponse{Policies: ps, Index: idx}, err
		})
}

// PolicyRead reads one policy.
func (s *Service) PolicyRead(ctx context.Context, req *pb.ACLPolicyReadRequest) (*pb.ACLPolicyResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return transport.Read(ctx, s.srv, req, nil,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ACLPolicyReadRequest) (*pb.ACLPolicyResponse, error) {
			return pb.NewACLClient(c).PolicyRead(ctx, r)
		},
		func(st *state.Store, r *pb.ACLPolicyReadRequest) (*pb.ACLPolicyResponse, error) {
			p, err := st.ACLPolicy(r.Name)
			if err != nil {
				return nil, err
			}
			if p == nil {
				return nil, fmt.Errorf("%w: no ACL policy is named %q", state.ErrNotFound, r.Name)
			}
			return &pb.ACLPolicyResponse{Policy: p, Index: p.ModifyIndex}, nil
		})
}

// TokenCreate makes a token with policies; its secret is in this answer
// only.
func (s *Service) TokenCreate(ctx context.Context, req *pb.ACLTokenCreateRequest) (*pb.ACLTokenResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := validateTokenRequest(req); err != nil {
		return nil, transport.ToStatus(err)
	}
	return transport.OnLeader(ctx, s.srv, req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ACLTokenCreateRequest) (*pb.ACLTokenResponse, error) {
			return pb.NewACLClient(c).TokenCreate(ctx, r)
		},
		func(ctx context.Context, r *pb.ACLTokenCreateRequest) (*pb.ACLTokenResponse, error) {
			st := s.srv.Backend().State()
			for i, name := range r.Policies {
				if p, err := st.ACLPolicy(name); err != nil {
					return nil, err
				} else if p == nil {
					return nil, fmt.Errorf("%w: policies[%d]: no ACL policy is named %q", state.ErrNotFound, i, name)
				}
			}
			secret := NewUUID()
			tok := &pb.ACLToken{AccessorId: NewUUID(), SecretHash: HashSecret(secret), Description: r.Description, Policies: r.Policies}
			if r.TtlMs > 0 {
				tok.ExpirationTimeUnixNano = s.now().Add(time.Duration(r.TtlMs) * time.Millisecond).UnixNano()
			}
			res, err := s.srv.Apply(ctx, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT, &pb.ACLTokenUpsertCommand{Token: tok, MaxTokens: MaxTokens})
			if err != nil {
				return nil, err
			}
			v := View(res.Value.(*pb.ACLToken))
			v.SecretId = secret
			return &pb.ACLTokenResponse{Token: v, Index: res.Index}, nil
		})
}

func validateTokenRequest(r *pb.ACLTokenCreateRequest) error {
	if len(r.Description) > MaxDescription {
		return fmt.Errorf("%w: description is %d bytes, the limit is %d", ErrInvalid, len(r.Description), MaxDescription)
	}
	if len(r.Policies) == 0 {
		return fmt.Errorf("%w: policies: a token needs at least one policy", ErrInvalid)
	}
	if len(r.Policies) > MaxTokenPolicies {
		return fmt.Errorf("%w: policies: %d, the limit is %d", ErrInvalid, len(r.Policies), MaxTokenPolicies)
	}
	seen := map[string]bool{}
	for i, p := range r.Policies {
		if err := ValidatePolicyName(p); err != nil {
			return fmt.Errorf("policies[%d]: %w", i, err)
		}
		if seen[p] {
			return fmt.Errorf("%w: policies[%d]: %q is given twice", ErrInvalid, i, p)
		}
		seen[p] = true
	}
	if r.TtlMs < 0 || time.Duration(r.TtlMs)*time.Millisecond > MaxTokenTTL {
		return fmt.Errorf("%w: ttl: %d ms, use 0 (no expiration) up to %s", ErrInvalid, r.TtlMs, MaxTokenTTL)
	}
	return nil
}

// TokenDelete revokes a token.
func (s *Service) TokenDelete(ctx context.Context, req *pb.ACLTokenDeleteRequest) (*pb.ACLDeleteResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if req.AccessorId == "" {
		return nil, transport.ToStatus(fmt.Errorf("%w: accessor_id: required", ErrInvalid))
	}
	return transport.OnLeader(ctx, s.srv, req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ACLTokenDeleteRequest) (*pb.ACLDeleteResponse, error) {
			return pb.NewACLClient(c).TokenDelete(ctx, r)
		},
		func(ctx context.Context, r *pb.ACLTokenDeleteRequest) (*pb.ACLDeleteResponse, error) {
			res, err := s.srv.Apply(ctx, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_DELETE, &pb.ACLTokenDeleteCommand{AccessorId: r.AccessorId})
			if err != nil {
				return nil, err
			}
			return &pb.ACLDeleteResponse{Index: res.Index}, nil
		})
}

// TokenList lists the tokens (no secrets).
func (s *Service) TokenList(ctx context.Context, req *pb.ACLListRequest) (*pb.ACLTokenListResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return transport.Read(ctx, s.srv, req, nil,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ACLListRequest) (*pb.ACLTokenListResponse, error) {
			return pb.NewACLClient(c).TokenList(ctx, r)
		},
		func(st *state.Store, _ *pb.ACLListRequest) (*pb.ACLTokenListResponse, error) {
			idx, ts, err := st.ACLTokens()
			out := &pb.ACLTokenListResponse{Index: idx}
			for _, t := range ts {
				out.Tokens = append(out.Tokens, View(t))
			}
			return out, err
		})
}

// TokenRead reads one token by accessor (no secret).
func (s *Service) TokenRead(ctx context.Context, req *pb.ACLTokenReadRequest) (*pb.ACLTokenResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return transport.Read(ctx, s.srv, req, nil,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ACLTokenReadRequest) (*pb.ACLTokenResponse, error) {
			return pb.NewACLClient(c).TokenRead(ctx, r)
		},
		func(st *state.Store, r *pb.ACLTokenReadRequest) (*pb.ACLTokenResponse, error) {
			t, err := st.ACLToken(r.AccessorId)
			if err != nil {
				return nil, err
			}
			if t == nil {
				return nil, fmt.Errorf("%w: no ACL token has accessor %q", state.ErrNotFound, r.AccessorId)
			}
			return &pb.ACLTokenResponse{Token: View(t), Index: t.ModifyIndex}, nil
		})
}

// TokenSelf describes the caller's own token, as the answering node
// resolved it.
func (s *Service) TokenSelf(ctx context.Context, _ *pb.ACLTokenSelfRequest) (*pb.ACLTokenResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	id := IdentityFromContext(ctx)
	if id == nil || id.Token == nil {
		return nil, transport.ToStatus(fmt.Errorf("%w: no token was given (--token or STEWARD_TOKEN)", ErrTokenNotFound))
	}
	return &pb.ACLTokenResponse{Token: View(id.Token), Index: id.Token.ModifyIndex}, nil
}
