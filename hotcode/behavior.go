package hotcode

import (
	"context"
	"fmt"

	"github.com/steward/steward/actor"
)

// behavior is a actor.Behavior forwarding every callback into one
// module instance (docs/MODULES.md "Callbacks"). The runtime calls it from
// the process's goroutine only.
type behavior struct {
	m     *Module
	args  []byte // the spec args as a JSON object
	extra []byte // code_change's Extra
	in    *instance
}

var (
	_ actor.Behavior        = (*behavior)(nil)
	_ actor.Sizer           = (*behavior)(nil)
	_ actor.Closer          = (*behavior)(nil)
	_ actor.HealthChecker   = (*behavior)(nil)
	_ actor.UpgradeNotified = (*behavior)(nil)
)

// instance returns the behavior's instance, making it on first use; p,
// when the first use is a process callback, is checked for a sandbox,
// whose limits the instance then gets from the start (a module the
// sandbox refuses is never instantiated).
func (b *behavior) instance(p actor.Proc) (*instance, error) {
	if b.in != nil {
		return b.in, nil
	}
	var sbx *sandboxCfg
	if p != nil {
		if g := actor.SandboxOf(p); g != nil {
			var err error
			if sbx, err = b.m.sandboxConfig(g); err != nil {
				return nil, err
			}
		}
	}
	ctx, cancel := context.WithTimeout(b.m.host.ctx, b.m.host.cfg.MessageDeadline)
	defer cancel()
	in, err := b.m.instantiate(ctx, sbx)
	if err != nil {
		return nil, err
	}
	in.bound = p != nil
	if sbx != nil {
		in.watch(sbx.guest.Done())
	}
	b.in = in
	return in, nil
}

func (b *behavior) close() {
	if b.in != nil {
		b.in.close()
	}
}

// Close frees the instance when a code change replaces this behavior (or
// discards it after a failed conversion).
func (b *behavior) Close() { b.close() }

// BeforeUpgrade tells the running instance, through its optional
// before_upgrade export, which version it is about to move to; a non-zero
// status refuses the move (the process stays on this version).
func (b *behavior) BeforeUpgrade(to string) error {
	if !b.m.hasBefore {
		return nil
	}
	return b.run(nil, nil, func(ctx context.Context, in *instance) error {
		ptr, n, err := input(ctx, in, []byte(to))
		if err != nil {
			return err
		}
		st, err := in.call(ctx, exBeforeUpgrade, ptr, n)
		if err != nil {
			return err
		}
		return b.strict("before_upgrade", uint32(st))
	})
}

// Health runs the module's health export; actor.ErrNotSupported when it
// has none. A non-zero status is unhealthy.
func (b *behavior) Health() error {
	if !b.m.hasHealth {
		return actor.ErrNotSupported
	}
	return b.run(nil, nil, func(ctx context.Context, in *instance) error {
		st, err := in.call(ctx, exHealth)
		if err != nil {
			return err
		}
		return b.strict("health", uint32(st))
	})
}

// run runs one callback f under the deadline, with the process and
// message the host functions see, and frees the host's buffers after. An
// exit(self) during the callback stops the process.
func (b *behavior) run(p actor.Proc, msg *actor.Message, f func(ctx context.Context, in *instance) error) error {
	in, err := b.instance(p)
	if err != nil {
		return err
	}
	if p != nil && !in.bound {
		if err := in.bindSandbox(p); err != nil {
			return in.fail(err)
		}
	}
	in.cur = in.deadline()
	dctx, cancel := context.WithTimeout(b.m.host.ctx, in.cur)
	defer cancel()
	ctx := &callContext{Context: dctx, in: in}
	in.proc, in.msg, in.exit = p, msg, ""
	if in.fs != nil && p != nil {
		in.fs.bind(p.Self())
	}
	err = f(ctx, in)
	if ferr := in.free(ctx); err == nil {
		err = ferr
	}
	in.proc, in.msg = nil, nil
	if in.exit != "" && in.broken == nil {
		return actor.Stop(in.exit)
	}
	return err
}

// status turns a callback's status into the runtime's outcome.
func (b *behavior) status(name string, st uint32) error {
	switch st {
	case StatusOK:
		return nil
	case StatusRefuse:
		return actor.Refuse("%s: %s refused", b.m.Ref(), name)
	case StatusStop:
		return actor.Stop(actor.Normal)
	}
	return fmt.Errorf("%s: %s returned status %d", b.m.Ref(), name, st)
}

// strict is status for callbacks where only 0 means success.
func (b *behavior) strict(name string, st uint32) error {
	if st == StatusOK {
		return nil
	}
	return fmt.Errorf("%s: %s returned status %d", b.m.Ref(), name, st)
}

// input writes b in the input buffer; its ptr and len as call params.
func input(ctx context.Context, in *instance, b []byte) (uint64, uint64, error) {
	var ptr [1]uint64
	err := in.inputs(ctx, ptr[:], b)
	return ptr[0], uint64(len(b)), err
}

func (b *behavior) Init(p actor.Proc) error {
	return b.run(p, nil, func(ctx context.Context, in *instance) error {
		ptr, n, err := input(ctx, in, b.args)
		if err != nil {
			return err
		}
		st, err := in.call(ctx, exInit, ptr, n)
		if err != nil {
			return err
		}
		return b.strict("init", uint32(st))
	})
}

func (b *behavior) HandleCall(p actor.Proc, msg actor.Message) ([]byte, error) {
	var reply []byte
	err := b.run(p, &msg, func(ctx context.Context, in *instance) error {
		ptr, n, err := input(ctx, in, msg.Body)
		if err != nil {
			return err
		}
		r, err := in.call(ctx, exHandleCall, ptr, n)
		if err != nil {
			return err
		}
		if isStatus(r) {
			return b.status("handle_call", uint32(r))
		}
		reply, err = in.take("handle_call", r)
		return err
	})
	return reply, err
}

func (b *behavior) HandleCast(p actor.Proc, msg actor.Message) error {
	return b.run(p, &msg, func(ctx context.Context, in *instance) error {
		ptr, n, err := input(ctx, in, msg.Body)
		if err != nil {
			return err
		}
		st, err := in.call(ctx, exHandleCast, ptr, n)
		if err != nil {
			return err
		}
		return b.status("handle_cast", uint32(st))
	})
}

func (b *behavior) HandleInfo(p actor.Proc, msg actor.Message) error {
	return b.run(p, &msg, func(ctx context.Context, in *instance) error {
		ptr, n, err := input(ctx, in, msg.Body)
		if err != nil {
			return err
		}
		st, err := in.call(ctx, exHandleInfo, uint64(msg.Kind), ptr, n)
		if err != nil {
			return err
		}
		return b.status("handle_info", uint32(st))
	})
}

// Terminate runs the guest's terminate unless the instance is broken (a
// trap or a deadline: it is not called again), then frees the instance.
func (b *behavior) Terminate(p actor.Proc, reason actor.Reason) {
	if b.in == nil {
		return
	}
	defer b.close()
	if b.in.broken != nil || b.in.mod.IsClosed() {
		return
	}
	err := b.run(p, nil, func(ctx context.Context, in *instance) error {
		ptr, n, err := input(ctx, in, []byte(reason))
		if err != nil {
			return err
		}
		_, err = in.call(ctx, exTerminate, ptr, n)
		return err
	})
	if err != nil {
		log := b.m.host.log
		if p != nil {
			log = p.Logger()
		}
		log.Warn("module terminate failed", "module", b.m.Ref(), "error", err)
	}
}

// CodeChange runs on a fresh behavior of the new version. Up (the old
// version is older, or not comparable): the guest's code_change converts
// the old state in place. Down (the old version is newer): the newer
// module's code_change, on a throwaway instance of it, converts its state
// to this version's format, which this instance's state_import then takes
// (OTP: the newer code knows both formats).
func (b *behavior) CodeChange(oldVersion string, oldState []byte) error {
	if cmp, err := CompareVersions(oldVersion, b.m.man.Version); err == nil && cmp > 0 {
		return b.down(oldVersion, oldState)
	}
	return b.run(nil, nil, func(ctx context.Context, in *instance) error {
		return b.codeChange(ctx, in, oldVersion, DirectionUp, oldState)
	})
}

func (b *behavior) codeChange(ctx context.Context, in *instance, vsn string, dir int, state []byte) error {
	var p [3]uint64
	if err := in.inputs(ctx, p[:], []byte(vsn), b.extra, state); err != nil {
		return err
	}
	st, err := in.call(ctx, exCodeChange, p[0], uint64(len(vsn)), uint64(dir), p[1], uint64(len(b.extra)), p[2], uint64(len(state)))
	if err != nil {
		return err
	}
	return b.strict("code_change", uint32(st))
}

func (b *behavior) down(from string, state []byte) error {
	src, ok := b.m.host.Module(b.m.man.Name, from)
	if !ok {
		return fmt.Errorf("%w: %s -> %s: %s is not loaded on this node", ErrNoDowngrade, Ref(b.m.man.Name, from), b.m.Ref(), Ref(b.m.man.Name, from))
	}
	if !src.man.SupportsDowngrade {
		return fmt.Errorf("%w: %s -> %s: %s does not support downgrade", ErrNoDowngrade, src.Ref(), b.m.Ref(), src.Ref())
	}
	tmp := &behavior{m: src, args: b.args, extra: b.extra}
	defer tmp.close()
	var converted []byte
	err := tmp.run(nil, nil, func(ctx context.Context, in *instance) error {
		if err := tmp.codeChange(ctx, in, b.m.man.Version, DirectionDown, state); err != nil {
			return err
		}
		var err error
		converted, err = tmp.exportState(ctx, in)
		return err
	})
	if err != nil {
		return err
	}
	return b.ImportState(converted)
}

func (b *behavior) ExportState() ([]byte, error) {
	var out []byte
	err := b.run(nil, nil, func(ctx context.Context, in *instance) error {
		var err error
		out, err = b.exportState(ctx, in)
		return err
	})
	return out, err
}

func (b *behavior) exportState(ctx context.Context, in *instance) ([]byte, error) {
	r, err := in.call(ctx, exStateExport)
	if err != nil {
		return nil, err
	}
	if isStatus(r) {
		return nil, b.strict("state_export", uint32(r))
	}
	return in.take("state_export", r)
}

func (b *behavior) ImportState(state []byte) error {
	return b.run(nil, nil, func(ctx context.Context, in *instance) error {
		ptr, n, err := input(ctx, in, state)
		if err != nil {
			return err
		}
		st, err := in.call(ctx, exStateImport, ptr, n)
		if err != nil {
			return err
		}
		return b.strict("state_import", uint32(st))
	})
}

// ApproxSize is the instance's memory size (bytes).
func (b *behavior) ApproxSize() int {
	if b.in == nil || b.in.broken != nil {
		return 0
	}
	return int(b.in.mem.Size())
}
