package node

// Gossip encryption, as Consul does it: memberlist encrypts every gossip
// packet and stream with the primary key of its keyring (AES-GCM) and
// decrypts with any key of it. The keyring starts from Config.Encrypt, is
// persisted in the data dir (KeyringFile) at the first start and at every
// change, and a persisted keyring overrides Config.Encrypt at the next
// start, so that a rotated key survives restarts.
//
// A rotation (the Keyring service, `steward keyring`) installs the new key
// on every node, makes it the primary everywhere, then removes the old
// one; the node that receives a call fans it out to every member.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// KeyringFile is where a node keeps its gossip keyring, under its data
// dir: a JSON array of standard base64 keys, the primary first (the format
// of Consul's serf/local.keyring), mode 0600.
const KeyringFile = "gossip/local.keyring"

// MaxKeyringKeys is the most keys a keyring holds: memberlist tries every
// key on each packet that the primary does not decrypt, and a rotation
// needs two.
const MaxKeyringKeys = 16

// keyringCallTimeout bounds the call to one member in a fan-out.
const keyringCallTimeout = 10 * time.Second

// keyringFanOutParallel is how many members a fan-out calls at once.
const keyringFanOutParallel = 32

// Metadata keys of the agreed interfaces: the caller's ACL token, which a
// fan-out carries on to each member, and the forward hop count (a call a
// node fans out is hop 1 on the member, so that only the node that
// accepted it writes it to its audit log).
const (
	tokenMetadataKey    = "x-steward-token"
	forwardHopsMetadata = "steward-forward-hops"
)

var (
	// ErrEncryptionOff: the node runs gossip in the clear (no encrypt and
	// no persisted keyring), so it has no keyring to change.
	ErrEncryptionOff = errors.New("gossip encryption is not enabled on this node (start it with encrypt, or --encrypt)")
	// ErrKeyNotInstalled: the key is not in the node's keyring.
	ErrKeyNotInstalled = errors.New("key is not installed in the keyring")
	// ErrRemovePrimary: the key to remove is the node's primary key.
	ErrRemovePrimary = errors.New("key is the primary key in use; make another key the primary first (keyring use)")
	// ErrKeyringFull: the keyring holds MaxKeyringKeys keys.
	ErrKeyringFull = fmt.Errorf("keyring holds %d keys, the most allowed; remove one first", MaxKeyringKeys)
)

// ParseKey decodes a gossip encryption key: standard base64 of 16, 24 or 32
// bytes (AES-128, AES-192, AES-256). The error says what is wrong without
// repeating the key.
func ParseKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("key is empty; give the base64 of 16, 24 or 32 bytes (steward keygen makes one)")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("key is not standard base64 (%v); give the base64 of 16, 24 or 32 bytes (steward keygen makes one)", err)
	}
	if err := memberlist.ValidateKey(b); err != nil {
		return nil, fmt.Errorf("key decodes to %d bytes; a key is 16, 24 or 32 bytes (AES-128, AES-192, AES-256), base64-encoded (steward keygen makes one)", len(b))
	}
	return b, nil
}

// canonicalKey is the one base64 spelling of key that the keyring
// answers use (a lenient decoder accepts others).
func canonicalKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// GenerateKey returns a fresh 32-byte key (AES-256), base64-encoded.
func GenerateKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// keyringState is the node's gossip keyring and its file. Changes are
// serialized by mu, persisted before memberlist's keyring changes.
type keyringState struct {
	mu   sync.Mutex
	path string
	// ring is memberlist's keyring; nil when encryption is off.
	ring *memberlist.Keyring
}

// setupKeyring builds the keyring memberlist starts with: the persisted
// one when the data dir has it (saying so when it overrides encrypt),
// else Config.Encrypt, persisted at once; nil when neither is there.
func (n *Node) setupKeyring() (*memberlist.Keyring, error) {
	ks := &keyringState{path: filepath.Join(n.cfg.DataDir, filepath.FromSlash(KeyringFile))}
	n.keyring = ks
	removeKeyringTemps(ks.path)
	keys, err := readKeyringFile(ks.path)
	switch {
	case err == nil:
		if n.cfg.Encrypt != "" {
			given, _ := ParseKey(n.cfg.Encrypt) // Validate checked it
			n.logger.Warn("the keyring persisted in the data dir overrides encrypt (it holds the keys of the last rotation)",
				"file", ks.path, "keys", len(keys), "encrypt_key_in_keyring", indexOfKey(keys, given) >= 0,
				"encrypt_key_is_primary", bytes.Equal(keys[0], given))
		} else {
			n.logger.Info("gossip encryption on, with the keyring persisted in the data dir", "file", ks.path, "keys", len(keys))
		}
	case errors.Is(err, fs.ErrNotExist):
		if n.cfg.Encrypt == "" {
			n.logger.Info("gossip encryption off (no encrypt, no persisted keyring)")
			return nil, nil
		}
		key, err := ParseKey(n.cfg.Encrypt)
		if err != nil {
			return nil, fmt.Errorf("encrypt: %w", err)
		}
		keys = [][]byte{key}
		if err := writeKeyringFile(ks.path, keys); err != nil {
			return nil, err
		}
		n.logger.Info("gossip encryption on, with the encrypt key; keyring persisted", "file", ks.path)
	default:
		return nil, err
	}
	ring, err := memberlist.NewKeyring(keys, keys[0])
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", ks.path, err)
	}
	ks.ring = ring
	if !n.cfg.EncryptVerifyIncoming || !n.cfg.EncryptVerifyOutgoing {
		n.logger.Warn("gossip encryption is not enforced (a rolling enablement)",
			"encrypt_verify_incoming", n.cfg.EncryptVerifyIncoming, "encrypt_verify_outgoing", n.cfg.EncryptVerifyOutgoing)
	}
	return ring, nil
}

func indexOfKey(keys [][]byte, k []byte) int {
	for i, x := range keys {
		if bytes.Equal(x, k) {
			return i
		}
	}
	return -1
}

// readKeyringFile reads a persisted keyring; fs.ErrNotExist when there is
// none. Errors name the file and the entry.
func readKeyringFile(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	var enc []string
	if err := json.Unmarshal(data, &enc); err != nil {
		return nil, fmt.Errorf("keyring %s: not a JSON array of base64 keys: %v", path, err)
	}
	if len(enc) == 0 {
		return nil, fmt.Errorf("keyring %s: holds no key; remove the file to start from encrypt", path)
	}
	if len(enc) > MaxKeyringKeys {
		return nil, fmt.Errorf("keyring %s: holds %d keys, more than %d", path, len(enc), MaxKeyringKeys)
	}
	var keys [][]byte
	for i, s := range enc {
		k, err := ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("keyring %s: entry %d: %w", path, i, err)
		}
		if indexOfKey(keys, k) < 0 {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// writeKeyringFile replaces the keyring file atomically: a temporary file
// in the same dir, written and synced, renamed over it, the dir synced.
func writeKeyringFile(path string, keys [][]byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keyring %s: %w", path, err)
	}
	enc := make([]string, len(keys))
	for i, k := range keys {
		enc[i] = base64.StdEncoding.EncodeToString(k)
	}
	data, err := json.MarshalIndent(enc, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("keyring %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("keyring %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("keyring %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("keyring %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// removeKeyringTemps removes temporary files a write cut short left.
func removeKeyringTemps(path string) {
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp"))
	for _, t := range tmps {
		_ = os.Remove(t)
	}
}

// keys returns a copy of the keyring, the primary first (nil: off).
// memberlist hands out its own slice, which RemoveKey shifts in place.
func (ks *keyringState) keys() [][]byte {
	if ks == nil || ks.ring == nil {
		return nil
	}
	return append([][]byte(nil), ks.ring.GetKeys()...)
}

// change persists the keyring next(keys) returns, then applies it to
// memberlist's keyring with apply; next returning nil keys changes
// nothing.
func (ks *keyringState) change(next func(keys [][]byte) ([][]byte, error), apply func(*memberlist.Keyring) error) error {
	if ks == nil || ks.ring == nil {
		return ErrEncryptionOff
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	keys, err := next(ks.keys())
	if err != nil || keys == nil {
		return err
	}
	if err := writeKeyringFile(ks.path, keys); err != nil {
		return err
	}
	return apply(ks.ring)
}

// installKey adds key to the keyring; a key already there is a no-op.
func (ks *keyringState) installKey(key []byte) error {
	return ks.change(func(keys [][]byte) ([][]byte, error) {
		if indexOfKey(keys, key) >= 0 {
			return nil, nil
		}
		if len(keys) >= MaxKeyringKeys {
			return nil, ErrKeyringFull
		}
		return append(keys, key), nil
	}, func(r *memberlist.Keyring) error { return r.AddKey(key) })
}

// useKey makes an installed key the primary.
func (ks *keyringState) useKey(key []byte) error {
	return ks.change(func(keys [][]byte) ([][]byte, error) {
		i := indexOfKey(keys, key)
		switch {
		case i < 0:
			return nil, fmt.Errorf("%w; install it first", ErrKeyNotInstalled)
		case i == 0:
			return nil, nil
		}
		out := [][]byte{key}
		for _, k := range keys {
			if !bytes.Equal(k, key) {
				out = append(out, k)
			}
		}
		return out, nil
	}, func(r *memberlist.Keyring) error { return r.UseKey(key) })
}

// removeKey drops a key other than the primary; a key not there is a
// no-op.
func (ks *keyringState) removeKey(key []byte) error {
	return ks.change(func(keys [][]byte) ([][]byte, error) {
		i := indexOfKey(keys, key)
		switch {
		case i < 0:
			return nil, nil
		case i == 0:
			return nil, ErrRemovePrimary
		}
		return append(append([][]byte(nil), keys[:i]...), keys[i+1:]...), nil
	}, func(r *memberlist.Keyring) error {
		// memberlist's RemoveKey closes the gap by shifting the keys after
		// the removed one in place, in the slice a concurrent decryption
		// may be reading; the removed key of a rotation (two keys) is the
		// last, and nothing moves.
		return r.RemoveKey(key)
	})
}

// keyringNode is this node's keyring as the Keyring service answers it.
func (n *Node) keyringNode() *pb.KeyringNode {
	out := &pb.KeyringNode{Name: n.cfg.Name, Mode: n.Mode(), GrpcAddr: n.grpcAddr}
	keys := n.keyring.keys()
	if keys == nil {
		out.Error = ErrEncryptionOff.Error()
		return out
	}
	for _, k := range keys {
		out.Keys = append(out.Keys, canonicalKey(k))
	}
	out.PrimaryKey = out.Keys[0]
	return out
}

// GossipKeys returns this node's gossip keyring, base64, the primary
// first; nil when gossip encryption is off.
func (n *Node) GossipKeys() []string {
	return n.keyringNode().Keys
}

// keyringService is the public Keyring service.
type keyringService struct {
	pb.UnimplementedKeyringServer
	n *Node
}

func (n *Node) registerKeyring() {
	pb.RegisterKeyringServer(n.server.GRPC(), &keyringService{n: n})
}

// keyringOp is one Keyring call: what it does on this node and how it is
// sent to another.
type keyringOp struct {
	name  string
	local func(ks *keyringState) error
	send  func(ctx context.Context, c pb.KeyringClient) (*pb.KeyringResponse, error)
}

// listOp reads a node's keyring, changing nothing.
var listOp = keyringOp{name: "list",
	local: func(ks *keyringState) error {
		if ks == nil || ks.ring == nil {
			return ErrEncryptionOff
		}
		return nil
	},
	send: func(ctx context.Context, c pb.KeyringClient) (*pb.KeyringResponse, error) {
		return c.List(ctx, &pb.KeyringListRequest{LocalOnly: true})
	}}

func (s *keyringService) List(ctx context.Context, req *pb.KeyringListRequest) (*pb.KeyringResponse, error) {
	op := listOp
	if req.LocalOnly {
		return s.n.keyringLocal(op)
	}
	resp := s.n.keyringFanOut(ctx, op)
	return keyringResult(op.name, resp, codes.Aborted, "")
}

func (s *keyringService) Install(ctx context.Context, req *pb.KeyringInstallRequest) (*pb.KeyringResponse, error) {
	key, err := ParseKey(req.SecretKey)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "keyring install: %v", err)
	}
	canon := canonicalKey(key)
	op := keyringOp{name: "install",
		local: func(ks *keyringState) error { return ks.installKey(key) },
		send: func(ctx context.Context, c pb.KeyringClient) (*pb.KeyringResponse, error) {
			return c.Install(ctx, &pb.KeyringInstallRequest{SecretKey: canon, LocalOnly: true})
		}}
	if req.LocalOnly {
		return s.n.keyringLocal(op)
	}
	return keyringResult(op.name, s.n.keyringFanOut(ctx, op), codes.Aborted, "")
}

// Use checks first that every node holds the key: a node that does not
// could no longer read the gossip of those that encrypt with it.
func (s *keyringService) Use(ctx context.Context, req *pb.KeyringUseRequest) (*pb.KeyringResponse, error) {
	key, err := ParseKey(req.SecretKey)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "keyring use: %v", err)
	}
	canon := canonicalKey(key)
	op := keyringOp{name: "use",
		local: func(ks *keyringState) error { return ks.useKey(key) },
		send: func(ctx context.Context, c pb.KeyringClient) (*pb.KeyringResponse, error) {
			return c.Use(ctx, &pb.KeyringUseRequest{SecretKey: canon, LocalOnly: true})
		}}
	if req.LocalOnly {
		return s.n.keyringLocal(op)
	}
	if resp, err := s.n.keyringCheck(ctx, "use", func(nd *pb.KeyringNode) string {
		if !containsString(nd.Keys, canon) {
			return "the key is not installed on this node (install it on every node first)"
		}
		return ""
	}); err != nil || resp != nil {
		return resp, err
	}
	return keyringResult(op.name, s.n.keyringFanOut(ctx, op), codes.Aborted, "")
}

// Remove checks first that no node uses the key as its primary.
func (s *keyringService) Remove(ctx context.Context, req *pb.KeyringRemoveRequest) (*pb.KeyringResponse, error) {
	key, err := ParseKey(req.SecretKey)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "keyring remove: %v", err)
	}
	canon := canonicalKey(key)
	op := keyringOp{name: "remove",
		local: func(ks *keyringState) error { return ks.removeKey(key) },
		send: func(ctx context.Context, c pb.KeyringClient) (*pb.KeyringResponse, error) {
			return c.Remove(ctx, &pb.KeyringRemoveRequest{SecretKey: canon, LocalOnly: true})
		}}
	if req.LocalOnly {
		return s.n.keyringLocal(op)
	}
	if resp, err := s.n.keyringCheck(ctx, "remove", func(nd *pb.KeyringNode) string {
		if nd.PrimaryKey == canon {
			return "the key is this node's primary key in use (make another key the primary first: keyring use)"
		}
		return ""
	}); err != nil || resp != nil {
		return resp, err
	}
	return keyringResult(op.name, s.n.keyringFanOut(ctx, op), codes.Aborted, "")
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// keyringCheck lists every node's keyring and refuses the operation, with
// no node changed, when a node cannot be reached or refuse names a reason
// for a node. It returns nil, nil when the operation may go on.
func (n *Node) keyringCheck(ctx context.Context, name string, refuse func(*pb.KeyringNode) string) (*pb.KeyringResponse, error) {
	list := n.keyringFanOut(ctx, listOp)
	if len(list.FailedNodes) > 0 {
		return keyringResult(name, list, codes.FailedPrecondition, "refused, no node changed: cannot read the keyring of every node")
	}
	for _, nd := range list.Nodes {
		if why := refuse(nd); why != "" {
			nd.Error = why
			list.FailedNodes = append(list.FailedNodes, nd.Name)
		}
	}
	if len(list.FailedNodes) > 0 {
		return keyringResult(name, list, codes.FailedPrecondition, "refused, no node changed")
	}
	return nil, nil
}

// keyringLocal runs op on this node alone (local_only).
func (n *Node) keyringLocal(op keyringOp) (*pb.KeyringResponse, error) {
	if err := op.local(n.keyring); err != nil {
		code := codes.FailedPrecondition
		if !errors.Is(err, ErrEncryptionOff) && !errors.Is(err, ErrKeyNotInstalled) && !errors.Is(err, ErrRemovePrimary) && !errors.Is(err, ErrKeyringFull) {
			code = codes.Internal
		}
		return nil, status.Errorf(code, "keyring %s on %s: %v", op.name, n.cfg.Name, err)
	}
	return summarizeKeyring([]*pb.KeyringNode{n.keyringNode()}), nil
}

// keyringTargets are the members a fan-out goes to: every alive or
// suspect one (a suspect member may well be up; if it is not, the
// operation fails naming it), this node included.
func (n *Node) keyringTargets() []member {
	var out []member
	self := false
	for _, m := range n.members.list() {
		if m.Name == n.cfg.Name {
			self = true
			out = append(out, m)
			continue
		}
		if m.Status == StatusAlive || m.Status == StatusSuspect {
			out = append(out, m)
		}
	}
	if !self {
		out = append(out, member{Name: n.cfg.Name})
	}
	return out
}

// keyringFanOut runs op on every target, this node directly and the
// others through the Keyring service with local_only, concurrently.
func (n *Node) keyringFanOut(ctx context.Context, op keyringOp) *pb.KeyringResponse {
	targets := n.keyringTargets()
	nodes := make([]*pb.KeyringNode, len(targets))
	fctx := fanOutContext(ctx)
	sem := make(chan struct{}, keyringFanOutParallel)
	var wg sync.WaitGroup
	for i, m := range targets {
		if m.Name == n.cfg.Name {
			err := op.local(n.keyring)
			nodes[i] = n.keyringNode()
			if err != nil {
				nodes[i].Error = err.Error()
			}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			nodes[i] = n.keyringRemote(fctx, m, op)
		}()
	}
	wg.Wait()
	return summarizeKeyring(nodes)
}

// keyringRemote runs op on member m.
func (n *Node) keyringRemote(ctx context.Context, m member, op keyringOp) *pb.KeyringNode {
	failed := func(format string, args ...any) *pb.KeyringNode {
		return &pb.KeyringNode{Name: m.Name, Mode: metaMode(m.Meta), GrpcAddr: m.Meta.GRPCAddr, Error: fmt.Sprintf(format, args...)}
	}
	if m.Meta.GRPCAddr == "" {
		return failed("no gRPC address in its gossip metadata")
	}
	conn, err := n.pool.Get(m.Meta.GRPCAddr)
	if err != nil {
		return failed("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, keyringCallTimeout)
	defer cancel()
	resp, err := op.send(ctx, pb.NewKeyringClient(conn))
	if err != nil {
		msg := err.Error()
		if st, ok := status.FromError(err); ok {
			msg = st.Message()
			if st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded {
				msg = fmt.Sprintf("unreachable at %s: %s", m.Meta.GRPCAddr, st.Message())
			}
		}
		return failed("%s", msg)
	}
	if len(resp.Nodes) != 1 || resp.Nodes[0].Name != m.Name {
		return failed("the node at %s answered for %d other nodes", m.Meta.GRPCAddr, len(resp.Nodes))
	}
	return resp.Nodes[0]
}

// fanOutContext carries the caller's token on to each member, and marks
// the call as forwarded once (so that each member knows it did not accept
// it from the caller).
func fanOutContext(ctx context.Context) context.Context {
	out := metadata.Pairs(forwardHopsMetadata, "1")
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(tokenMetadataKey); len(v) > 0 {
			out.Set(tokenMetadataKey, v[0])
		}
		if v := md.Get(forwardHopsMetadata); len(v) > 0 {
			if h, err := strconv.Atoi(v[0]); err == nil {
				out.Set(forwardHopsMetadata, strconv.Itoa(h+1))
			}
		}
	}
	return metadata.NewOutgoingContext(ctx, out)
}

// summarizeKeyring counts, over the nodes that answered, how many hold
// each key and use it as primary.
func summarizeKeyring(nodes []*pb.KeyringNode) *pb.KeyringResponse {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	resp := &pb.KeyringResponse{Nodes: nodes, TotalNodes: uint32(len(nodes))}
	counts := map[string]*pb.KeyringKey{}
	for _, nd := range nodes {
		if nd.Error != "" {
			resp.FailedNodes = append(resp.FailedNodes, nd.Name)
		}
		for _, k := range nd.Keys {
			c := counts[k]
			if c == nil {
				c = &pb.KeyringKey{Key: k}
				counts[k] = c
				resp.Keys = append(resp.Keys, c)
			}
			c.Nodes++
			if k == nd.PrimaryKey {
				c.PrimaryNodes++
			}
		}
	}
	sort.Slice(resp.Keys, func(i, j int) bool { return resp.Keys[i].Key < resp.Keys[j].Key })
	return resp
}

// keyringResult is resp when every node succeeded, else an error status
// with code naming the failed nodes and their errors, resp in its
// details.
func keyringResult(name string, resp *pb.KeyringResponse, code codes.Code, what string) (*pb.KeyringResponse, error) {
	if len(resp.FailedNodes) == 0 {
		return resp, nil
	}
	var parts []string
	for _, nd := range resp.Nodes {
		if nd.Error != "" {
			parts = append(parts, fmt.Sprintf("%s: %s", nd.Name, nd.Error))
		}
	}
	if what == "" {
		what = fmt.Sprintf("failed on %d of %d nodes", len(resp.FailedNodes), resp.TotalNodes)
	}
	st := status.New(code, fmt.Sprintf("keyring %s: %s (%s): %s", name, what, strings.Join(resp.FailedNodes, ", "), strings.Join(parts, "; ")))
	if d, err := st.WithDetails(protoadapt.MessageV1Of(resp)); err == nil {
		st = d
	}
	return nil, st.Err()
}

// KeyringResponseOf returns the per-node results a failed Keyring call
// carries in its status details, or nil.
func KeyringResponseOf(err error) *pb.KeyringResponse {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if r, ok := d.(*pb.KeyringResponse); ok {
			return r
		}
	}
	return nil
}
