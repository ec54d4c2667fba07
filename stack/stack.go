package stack

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/backup"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/health"
	"github.com/steward/steward/hotcode/checkpoint"
	"github.com/steward/steward/hotcode/deploy"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/node"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/sandbox/manager"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/supervision"
)

// Config chooses and configures the layers. A nil layer config leaves that
// layer out (tests run only what they look at); supervision is always
// there, since every other layer acts on its runtime.
type Config struct {
	// Runtime configures the runtime; NodeName, Logger and Router are set
	// here, Catalog when empty (the native behaviors). Runtime.Creation is
	// the caller's: an agent counts it in its data dir before New
	// (node.NextCreation), so its PIDs are not reused across restarts.
	Runtime      actor.Config
	Supervision  supervision.Config
	Coordination *coordination.Config
	Snapshot     *snapshot.Config
	Health       *health.Config
	Backup       *backup.Config
	// Modules is the WebAssembly module store (hotcode/store).
	Modules *store.Config
	// Deployments runs the deployment layer (hotcode/deploy); it needs
	// Coordination and Modules.
	Deployments bool
	// Checkpoints runs the checkpoint layer (hotcode/checkpoint); it needs
	// Deployments.
	Checkpoints bool
	// Sandboxes runs the sandbox layer (sandbox/manager).
	Sandboxes *manager.Config
}

// DefaultConfig runs every layer with its defaults.
func DefaultConfig() Config {
	coord, snap, hl, bk, mods := coordination.DefaultConfig(), snapshot.DefaultConfig(), health.DefaultConfig(), backup.DefaultConfig(), store.DefaultConfig()
	sbx := manager.DefaultConfig()
	return Config{
		Runtime:      actor.DefaultConfig(),
		Supervision:  supervision.DefaultConfig(),
		Coordination: &coord, Snapshot: &snap, Health: &hl, Backup: &bk, Modules: &mods,
		Deployments: true, Checkpoints: true, Sandboxes: &sbx,
	}
}

// Stack is one node's runtime and layers.
type Stack struct {
	Runtime      *actor.Runtime
	Supervision  *supervision.Layer
	Coordination *coordination.Layer
	Snapshot     *snapshot.Layer
	Health       *health.Layer
	Backup       *backup.Plugin
	Modules      *store.Layer
	Deploy       *deploy.Layer
	Checkpoint   *checkpoint.Layer
	Sandboxes    *manager.Layer
}

// New builds the runtime and layers of the node named nodeName.
func New(nodeName string, logger hclog.Logger, cfg Config) (*Stack, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	router := supervision.NewRouter()
	rc := cfg.Runtime
	rc.NodeName, rc.Router = nodeName, router
	rc.Logger = logger.Named("runtime")
	if rc.Catalog == nil {
		rc.Catalog = behaviors.NewCatalog()
	}
	rt, err := actor.New(rc)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	s := &Stack{Runtime: rt, Supervision: supervision.New(cfg.Supervision, rt, router)}
	if cfg.Coordination != nil {
		s.Coordination = coordination.New(*cfg.Coordination, rt)
	}
	if cfg.Snapshot != nil {
		if s.Coordination == nil {
			return nil, fmt.Errorf("snapshot: restores run plans: the coordination layer is needed")
		}
		s.Snapshot = snapshot.New(*cfg.Snapshot, rt, s.Supervision, s.Coordination)
	}
	if cfg.Health != nil {
		s.Health = health.New(*cfg.Health, rt, s.Supervision)
	}
	if cfg.Backup != nil {
		s.Backup = backup.New(*cfg.Backup)
	}
	if cfg.Modules != nil {
		s.Modules = store.New(*cfg.Modules, rt)
	}
	if cfg.Deployments {
		if s.Coordination == nil || s.Modules == nil {
			return nil, fmt.Errorf("deployments: batches run as plans of stored modules: the coordination and module layers are needed")
		}
		var snaps deploy.Snapshotter
		if s.Snapshot != nil {
			snaps = s.Snapshot
		}
		s.Deploy = deploy.New(rt, s.Coordination, snaps)
	}
	if cfg.Checkpoints {
		if s.Deploy == nil {
			return nil, fmt.Errorf("checkpoints: rollbacks run deployments: the deployment layer is needed")
		}
		s.Checkpoint = checkpoint.New(rt, s.Coordination, s.Deploy)
	}
	if cfg.Sandboxes != nil {
		s.Sandboxes = manager.New(*cfg.Sandboxes, s.Supervision)
		if s.Modules != nil {
			mods := s.Modules
			s.Sandboxes.SetModuleCheck(func(name, version string, p sandbox.Policy) error {
				host := mods.Host()
				if host == nil {
					return fmt.Errorf("module %s@%s: this node runs no wasm host", name, version)
				}
				m, ok := host.Module(name, version)
				if !ok {
					return fmt.Errorf("module %s@%s is not loaded on this node", name, version)
				}
				return m.CheckSandbox(p.Name, p.Actor())
			})
			s.Sandboxes.SetSandboxDir(func() string {
				if h := mods.Host(); h != nil {
					return h.SandboxDir()
				}
				return ""
			})
		}
	}
	return s, nil
}

// Plugins are the layers to attach to the node (node.Config.Plugins), in
// the order they attach: each after what it uses.
func (s *Stack) Plugins() []node.Plugin {
	out := []node.Plugin{s.Supervision}
	if s.Coordination != nil {
		out = append(out, s.Coordination)
	}
	if s.Snapshot != nil {
		out = append(out, s.Snapshot)
	}
	if s.Health != nil {
		out = append(out, s.Health)
	}
	if s.Backup != nil {
		out = append(out, s.Backup)
	}
	if s.Modules != nil {
		out = append(out, s.Modules)
	}
	if s.Deploy != nil {
		out = append(out, s.Deploy)
	}
	if s.Checkpoint != nil {
		out = append(out, s.Checkpoint)
	}
	if s.Sandboxes != nil {
		out = append(out, s.Sandboxes)
	}
	return out
}
