package hotcode

import (
	"context"
	"fmt"
	"slices"

	"github.com/steward/steward/actor"
)

// MigrateOptions shape a trial migration: what a process's code change
// onto the version would carry.
type MigrateOptions struct {
	// Args are the process's spec args (checked against the manifest's
	// args, as the code change's build checks them).
	Args map[string]string
	// Extra is code_change's Extra (the entry's EntryOptions.Extra).
	Extra []byte
}

// Migrate runs, on a throwaway instance of m, the conversion a code change
// of a process from version from of the same module onto m runs (the one
// implementation, the behavior's CodeChange: up by m's code_change on the
// old state; down, when from is newer, by from's code_change on a
// throwaway instance of it, then m's state_import), then m's state_export,
// and frees every instance it made. It returns the converted state, as the
// process would hold it after the change. Nothing else is touched: state
// is the caller's copy. Each callback runs under the host's message
// deadline; ctx is checked between them.
func (m *Module) Migrate(ctx context.Context, from string, state []byte, o MigrateOptions) ([]byte, error) {
	b, err := m.behavior(o.Args, slices.Clone(o.Extra))
	if err != nil {
		return nil, err
	}
	return Migrate(ctx, b, from, state)
}

// Migrate is Module.Migrate on a fresh behavior a module's catalog entry
// built (Entry's New: the behavior a code change onto the entry would
// install, with its args and Extra), which it closes. A behavior of
// another kind, or one already used, is refused.
func Migrate(ctx context.Context, nb actor.Behavior, from string, state []byte) ([]byte, error) {
	b, ok := nb.(*behavior)
	if !ok {
		return nil, fmt.Errorf("%w: migrate: %T is not a module's behavior", ErrBadOptions, nb)
	}
	defer b.close()
	if b.in != nil {
		return nil, fmt.Errorf("%w: migrate: the behavior of %s already runs", ErrBadOptions, b.m.Ref())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := b.CodeChange(from, state); err != nil {
		return nil, fmt.Errorf("code change %s -> %s: %w", Ref(b.m.man.Name, from), b.m.Ref(), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := b.ExportState()
	if err != nil {
		return nil, fmt.Errorf("%s: after the code change: %w", b.m.Ref(), err)
	}
	return out, nil
}
