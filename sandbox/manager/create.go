package manager

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
)

// prepare checks definitions on the leader and builds the group's
// command: each tree validated against the catalog, its modules resolved
// to the versions it may run, each placed ("auto": by the supervision
// layer's placement, spreading the parts of one group), names free.
func (l *Layer) prepare(ctx context.Context, name string, standalone bool, defs []sandbox.Definition, deadline time.Duration) (*pb.ExperimentCreateCommand, error) {
	if deadline <= 0 {
		deadline = l.cfg.CreateDeadline
	}
	if deadline > MaxCreateDeadline {
		return nil, fmt.Errorf("%w: deadline %s is over the limit of %s", transport.ErrInvalidRequest, deadline, MaxCreateDeadline)
	}
	st := l.node.State()
	opts := l.sup.ValidateOptions()
	prefix := "exp-"
	if standalone {
		prefix = "sbx-"
	}
	now := l.clock.Now()
	cmd := &pb.ExperimentCreateCommand{
		Experiment: &pb.ExperimentRecord{Id: newID(prefix), Name: name, Standalone: standalone,
			DeadlineUnixNano: now.Add(deadline).UnixNano(), CreatedBy: l.node.Name()},
		MaxSandboxes: uint32(l.cfg.MaxSandboxes), MaxSandboxesPerNode: uint32(l.cfg.MaxPerNode),
		MaxFailedKept: uint32(l.cfg.MaxFailedKept),
	}
	placedHere := map[string]int{}
	for i, d := range defs {
		where := fmt.Sprintf("sandbox %q", d.Name)
		if !standalone {
			where = fmt.Sprintf("sandboxes[%d] (%q)", i, d.Name)
		}
		if err := spec.Validate(d.Tree, opts); err != nil {
			return nil, fmt.Errorf("%w: %s: tree: %v", transport.ErrInvalidRequest, where, err)
		}
		if rec, _ := st.Tree(d.Name); rec != nil {
			return nil, fmt.Errorf("%w: %s: a tree named %q exists", transport.ErrConflict, where, d.Name)
		}
		if rec, _ := st.Sandbox(d.Name); rec != nil {
			return nil, fmt.Errorf("%w: %s: a sandbox named %q exists", transport.ErrConflict, where, d.Name)
		}
		mods, err := l.modules(d)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", transport.ErrInvalidRequest, where, err)
		}
		auto := d.Node == "" || d.Node == "auto"
		placed := d.Node
		if auto {
			if placed, err = l.placeSpread(ctx, placedHere); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		} else if err := l.sup.KnownNode(d.Node); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		placedHere[placed]++
		p := d.Policy
		p.Name = d.Name
		cmd.Sandboxes = append(cmd.Sandboxes, &pb.SandboxRecord{
			Name: d.Name, Node: placed, AutoPlaced: auto,
			SpecJson: spec.CanonicalTree(d.Tree), PolicyJson: sandbox.Canonical(p), Modules: mods,
		})
	}
	return cmd, nil
}

// placeSpread places one part of a group: the supervision layer's choice,
// unless this group already put a part there and another alive node has
// none of it yet.
func (l *Layer) placeSpread(ctx context.Context, taken map[string]int) (string, error) {
	first, err := l.sup.Place(ctx, "")
	if err != nil || taken[first] == 0 {
		return first, err
	}
	if alt, err := l.sup.Place(ctx, first); err == nil && taken[alt] < taken[first] {
		return alt, nil
	}
	return first, nil
}

// modules lists the modules a definition's tree runs with the versions
// each may run: a pinned ref its version, a ref that follows the active
// version the version active now. A module the sandbox cannot run (the
// module check) is refused here.
func (l *Layer) modules(d sandbox.Definition) ([]*pb.SandboxModule, error) {
	cat := l.sup.Runtime().Catalog()
	versions := map[string]map[string]bool{}
	var errs []string
	var walk func(path string, cs []spec.ChildSpec)
	walk = func(path string, cs []spec.ChildSpec) {
		for _, c := range cs {
			p := path + "/" + c.ID
			walk(p, c.Children)
			if c.Module == "" {
				continue
			}
			ref, err := spec.ParseModuleRef(c.Module)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", strings.TrimPrefix(p, "/"), err))
				continue
			}
			version := ref.Version
			if version == "" {
				b, err := cat.ResolveModule(ref.String())
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: %v", strings.TrimPrefix(p, "/"), err))
					continue
				}
				if _, v, ok := strings.Cut(b, "@"); ok {
					version = v
				}
			}
			if versions[ref.Name] == nil {
				versions[ref.Name] = map[string]bool{}
			}
			versions[ref.Name][version] = true
			if l.checkModule != nil {
				if err := l.checkModule(ref.Name, version, d.Policy); err != nil {
					errs = append(errs, fmt.Sprintf("%s: %v", strings.TrimPrefix(p, "/"), err))
				}
			}
		}
	}
	walk("", d.Tree.Children)
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	names := make([]string, 0, len(versions))
	for n := range versions {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*pb.SandboxModule
	for _, n := range names {
		m := &pb.SandboxModule{Name: n}
		for v := range versions[n] {
			m.Versions = append(m.Versions, v)
		}
		sort.Strings(m.Versions)
		out = append(out, m)
	}
	return out, nil
}

// commit proposes the group and returns its commit index.
func (l *Layer) commit(ctx context.Context, cmd *pb.ExperimentCreateCommand) (uint64, error) {
	return l.node.Propose(ctx, pb.CommandType_COMMAND_TYPE_EXPERIMENT_CREATE, cmd)
}

// await waits, on this node's replica, until the group committed at
// index idx is running or failed (or gone: destroyed meanwhile), or ctx
// ends. A failed group is ErrCreateFailed with its reason. A replica that
// has not applied idx yet (a follower, or a client agent, behind the
// leader that committed it) does not hold the group: it is awaited, not
// taken for destroyed.
func (l *Layer) await(ctx context.Context, id string, idx uint64) (*pb.ExperimentRecord, error) {
	return l.awaitUntil(ctx, id, idx, true)
}

// applied waits until this node's replica has applied index idx, where
// the group id was committed, and returns the group as it is then (nil:
// destroyed since): what a create that does not wait reads.
func (l *Layer) applied(ctx context.Context, id string, idx uint64) (*pb.ExperimentRecord, error) {
	return l.awaitUntil(ctx, id, idx, false)
}

func (l *Layer) awaitUntil(ctx context.Context, id string, idx uint64, up bool) (*pb.ExperimentRecord, error) {
	for {
		st := l.node.State()
		if st.LatestIndex() < idx {
			// Not applied here yet.
			if err := st.WaitIndex(ctx, idx); err != nil {
				return nil, err
			}
			continue
		}
		ws := memdb.NewWatchSet()
		e, err := st.Experiment(ws, id)
		if err != nil {
			return nil, err
		}
		switch {
		case !up:
			return e, nil
		case e == nil:
			return nil, fmt.Errorf("%w: %s was destroyed before it was up", ErrCreateFailed, id)
		case e.Status == state.ExperimentRunning:
			return e, nil
		case e.Status == state.ExperimentFailed:
			return e, fmt.Errorf("%w: %s: %s", ErrCreateFailed, id, e.Reason)
		}
		if err := st.WaitChange(ctx, ws, time.Time{}); err != nil {
			return e, err
		}
	}
}
