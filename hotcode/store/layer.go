package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/protobuf/proto"
)

// BehaviorPrefix starts the catalog name of a stored module version.
const BehaviorPrefix = "wasm:"

// BehaviorName is the catalog name a stored version runs under,
// "wasm:NAME@VERSION": a tree spec's behavior.
func BehaviorName(name, version string) string { return BehaviorPrefix + state.ModuleID(name, version) }

// ParseBehavior reads a behavior name of a stored version; ok is false for
// any other behavior.
func ParseBehavior(behavior string) (name, version string, ok bool) {
	ref, found := strings.CutPrefix(behavior, BehaviorPrefix)
	if !found {
		return "", "", false
	}
	name, version, ok = strings.Cut(ref, "@")
	return name, version, ok && name != "" && version != ""
}

// Events this layer publishes on the runtime's event stream.
const (
	// EventModuleValidated: a pushed module passed validation (Detail: the
	// module, its level and size).
	EventModuleValidated actor.EventType = "module_validated"
	// EventModuleRefused: a pushed module was refused (Reason: every
	// failed check).
	EventModuleRefused actor.EventType = "module_refused"
)

// cluster is what the layer needs of its node.
type cluster interface {
	Name() string
	DataDir() string
	State() *state.Store
	Server() *transport.Server
	Pool() *transport.Pool
	IsLeader() bool
	Leader() (name, grpcAddr string)
	Propose(ctx context.Context, t pb.CommandType, payload proto.Message) (uint64, error)
}

// Layer is the module store layer of one node.
type Layer struct {
	cfg    Config
	rt     *actor.Runtime
	node   cluster
	logger hclog.Logger
	host   *hotcode.Host

	mu sync.Mutex
	// loaded maps a version's id to the SHA-256 of the bytes in the
	// catalog; failed to those that did not compile (tried again only
	// when their record changes).
	loaded  map[string]string
	failed  map[string]string
	changed chan struct{}

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// New returns the layer of the node whose runtime is rt.
func New(cfg Config, rt *actor.Runtime) *Layer {
	ctx, cancel := context.WithCancel(context.Background())
	return &Layer{cfg: cfg, rt: rt, loaded: map[string]string{}, failed: map[string]string{},
		changed: make(chan struct{}), ctx: ctx, cancel: cancel}
}

// Name implements node.Plugin.
func (l *Layer) Name() string { return "modules" }

// Host is this node's wasm host (nil before Attach).
func (l *Layer) Host() *hotcode.Host { return l.host }

// Attach implements node.Plugin: the Modules service, the wasm host and
// the loop that loads stored versions into the catalog.
func (l *Layer) Attach(n node.Host) error {
	if err := l.cfg.Validate(); err != nil {
		return err
	}
	l.node = n
	l.logger = n.Logger().Named("modules")
	hc := l.cfg.Host
	if hc.CacheDir == "" {
		hc.CacheDir = filepath.Join(n.DataDir(), "wasm-cache")
	}
	if hc.Logger == nil {
		hc.Logger = l.logger.Named("wasm")
	}
	if hc.WASIDir == "" {
		// The parent of the directories WASI modules get (one per
		// process; a sandbox's under _sandboxes/<sandbox>).
		hc.WASIDir = filepath.Join(n.DataDir(), "wasi")
	}
	host, err := hotcode.NewHost(l.ctx, hc)
	if err != nil {
		return fmt.Errorf("wasm host: %w", err)
	}
	host.Bind(l.rt)
	l.host = host
	l.rt.Catalog().SetModuleResolver(l.Resolve)
	pb.RegisterModulesServer(n.Server().GRPC(), &service{l: l})
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.watch()
	}()
	n.OnShutdown(l.stop)
	return nil
}

func (l *Layer) stop() {
	l.stopOnce.Do(func() {
		l.cancel()
		l.wg.Wait()
		_ = l.host.Close(context.Background())
	})
}

// watch loads every stored version into the catalog, and takes out those
// removed, until the node stops.
func (l *Layer) watch() {
	for {
		st := l.node.State()
		ws := memdb.NewWatchSet()
		_, versions, err := st.AllModuleVersions(ws)
		if err != nil {
			l.logger.Error("read module versions", "error", err)
		} else {
			l.sync(st, versions)
		}
		if err := st.WaitChange(l.ctx, ws, time.Time{}); err != nil {
			return
		}
	}
}

func (l *Layer) sync(st *state.Store, versions []*pb.ModuleVersion) {
	present := map[string]bool{}
	for _, v := range versions {
		present[v.Id] = true
		l.mu.Lock()
		done := l.loaded[v.Id] == v.Sha256 || l.failed[v.Id] == v.Sha256
		l.mu.Unlock()
		if done {
			continue
		}
		err := l.load(st, v)
		l.mu.Lock()
		if err != nil {
			l.logger.Error("load module", "module", v.Id, "error", err)
			l.failed[v.Id] = v.Sha256
		} else {
			l.loaded[v.Id] = v.Sha256
			delete(l.failed, v.Id)
		}
		l.notifyLocked()
		l.mu.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.loaded {
		if !present[id] {
			name, version, _ := strings.Cut(id, "@")
			l.rt.Catalog().Remove(BehaviorName(name, version))
			delete(l.loaded, id)
			l.notifyLocked()
		}
	}
	for id := range l.failed {
		if !present[id] {
			delete(l.failed, id)
		}
	}
}

func (l *Layer) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// load compiles one stored version (once: the host gives the same module
// for the same bytes, and its cache keeps the compilation on disk) and
// puts its entry in the catalog.
func (l *Layer) load(st *state.Store, v *pb.ModuleVersion) error {
	bin, err := st.ModuleData(v)
	if err != nil {
		return err
	}
	m, err := l.host.Compile(l.ctx, bin)
	if err != nil {
		return err
	}
	if m.Name() != v.Name || m.Version() != v.Version {
		return fmt.Errorf("the binary is %s, the record %s", m.Ref(), v.Id)
	}
	return l.rt.Catalog().Replace(m.Entry(hotcode.EntryOptions{Name: BehaviorName(v.Name, v.Version)}))
}

// waitLoaded waits until this node's catalog has the version with these
// bytes, or it failed to load (its error), or ctx ends.
func (l *Layer) waitLoaded(ctx context.Context, id, sha string) error {
	for {
		l.mu.Lock()
		loaded, failed, ch := l.loaded[id] == sha, l.failed[id] == sha, l.changed
		l.mu.Unlock()
		switch {
		case loaded:
			return nil
		case failed:
			return fmt.Errorf("module %s is stored but this node could not load it (see its log)", id)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: module %s is stored, not yet loaded on %s", transport.ErrTimeout, id, l.node.Name())
		}
	}
}

// Loaded reports whether this node's catalog runs the stored version.
func (l *Layer) Loaded(name, version string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.loaded[state.ModuleID(name, version)]
	return ok
}

// Resolve is the catalog's module resolver (actor.ModuleResolver), set on
// this node's catalog by Attach: it turns a tree spec's module ref into the
// behavior of a stored version, reading this node's replicated state. NAME
// (following) gives the version the module's active record names,
// NAME@VERSION (pinned) that version; either must be stored. The runtime
// calls it at every start and restart of a module worker; the leader's
// spec validation calls it too, so a spec naming a module or version that
// is not stored is refused before anything is committed. The behavior may
// not be in this node's catalog yet (a version just committed is loading):
// the start then fails on the unknown behavior, and is retried.
func (l *Layer) Resolve(ref string) (string, error) {
	r, err := spec.ParseModuleRef(ref)
	if err != nil {
		return "", err
	}
	st := l.node.State()
	version := r.Version
	if !r.Pinned() {
		a, err := st.ModuleActive(r.Name)
		if err != nil {
			return "", err
		}
		if a == nil {
			return "", fmt.Errorf("no module %q in the store%s", r.Name, storedVersions(st, r.Name))
		}
		version = a.Version
	}
	v, err := st.ModuleVersion(r.Name, version)
	if err != nil {
		return "", err
	}
	if v == nil {
		if !r.Pinned() {
			return "", fmt.Errorf("the active version %q of module %q is not stored%s", version, r.Name, storedVersions(st, r.Name))
		}
		return "", fmt.Errorf("module %q has no version %q in the store%s", r.Name, version, storedVersions(st, r.Name))
	}
	return BehaviorName(r.Name, version), nil
}

// storedVersions is " (stored: 1, 2)", or "" when the module has none.
func storedVersions(st *state.Store, name string) string {
	_, vs, err := st.ModuleVersions(nil, name)
	if err != nil || len(vs) == 0 {
		return ""
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return " (stored: " + strings.Join(out, ", ") + ")"
}

// pinnedBy maps each version of the module a tree spec runs to the trees,
// sorted: a worker's behavior "wasm:NAME@VERSION" or pinned module ref
// "NAME@VERSION" (a ref following the active version pins nothing: the
// active version is never evicted nor deleted). A spec this binary cannot
// decode pins nothing it can see.
func pinnedBy(st *state.Store, name string) (map[string][]string, error) {
	_, trees, err := st.Trees(nil, "")
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, rec := range trees {
		t, err := state.DecodeTree(rec)
		if err != nil {
			continue
		}
		seen := map[string]bool{}
		walkBehaviors(t.SupervisorSpec, func(b string) {
			if n, v, ok := ParseBehavior(b); ok && n == name && !seen[v] {
				seen[v] = true
				out[v] = append(out[v], rec.Name)
			}
		})
	}
	for _, ts := range out {
		sort.Strings(ts)
	}
	return out, nil
}

func walkBehaviors(s spec.SupervisorSpec, f func(string)) {
	for _, c := range s.Children {
		if c.Behavior != "" {
			f(c.Behavior)
		}
		if r, err := spec.ParseModuleRef(c.Module); err == nil && r.Pinned() {
			f(BehaviorName(r.Name, r.Version))
		}
		walkBehaviors(c.SupervisorSpec, f)
	}
}
