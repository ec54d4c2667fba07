package acl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TokenMetadataKey is the gRPC metadata key of the caller's secret ID.
const TokenMetadataKey = "x-steward-token"

// AnonymousAccessor names the caller who sent no token. A policy named
// AnonymousPolicy, when it exists, grants anonymous callers its rules.
const (
	AnonymousAccessor = "anonymous"
	AnonymousPolicy   = "anonymous"
)

// Default policies (acl { default_policy = ... }).
const (
	DefaultPolicyDeny  = "deny"
	DefaultPolicyAllow = "allow"
)

// HashSecret is the hex SHA-256 of a secret ID: what the state stores.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Identity is who a call comes from, once the token is resolved.
type Identity struct {
	// Accessor is the token's accessor ID, or AnonymousAccessor.
	Accessor string
	// Token is the stored token (nil for anonymous).
	Token      *pb.ACLToken
	Authorizer *Authorizer
}

type identityKey struct{}
type slotKey struct{}

// WithAccessorSlot returns a context in which the ACL interceptor, running
// further in, records the caller's accessor, so that an interceptor
// outside it (the audit log's) reads it with AccessorFromContext once the
// call returns.
func WithAccessorSlot(ctx context.Context) context.Context {
	return context.WithValue(ctx, slotKey{}, new(atomic.Value))
}

// AccessorFromContext is the accessor ID of the caller whose token the
// ACL interceptor resolved (AnonymousAccessor for no token), or "" when
// none was resolved (ACLs off, a method that needs no token, or a token
// that matched nothing).
func AccessorFromContext(ctx context.Context) string {
	if id, ok := ctx.Value(identityKey{}).(*Identity); ok {
		return id.Accessor
	}
	if s, ok := ctx.Value(slotKey{}).(*atomic.Value); ok {
		if v, ok := s.Load().(string); ok {
			return v
		}
	}
	return ""
}

// IdentityFromContext is the caller's resolved identity, or nil.
func IdentityFromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

func withIdentity(ctx context.Context, id *Identity) context.Context {
	if s, ok := ctx.Value(slotKey{}).(*atomic.Value); ok {
		s.Store(id.Accessor)
	}
	return context.WithValue(ctx, identityKey{}, id)
}

// SecretFromContext is the secret ID the caller sent, or "".
func SecretFromContext(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(TokenMetadataKey); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Source is what a Checker reads: the node's local state and its lookups.
type Source interface {
	Lookup
	// State is the node's current copy of the replicated state.
	State() *state.Store
	// IsLeader: this node's state is the leader's (a token it does not
	// hold does not exist).
	IsLeader() bool
}

// CatchUpWait is how long a node that does not lead waits for a token it
// does not hold yet to reach its replica (one created a moment ago, on
// the leader) before it refuses the call.
const CatchUpWait = 2 * time.Second

// CheckerConfig configures a Checker.
type CheckerConfig struct {
	// DefaultPolicy is DefaultPolicyDeny (the default) or
	// DefaultPolicyAllow: what no rule covers.
	DefaultPolicy string
	Logger        hclog.Logger
	// Now is the clock tokens expire by (nil: time.Now).
	Now func() time.Time
}

// Checker resolves tokens against a node's state and enforces them on its
// gRPC calls.
type Checker struct {
	src          Source
	defaultAllow bool
	logger       hclog.Logger
	now          func() time.Time

	mu sync.Mutex
	// parsed caches parsed rules by policy name, valid while the
	// policy's modify index is the same.
	parsed map[string]parsedPolicy
}

type parsedPolicy struct {
	index  uint64
	policy *Policy
}

// ValidateDefaultPolicy checks an acl.default_policy value.
func ValidateDefaultPolicy(p string) error {
	switch p {
	case "", DefaultPolicyDeny, DefaultPolicyAllow:
		return nil
	}
	return fmt.Errorf("acl.default_policy: %q is not a default policy; use %q or %q (%w)", p, DefaultPolicyDeny, DefaultPolicyAllow, ErrInvalid)
}

// NewChecker builds a Checker reading src.
func NewChecker(src Source, cfg CheckerConfig) (*Checker, error) {
	if err := ValidateDefaultPolicy(cfg.DefaultPolicy); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Checker{src: src, defaultAllow: cfg.DefaultPolicy == DefaultPolicyAllow, logger: logger.Named("acl"),
		now: now, parsed: map[string]parsedPolicy{}}, nil
}

// Resolve finds the identity of a secret ("" is anonymous). A secret that
// matches no token, or an expired token's, is ErrTokenNotFound. On a node
// that does not lead, a secret it does not know is waited for, up to
// CatchUpWait, as the token may have been created a moment ago.
func (c *Checker) Resolve(secret string) (*Identity, error) {
	return c.ResolveContext(context.Background(), secret)
}

// ResolveContext is Resolve whose wait for a token ends with ctx.
func (c *Checker) ResolveContext(ctx context.Context, secret string) (*Identity, error) {
	if secret == "" {
		return &Identity{Accessor: AnonymousAccessor, Authorizer: c.authorizer(c.src.State(), []string{AnonymousPolicy})}, nil
	}
	tok, err := c.lookup(ctx, HashSecret(secret))
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, fmt.Errorf("%w: the token given matches no token on node %s (revoked, or not yet replicated here)", ErrTokenNotFound, c.src.LocalNode())
	}
	if tok.ExpirationTimeUnixNano != 0 && c.now().UnixNano() >= tok.ExpirationTimeUnixNano {
		return nil, fmt.Errorf("%w: token %s expired at %s", ErrTokenNotFound, short(tok.AccessorId), time.Unix(0, tok.ExpirationTimeUnixNano).UTC().Format(time.RFC3339))
	}
	if tok.Management {
		return &Identity{Accessor: tok.AccessorId, Token: tok, Authorizer: ManagementAuthorizer()}, nil
	}
	return &Identity{Accessor: tok.AccessorId, Token: tok, Authorizer: c.authorizer(c.src.State(), tok.Policies)}, nil
}

// lookup finds a token by its secret's hash; on a node that does not
// lead, one not found is waited for up to CatchUpWait.
func (c *Checker) lookup(ctx context.Context, hash string) (*pb.ACLToken, error) {
	deadline := time.Now().Add(CatchUpWait)
	for {
		st := c.src.State()
		ws := memdb.NewWatchSet()
		tok, err := st.ACLTokenBySecretHashWatch(ws, hash)
		if err != nil || tok != nil || c.src.IsLeader() || !time.Now().Before(deadline) {
			return tok, err
		}
		if err := st.WaitChange(ctx, ws, deadline); err != nil {
			return nil, err
		}
	}
}

// authorizer merges the named policies that exist; a policy whose rules
// this binary cannot read (written by a newer version) grants nothing.
func (c *Checker) authorizer(st *state.Store, names []string) *Authorizer {
	var ps []*Policy
	for _, name := range names {
		rec, err := st.ACLPolicy(name)
		if err != nil || rec == nil {
			continue
		}
		c.mu.Lock()
		pp, ok := c.parsed[name]
		c.mu.Unlock()
		if !ok || pp.index != rec.ModifyIndex {
			p, err := Parse(rec.Rules)
			if err != nil {
				c.logger.Warn("policy rules this node cannot read grant nothing", "policy", name, "error", err)
			}
			pp = parsedPolicy{index: rec.ModifyIndex, policy: p}
			c.mu.Lock()
			c.parsed[name] = pp
			c.mu.Unlock()
		}
		if pp.policy != nil {
			ps = append(ps, pp.policy)
		}
	}
	return NewAuthorizer(ps, c.defaultAllow)
}

// short abbreviates an accessor for messages: its first 8 characters.
func short(accessor string) string {
	if len(accessor) > 8 && accessor != AnonymousAccessor {
		return accessor[:8] + "…"
	}
	return accessor
}

// Check tells whether id may do everything needs lists; the error names
// the first permission missing.
func Check(id *Identity, needs []Need) error {
	for _, n := range needs {
		ok := false
		if n.Under {
			ok = id.Authorizer.AllowedUnder(n.Resource, n.Name, n.Write)
		} else {
			ok = id.Authorizer.Allowed(n.Resource, n.Name, n.Write)
		}
		if !ok {
			return fmt.Errorf("%w: %s (token %s)", ErrPermissionDenied, n, short(id.Accessor))
		}
	}
	return nil
}

const bootstrapMethod = "/steward.v1.ACL/Bootstrap"

// authorize resolves the caller and checks what the call needs; req is nil
// for a stream whose request is not read yet (scalar needs only).
func (c *Checker) authorize(ctx context.Context, method string, req any, named bool) (context.Context, error) {
	res, _, known := MethodAccess(method)
	if !known {
		return ctx, status.Errorf(codes.PermissionDenied, "%v: method %s is not in the ACL table", ErrPermissionDenied, method)
	}
	if res == ResourceNone && method != "/steward.v1.ACL/TokenSelf" {
		return ctx, nil
	}
	id, err := c.ResolveContext(ctx, SecretFromContext(ctx))
	if err != nil {
		if errors.Is(err, ErrTokenNotFound) {
			return ctx, status.Error(codes.PermissionDenied, err.Error())
		}
		return ctx, status.Error(codes.Internal, err.Error())
	}
	ctx = withIdentity(ctx, id)
	if method == bootstrapMethod || res == ResourceNone {
		// Anyone may try the bootstrap: it succeeds once.
		return ctx, nil
	}
	if selfRemoval(ctx, method, req) {
		return ctx, nil
	}
	var needs []Need
	if named {
		needs = Needs(method, req, c.src)
	} else if !prefixResources[res] {
		needs = Needs(method, nil, c.src)
	}
	if err := Check(id, needs); err != nil {
		return ctx, status.Error(codes.PermissionDenied, err.Error())
	}
	return ctx, nil
}

// selfRemoval: a server agent leaving gracefully asks the leader to
// remove it from Raft (RemovePeer with leaving set). Agents hold no token;
// a caller with a verified server certificate may do it (that certificate
// speaks Raft already).
func selfRemoval(ctx context.Context, method string, req any) bool {
	r, ok := req.(*pb.RemovePeerRequest)
	return ok && method == "/steward.v1.Cluster/RemovePeer" && r.Leaving && tlsutil.RoleOf(ctx) == tlsutil.RoleServer
}

// UnaryInterceptor checks every unary call.
func (c *Checker) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := c.authorize(ctx, info.FullMethod, req, true)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// StreamInterceptor checks every stream: a method of an unnamed resource
// at once, one of a named resource (process events by node, ...) when
// the request arrives.
func (c *Checker) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	res, _, known := MethodAccess(info.FullMethod)
	ctx, err := c.authorize(ss.Context(), info.FullMethod, nil, false)
	if err != nil {
		return err
	}
	if !known || res == ResourceNone || !prefixResources[res] {
		return handler(srv, &identityStream{ServerStream: ss, ctx: ctx})
	}
	return handler(srv, &checkedStream{ServerStream: ss, ctx: ctx, c: c, method: info.FullMethod})
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }

// checkedStream checks the first request of a server stream.
type checkedStream struct {
	grpc.ServerStream
	ctx     context.Context
	c       *Checker
	method  string
	checked bool
}

func (s *checkedStream) Context() context.Context { return s.ctx }

func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if !s.checked {
		id := IdentityFromContext(s.ctx)
		if id == nil {
			return status.Error(codes.PermissionDenied, "permission denied: no identity")
		}
		if err := Check(id, Needs(s.method, m, s.c.src)); err != nil {
			return status.Error(codes.PermissionDenied, err.Error())
		}
		s.checked = true
	}
	return nil
}

// ForwardTokenUnary and ForwardTokenStream are client interceptors (a
// node's pool to its peers): a call made while serving a caller carries
// the caller's token on, unless the call sets one itself, so that the
// node a request is forwarded to (the leader, the process's node) checks
// the caller's own permissions.
func ForwardTokenUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(forwardToken(ctx), method, req, reply, cc, opts...)
}

// ForwardTokenStream: see ForwardTokenUnary.
func ForwardTokenStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(forwardToken(ctx), desc, cc, method, opts...)
}

func forwardToken(ctx context.Context) context.Context {
	out, _ := metadata.FromOutgoingContext(ctx)
	if len(out.Get(TokenMetadataKey)) > 0 {
		return ctx
	}
	if secret := SecretFromContext(ctx); secret != "" {
		return metadata.AppendToOutgoingContext(ctx, TokenMetadataKey, secret)
	}
	return ctx
}
