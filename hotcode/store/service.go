package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

func init() {
	transport.RegisterCode("hotcode.invalid_module", hotcode.ErrInvalidModule, codes.InvalidArgument)
	transport.RegisterCode("state.in_use", state.ErrInUse, codes.FailedPrecondition)
}

// pushMessageBytes is the data of one Push message when a push is
// forwarded to the leader (bytes).
const pushMessageBytes = 1 << 20

type service struct {
	pb.UnimplementedModulesServer
	l *Layer
}

func (s *service) srv() *transport.Server { return s.l.node.Server() }

// pushRequest is one whole push: the header and the binary.
type pushRequest struct {
	head *pb.ModulePushChunk
	bin  []byte
}

// Push receives a module binary (at most hotcode.MaxModuleBytes: a larger
// one is refused without reading it all), then validates and commits it
// on the leader.
func (s *service) Push(stream grpc.ClientStreamingServer[pb.ModulePushChunk, pb.ModulePushResponse]) error {
	var req pushRequest
	var buf bytes.Buffer
	for {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if req.head == nil {
			req.head = &pb.ModulePushChunk{Name: c.Name, Version: c.Version, Safety: c.Safety, ConfirmDangerous: c.ConfirmDangerous, PushedBy: c.PushedBy, Signature: c.Signature}
		}
		if buf.Len()+len(c.Data) > hotcode.MaxModuleBytes {
			err := fmt.Errorf("%w: module %q refused: size: larger than the %d bytes allowed", hotcode.ErrInvalidModule, req.head.Name, hotcode.MaxModuleBytes)
			s.l.refused(req.head.Name, err)
			return transport.ToStatus(err)
		}
		buf.Write(c.Data)
	}
	if req.head == nil || req.head.Name == "" {
		return transport.ToStatus(fmt.Errorf("%w: a push names its module", transport.ErrInvalidRequest))
	}
	if _, err := hotcode.ParseLevel(req.head.Safety); err != nil {
		return transport.ToStatus(fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err))
	}
	req.bin = buf.Bytes()
	resp, err := transport.OnLeader(stream.Context(), s.srv(), &req, s.forwardPush, s.pushLocal)
	if err != nil {
		return transport.ToStatus(err)
	}
	return stream.SendAndClose(resp)
}

func (s *service) forwardPush(ctx context.Context, c *grpc.ClientConn, req *pushRequest) (*pb.ModulePushResponse, error) {
	up, err := pb.NewModulesClient(c).Push(ctx)
	if err != nil {
		return nil, err
	}
	data := req.bin
	first := true
	for first || len(data) > 0 {
		n := min(len(data), pushMessageBytes)
		m := &pb.ModulePushChunk{Data: data[:n]}
		if first {
			m.Name, m.Version, m.Safety, m.ConfirmDangerous, m.PushedBy = req.head.Name, req.head.Version, req.head.Safety, req.head.ConfirmDangerous, req.head.PushedBy
			m.Signature = req.head.Signature
			first = false
		}
		if err := up.Send(m); err != nil {
			return nil, err
		}
		data = data[n:]
	}
	return up.CloseAndRecv()
}

// pushLocal validates and commits a push on the leader.
func (s *service) pushLocal(ctx context.Context, req *pushRequest) (*pb.ModulePushResponse, error) {
	h := req.head
	st := s.l.node.State()
	level, _ := hotcode.ParseLevel(h.Safety)
	rep, err := hotcode.Validate(ctx, req.bin, hotcode.ValidateOptions{
		Name: h.Name, Level: level, MaxMemoryPages: s.l.cfg.Host.MaxMemoryPages, Confirmed: h.ConfirmDangerous,
		SmokeDeadline: s.l.cfg.Host.MessageDeadline, Dependency: func(name, rng string) bool { return hasVersion(st, name, rng) },
	})
	// The signature check, listed with the others when it fails.
	signer, sigProblem, sigErr := checkSignature(st, level, req.bin, h.Signature)
	if sigErr != nil {
		return nil, sigErr
	}
	err = withProblem(err, h.Name, level, sigProblem)
	if err == nil && h.Version != "" && rep.Manifest.Version != h.Version {
		err = fmt.Errorf("%w: module %q refused: version: the manifest says version %s, the push %s", hotcode.ErrInvalidModule, h.Name, rep.Manifest.Version, h.Version)
	}
	if err == nil {
		if old, _ := st.ModuleVersion(h.Name, rep.Manifest.Version); old != nil && old.Sha256 != rep.SHA256 {
			err = fmt.Errorf("%w: module %q refused: version: %s is already stored with other bytes (sha256 %s); a new build needs a new version",
				hotcode.ErrInvalidModule, h.Name, old.Id, old.Sha256)
		} else if old != nil {
			// The same bytes: nothing to commit.
			return &pb.ModulePushResponse{Meta: s.srv().WriteMeta(old.ModifyIndex), Module: old, Unchanged: true}, nil
		}
	}
	if err != nil {
		s.l.refused(h.Name, err)
		return nil, err
	}
	v := &pb.ModuleVersion{Name: h.Name, Version: rep.Manifest.Version, Sha256: rep.SHA256, Size: uint64(len(req.bin)),
		ManifestJson: manifestJSON(rep.Manifest), Safety: string(rep.Level), MemoryMinPages: rep.MemoryMinPages,
		Warnings: rep.Warnings, PushedBy: h.PushedBy, PushedAtUnixNano: time.Now().UnixNano()}
	if signer != nil {
		v.SignedBy, v.SignerFingerprint = signer.Name, Fingerprint(signer.PublicKey)
	}
	for _, u := range rep.Capabilities {
		v.Capabilities = append(v.Capabilities, &pb.ModuleUse{Function: u.Function, Class: string(u.Class)})
	}
	for data := req.bin; len(data) > 0; {
		n := min(len(data), state.MaxModuleChunkBytes)
		sum := sha256.Sum256(data[:n])
		key := hex.EncodeToString(sum[:])
		v.Chunks = append(v.Chunks, key)
		if ok, _ := st.ModuleChunkStored(key); !ok {
			if _, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_MODULE_PUT_CHUNK,
				&pb.ModulePutChunkCommand{Sha256: sum[:], Data: data[:n], MaxTotalBytes: s.l.cfg.MaxTotalBytes}); err != nil {
				return nil, err
			}
		}
		data = data[n:]
	}
	pins, err := pinnedBy(st, h.Name)
	if err != nil {
		return nil, err
	}
	cmd := &pb.ModuleCommitCommand{Version: v, HistoryLimit: s.l.cfg.HistoryLimit, MaxModuleBytes: hotcode.MaxModuleBytes,
		MaxTotalBytes: s.l.cfg.MaxTotalBytes, ActivateIfNone: true, GcGraceNanos: s.l.cfg.ChunkGrace.Nanoseconds()}
	for ver := range pins {
		cmd.Protected = append(cmd.Protected, ver)
	}
	sort.Strings(cmd.Protected)
	res, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_MODULE_COMMIT, cmd)
	if err != nil {
		return nil, err
	}
	out, ok := res.Value.(*pb.ModuleCommitResult)
	if !ok {
		return nil, fmt.Errorf("module commit answered %T", res.Value)
	}
	s.l.rt.Publish(actor.Event{Type: EventModuleValidated,
		Detail: fmt.Sprintf("%s validated at %s: %d bytes, sha256 %s", out.Version.Id, v.Safety, v.Size, v.Sha256)})
	lctx, cancel := context.WithTimeout(ctx, s.l.cfg.LoadTimeout)
	defer cancel()
	if err := s.l.waitLoaded(lctx, out.Version.Id, out.Version.Sha256); err != nil {
		return nil, err
	}
	return &pb.ModulePushResponse{Meta: s.srv().WriteMeta(res.Index), Module: out.Version, Unchanged: out.Unchanged, Evicted: out.Evicted}, nil
}

// refused publishes a refusal with every failed check.
func (l *Layer) refused(name string, err error) {
	l.rt.Publish(actor.Event{Type: EventModuleRefused, Reason: actor.Reason(err.Error()), Detail: "module " + name + " refused"})
}

// hasVersion reports whether a version of name in the range is stored.
func hasVersion(st *state.Store, name, rng string) bool {
	_, vs, err := st.ModuleVersions(nil, name)
	if err != nil {
		return false
	}
	for _, v := range vs {
		if ok, err := hotcode.MatchRange(rng, v.Version); err == nil && ok {
			return true
		}
	}
	return false
}

func (s *service) List(ctx context.Context, req *pb.ListModulesRequest) (*pb.ListModulesResponse, error) {
	return transport.Read(ctx, s.srv(), req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ListModulesRequest) (*pb.ListModulesResponse, error) {
			return pb.NewModulesClient(c).List(ctx, r)
		},
		func(st *state.Store, _ *pb.ListModulesRequest) (*pb.ListModulesResponse, error) {
			idx, vs, err := st.AllModuleVersions(nil)
			if err != nil {
				return nil, err
			}
			resp := &pb.ListModulesResponse{Meta: s.srv().ReadMeta(idx), MaxBytes: s.l.cfg.MaxTotalBytes}
			if resp.StoredBytes, err = st.ModuleStoredBytes(); err != nil {
				return nil, err
			}
			var cur *pb.ModuleSummary
			for _, v := range vs {
				if cur == nil || cur.Name != v.Name {
					cur = &pb.ModuleSummary{Name: v.Name}
					if a, _ := st.ModuleActive(v.Name); a != nil {
						cur.Active = a.Version
					}
					resp.Modules = append(resp.Modules, cur)
				}
				cur.Latest = v.Version
				cur.Versions++
				cur.Bytes += v.Size
			}
			return resp, nil
		})
}

func (s *service) History(ctx context.Context, req *pb.ModuleHistoryRequest) (*pb.ModuleHistoryResponse, error) {
	return transport.Read(ctx, s.srv(), req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ModuleHistoryRequest) (*pb.ModuleHistoryResponse, error) {
			return pb.NewModulesClient(c).History(ctx, r)
		},
		func(st *state.Store, r *pb.ModuleHistoryRequest) (*pb.ModuleHistoryResponse, error) {
			idx, vs, err := st.ModuleVersions(nil, r.Name)
			if err != nil {
				return nil, err
			}
			if len(vs) == 0 {
				return nil, fmt.Errorf("%w: no module %q is stored", transport.ErrNotFound, r.Name)
			}
			resp := &pb.ModuleHistoryResponse{Meta: s.srv().ReadMeta(idx), Versions: vs}
			if a, _ := st.ModuleActive(r.Name); a != nil {
				resp.Active = a.Version
			}
			return resp, nil
		})
}

func (s *service) Inspect(ctx context.Context, req *pb.InspectModuleRequest) (*pb.InspectModuleResponse, error) {
	return transport.Read(ctx, s.srv(), req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.InspectModuleRequest) (*pb.InspectModuleResponse, error) {
			return pb.NewModulesClient(c).Inspect(ctx, r)
		},
		func(st *state.Store, r *pb.InspectModuleRequest) (*pb.InspectModuleResponse, error) {
			v, err := st.ModuleVersion(r.Name, r.Version)
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, fmt.Errorf("%w: module %s is not stored", transport.ErrNotFound, state.ModuleID(r.Name, r.Version))
			}
			resp := &pb.InspectModuleResponse{Meta: s.srv().ReadMeta(st.TableIndex("modules", "module_active")), Module: v}
			if a, _ := st.ModuleActive(r.Name); a != nil && a.Version == r.Version {
				resp.Active = true
			}
			pins, err := pinnedBy(st, r.Name)
			if err != nil {
				return nil, err
			}
			resp.PinnedBy = pins[r.Version]
			return resp, nil
		})
}

// Delete removes a stored version, refused while a tree spec runs it or
// it is the active version.
func (s *service) Delete(ctx context.Context, req *pb.DeleteModuleRequest) (*pb.DeleteModuleResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.DeleteModuleRequest) (*pb.DeleteModuleResponse, error) {
			return pb.NewModulesClient(c).Delete(ctx, r)
		},
		func(ctx context.Context, r *pb.DeleteModuleRequest) (*pb.DeleteModuleResponse, error) {
			st := s.l.node.State()
			pins, err := pinnedBy(st, r.Name)
			if err != nil {
				return nil, err
			}
			if trees := pins[r.Version]; len(trees) > 0 {
				return nil, fmt.Errorf("%w: module %s is in use: tree %s runs it", state.ErrInUse,
					state.ModuleID(r.Name, r.Version), strings.Join(trees, ", tree "))
			}
			res, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_MODULE_DELETE,
				&pb.ModuleDeleteCommand{Name: r.Name, Version: r.Version, GcGraceNanos: s.l.cfg.ChunkGrace.Nanoseconds()})
			if err != nil {
				return nil, err
			}
			return &pb.DeleteModuleResponse{Meta: s.srv().WriteMeta(res.Index)}, nil
		})
}

func manifestJSON(m *hotcode.Manifest) []byte {
	b, _ := json.Marshal(m)
	return b
}
