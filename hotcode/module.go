package hotcode

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"

	"github.com/steward/steward/actor"
)

// Module is one compiled module version, instantiated once per process.
type Module struct {
	host       *Host
	cm         wazero.CompiledModule
	man        *Manifest
	sum        [32]byte
	hasDealloc bool
	hasHealth  bool
	hasBefore  bool
	wasi       *Capability
}

// Ref renders a module version as "name@version", the catalog name of its
// behavior.
func Ref(name, version string) string { return name + "@" + version }

func newModule(h *Host, cm wazero.CompiledModule, sum [32]byte) (*Module, error) {
	// The manifest as wazero reads it (WithCustomSections).
	var data [][]byte
	for _, s := range cm.CustomSections() {
		if s.Name() == ManifestSection {
			data = append(data, s.Data())
		}
	}
	if len(data) != 1 {
		return nil, fmt.Errorf("%w: %w: %d %q custom sections (want one)", ErrInvalidModule, ErrNoManifest, len(data), ManifestSection)
	}
	man, err := ParseManifest(data[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	fns := cm.ExportedFunctions()
	m := &Module{host: h, cm: cm, man: man, sum: sum}
	_, m.hasDealloc = fns["dealloc"]
	_, m.hasHealth = fns["health"]
	_, m.hasBefore = fns["before_upgrade"]
	for _, d := range cm.ImportedFunctions() {
		if mod, _, _ := d.Import(); mod == WASIModule {
			c, _ := man.WASI()
			m.wasi = &c
			break
		}
	}
	return m, nil
}

// Name is the manifest's name.
func (m *Module) Name() string { return m.man.Name }

// Version is the manifest's version.
func (m *Module) Version() string { return m.man.Version }

// Ref is "name@version".
func (m *Module) Ref() string { return Ref(m.man.Name, m.man.Version) }

// SHA256 is the hex digest of the binary.
func (m *Module) SHA256() string { return hex.EncodeToString(m.sum[:]) }

// Manifest returns a copy of the manifest.
func (m *Module) Manifest() Manifest {
	c := *m.man
	c.Dependencies = slices.Clone(c.Dependencies)
	c.HostFunctions = slices.Clone(c.HostFunctions)
	c.Capabilities = slices.Clone(c.Capabilities)
	c.Args = slices.Clone(c.Args)
	return c
}

// Close unloads the module version: processes already running it keep
// their instances; new ones can no longer be built.
func (m *Module) Close(ctx context.Context) error {
	m.host.unload(m)
	return nil
}

// EntryOptions shape a module's catalog entry.
type EntryOptions struct {
	// Name is the catalog name; "" is the module's Ref ("counter@3").
	Name string
	// Extra is handed to code_change as OTP's Extra when a process moves
	// onto (or back off) this entry.
	Extra []byte
}

// Entry returns the catalog entry that runs this module version: register
// it in the runtime's catalog and a tree spec's behavior name resolves to
// it; its Version is the manifest's, which CodeChange receives as
// oldVersion when a process moves off it.
func (m *Module) Entry(o EntryOptions) actor.Entry {
	name := o.Name
	if name == "" {
		name = m.Ref()
	}
	extra := slices.Clone(o.Extra)
	return actor.Entry{
		Name:    name,
		Version: m.man.Version,
		New: func(args map[string]string) (actor.Behavior, error) {
			return m.behavior(args, extra)
		},
	}
}

// Behavior builds the behavior of one process from its spec args (a
// actor.Factory). It instantiates nothing: the instance is made by the
// first callback (Init, or CodeChange on a code change), so the runtime's
// validation calls cost nothing.
func (m *Module) Behavior(args map[string]string) (actor.Behavior, error) {
	return m.behavior(args, nil)
}

func (m *Module) behavior(args map[string]string, extra []byte) (actor.Behavior, error) {
	if m.man.Args != nil {
		var unknown []string
		for k := range args {
			if !slices.Contains(m.man.Args, k) {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			return nil, fmt.Errorf("%w: %s: unknown arg %s (known: %s)", actor.ErrBadArgs, m.Ref(), strings.Join(unknown, ", "), strings.Join(m.man.Args, ", "))
		}
	}
	if args == nil {
		args = map[string]string{}
	}
	a, err := json.Marshal(args) // keys sorted
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", actor.ErrBadArgs, m.Ref(), err)
	}
	return &behavior{m: m, args: a, extra: extra}, nil
}

// smoke instantiates, runs init with no args, then state_export.
func (m *Module) smoke() error {
	b := &behavior{m: m, args: []byte("{}")}
	defer b.close()
	if err := b.Init(nil); err != nil {
		return err
	}
	_, err := b.ExportState()
	return err
}
