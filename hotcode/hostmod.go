package hotcode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/steward/steward/actor"
)

// hostFunc is one function of the steward host module. The table below is
// the ABI's host function list (docs/MODULES.md "Host functions"): the
// validator checks imports against it and the host module is built from
// it, so the two cannot disagree.
type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      func(c *hostCall, stack []uint64)
}

var hostFuncs = []hostFunc{
	{"send", vt(i32, i32, i32, i32), vt(i32), hostSend},
	{"cast", vt(i32, i32, i32, i32), vt(i32), hostCast},
	{"call", vt(i32, i32, i32, i32, i32), vt(i64), hostCallFn},
	{"self", nil, vt(i64), hostSelf},
	{"from", nil, vt(i64), hostFrom},
	{"log", vt(i32, i32, i32), nil, hostLog},
	{"now", nil, vt(i64), hostNow},
	{"send_after", vt(i64, i32, i32), vt(i32), hostSendAfter},
	{"register", vt(i32, i32), vt(i32), hostRegister},
	{"whereis", vt(i32, i32), vt(i64), hostWhereIs},
	{"spawn", vt(i32, i32, i32, i32, i32), vt(i64), hostSpawn},
	{"link", vt(i32, i32), vt(i32), hostLink},
	{"unlink", vt(i32, i32), vt(i32), hostUnlink},
	{"monitor", vt(i32, i32), vt(i64), hostMonitor},
	{"demonitor", vt(i64), nil, hostDemonitor},
	{"trap_exit", vt(i32), nil, hostTrapExit},
	{"exit", vt(i32, i32, i32, i32), vt(i32), hostExit},
}

func hostFunctionNames() []string {
	out := make([]string, len(hostFuncs))
	for i, f := range hostFuncs {
		out[i] = f.name
	}
	return out
}

func lookupHostFunc(name string) (hostFunc, bool) {
	for _, f := range hostFuncs {
		if f.name == name {
			return f, true
		}
	}
	return hostFunc{}, false
}

// spawn flags.
const spawnLink = 1

// System is what the dangerous host functions need beyond a process's
// actor.Proc; *actor.Runtime implements it. A Host is bound to one
// with Bind (the runtime is built after its catalog, so after the Host).
type System interface {
	Register(name string, pid actor.PID) error
	Spawn(ctx context.Context, o actor.SpawnOptions) (actor.PID, error)
	Exit(pid actor.PID, reason actor.Reason) error
}

// hostCall is one host function invocation: the calling instance and the
// context of the callback it runs in.
type hostCall struct {
	ctx context.Context
	in  *instance
}

// trap aborts the guest: the callback fails and the process crashes.
type trap struct{ msg string }

func (t trap) Error() string { return t.msg }

func trapf(format string, args ...any) { panic(trap{fmt.Sprintf(format, args...)}) }

// bytes copies guest memory [ptr, ptr+n); out of bounds traps.
func (c *hostCall) bytes(what string, ptr, n uint32) []byte {
	if int(n) > c.in.m.host.cfg.MaxMessageBytes {
		trapf("%s: %d bytes, over the %d-byte limit", what, n, c.in.m.host.cfg.MaxMessageBytes)
	}
	b, ok := c.in.mem.Read(ptr, n)
	if !ok {
		trapf("%s: ptr %d len %d is outside memory (%d bytes)", what, ptr, n, c.in.mem.Size())
	}
	return append([]byte(nil), b...)
}

func (c *hostCall) pid(ptr, n uint32) (actor.PID, bool) {
	p, err := actor.ParsePID(string(c.bytes("pid", ptr, n)))
	return p, err == nil
}

// give hands b to the guest in a buffer from its alloc, freed after the
// callback; the result is the packed ptr/len.
func (c *hostCall) give(b []byte) uint64 {
	ptr, err := c.in.put(c.ctx, b)
	if err != nil {
		panic(err)
	}
	return packBuf(ptr, uint32(len(b)))
}

// hostStatus maps a runtime error to a host status.
func hostStatus(err error) uint32 {
	switch {
	case err == nil:
		return HostOK
	case errors.Is(err, actor.ErrNoProc), errors.Is(err, actor.ErrUnknownPID), errors.Is(err, actor.ErrNameNotFound):
		return HostNoProc
	case errors.Is(err, actor.ErrBadPID), errors.Is(err, actor.ErrBadName), errors.Is(err, actor.ErrBadKind),
		errors.Is(err, actor.ErrBadArgs), errors.Is(err, actor.ErrUnknownBehavior), errors.Is(err, actor.ErrCallSelf):
		return HostBadArg
	case errors.Is(err, actor.ErrRefused):
		return HostRefused
	case errors.Is(err, actor.ErrCallTimeout), errors.Is(err, context.DeadlineExceeded):
		return HostTimeout
	case errors.Is(err, actor.ErrMailboxFull), errors.Is(err, actor.ErrMessageTooLarge):
		return HostFull
	case errors.Is(err, actor.ErrRemoteUnsupported):
		return HostUnavailable
	}
	return HostFailed
}

func u32(v uint64) uint32 { return uint32(v) }

func hostSend(c *hostCall, s []uint64) {
	s[0] = uint64(c.message(s, false))
}

func hostCast(c *hostCall, s []uint64) {
	s[0] = uint64(c.message(s, true))
}

func (c *hostCall) message(s []uint64, cast bool) uint32 {
	to, ok := c.pid(u32(s[0]), u32(s[1]))
	body := c.bytes("body", u32(s[2]), u32(s[3]))
	p := c.in.proc
	switch {
	case !ok:
		return HostBadArg
	case p == nil:
		return HostUnavailable
	case cast:
		return hostStatus(p.Cast(to, body))
	}
	return hostStatus(p.Send(to, body))
}

func hostCallFn(c *hostCall, s []uint64) {
	to, ok := c.pid(u32(s[0]), u32(s[1]))
	body := c.bytes("body", u32(s[2]), u32(s[3]))
	timeout := time.Duration(int32(u32(s[4]))) * time.Millisecond
	p := c.in.proc
	switch {
	case !ok || timeout < 0:
		s[0] = packStatus(HostBadArg)
		return
	case p == nil:
		s[0] = packStatus(HostUnavailable)
		return
	}
	ctx := c.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	reply, err := p.Call(ctx, to, body)
	if err != nil {
		s[0] = packStatus(hostStatus(err))
		return
	}
	s[0] = c.give(reply)
}

func hostSelf(c *hostCall, s []uint64) {
	if c.in.proc == nil {
		s[0] = packStatus(HostUnavailable)
		return
	}
	s[0] = c.give([]byte(c.in.proc.Self().String()))
}

func hostFrom(c *hostCall, s []uint64) {
	if c.in.msg == nil {
		s[0] = packStatus(HostUnavailable)
		return
	}
	s[0] = c.give([]byte(c.in.msg.From.String()))
}

func hostLog(c *hostCall, s []uint64) {
	msg := string(c.bytes("log", u32(s[1]), u32(s[2])))
	l := c.in.logger()
	switch int32(u32(s[0])) {
	case 0:
		l.Trace(msg)
	case 1:
		l.Debug(msg)
	case 2:
		l.Info(msg)
	case 3:
		l.Warn(msg)
	default:
		l.Error(msg)
	}
}

func hostNow(c *hostCall, s []uint64) {
	if c.in.proc == nil {
		s[0] = uint64(time.Now().UnixNano())
		return
	}
	s[0] = uint64(c.in.proc.Now().UnixNano())
}

func hostSendAfter(c *hostCall, s []uint64) {
	d := time.Duration(int64(s[0])) * time.Millisecond
	body := c.bytes("body", u32(s[1]), u32(s[2]))
	switch {
	case int64(s[0]) < 0 || int64(s[0]) > int64(24*time.Hour/time.Millisecond):
		s[0] = HostBadArg
	case c.in.proc == nil:
		s[0] = HostUnavailable
	default:
		c.in.proc.SendAfter(d, body)
		s[0] = HostOK
	}
}

func hostRegister(c *hostCall, s []uint64) {
	name := string(c.bytes("name", u32(s[0]), u32(s[1])))
	sys := c.in.m.host.system()
	if c.in.proc == nil || sys == nil {
		s[0] = HostUnavailable
		return
	}
	s[0] = uint64(hostStatus(sys.Register(name, c.in.proc.Self())))
}

func hostWhereIs(c *hostCall, s []uint64) {
	name := string(c.bytes("name", u32(s[0]), u32(s[1])))
	if c.in.proc == nil {
		s[0] = packStatus(HostUnavailable)
		return
	}
	pid, ok := c.in.proc.WhereIs(name)
	if !ok {
		s[0] = packStatus(HostNoProc)
		return
	}
	s[0] = c.give([]byte(pid.String()))
}

func hostSpawn(c *hostCall, s []uint64) {
	beh := string(c.bytes("behavior", u32(s[0]), u32(s[1])))
	rawArgs := c.bytes("args", u32(s[2]), u32(s[3]))
	flags := u32(s[4])
	var args map[string]string
	if len(rawArgs) > 0 && json.Unmarshal(rawArgs, &args) != nil || flags&^spawnLink != 0 {
		s[0] = packStatus(HostBadArg)
		return
	}
	sys := c.in.m.host.system()
	if c.in.proc == nil || sys == nil {
		s[0] = packStatus(HostUnavailable)
		return
	}
	o := actor.SpawnOptions{Behavior: beh, Args: args}
	if flags&spawnLink != 0 {
		o.Link = c.in.proc.Self()
	}
	spawn := sys.Spawn
	if c.in.sbx != nil { // through the sandbox's boundary
		spawn = c.in.sbx.guest.Spawn
	}
	pid, err := spawn(c.ctx, o)
	if err != nil {
		s[0] = packStatus(hostStatus(err))
		return
	}
	s[0] = c.give([]byte(pid.String()))
}

func hostLink(c *hostCall, s []uint64) {
	to, ok := c.pid(u32(s[0]), u32(s[1]))
	switch {
	case !ok:
		s[0] = HostBadArg
	case c.in.proc == nil:
		s[0] = HostUnavailable
	default:
		s[0] = uint64(hostStatus(c.in.proc.Link(to)))
	}
}

func hostUnlink(c *hostCall, s []uint64) {
	to, ok := c.pid(u32(s[0]), u32(s[1]))
	switch {
	case !ok:
		s[0] = HostBadArg
	case c.in.proc == nil:
		s[0] = HostUnavailable
	default:
		c.in.proc.Unlink(to)
		s[0] = HostOK
	}
}

func hostMonitor(c *hostCall, s []uint64) {
	to, ok := c.pid(u32(s[0]), u32(s[1]))
	switch {
	case !ok:
		s[0] = packStatus(HostBadArg)
	case c.in.proc == nil:
		s[0] = packStatus(HostUnavailable)
	default:
		ref, err := c.in.proc.Monitor(to)
		if err != nil {
			s[0] = packStatus(hostStatus(err))
			return
		}
		s[0] = ref
	}
}

func hostDemonitor(c *hostCall, s []uint64) {
	if c.in.proc != nil {
		c.in.proc.Demonitor(s[0])
	}
}

func hostTrapExit(c *hostCall, s []uint64) {
	if c.in.proc != nil {
		c.in.proc.TrapExit(u32(s[0]) != 0)
	}
}

func hostExit(c *hostCall, s []uint64) {
	reason := actor.Reason(c.bytes("reason", u32(s[2]), u32(s[3])))
	if reason == "" {
		s[0] = HostBadArg
		return
	}
	if c.in.proc == nil {
		s[0] = HostUnavailable
		return
	}
	if u32(s[1]) == 0 {
		c.in.exit = reason
		s[0] = HostOK
		return
	}
	to, ok := c.pid(u32(s[0]), u32(s[1]))
	switch {
	case !ok:
		s[0] = HostBadArg
	case to == c.in.proc.Self():
		c.in.exit = reason
		s[0] = HostOK
	case c.in.sbx != nil: // through the sandbox's boundary
		s[0] = uint64(hostStatus(c.in.sbx.guest.Exit(to, reason)))
	default:
		sys := c.in.m.host.system()
		if sys == nil {
			s[0] = HostUnavailable
			return
		}
		s[0] = uint64(hostStatus(sys.Exit(to, reason)))
	}
}

// instKey keys the calling instance in a callback's context.
type instKey struct{}

// callContext is a callback's context: its deadline and its instance. A
// fresh one per callback (wazero's termination watcher may still read the
// previous one).
type callContext struct {
	context.Context
	in *instance
}

func (c *callContext) Value(k any) any {
	if _, ok := k.(instKey); ok {
		return c.in
	}
	return c.Context.Value(k)
}

// instantiateHostModule adds the steward host module to r. Every function
// is a GoModuleFunction (no reflection); the calling instance comes from
// the context. A call without one (an instance not made by this package)
// traps.
func instantiateHostModule(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(HostModule)
	for _, f := range hostFuncs {
		fn := f.fn
		name := f.name
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
			in, ok := ctx.Value(instKey{}).(*instance)
			if !ok || in == nil {
				trapf("steward.%s called outside a steward callback", name)
			}
			fn(&hostCall{ctx: ctx, in: in}, stack)
		}), f.params, f.results).WithName(f.name).Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// logger is the logger for the guest's log calls.
func (in *instance) logger() hclog.Logger {
	if in.proc != nil {
		return in.proc.Logger().With("module", in.m.Ref())
	}
	return in.m.host.log.With("module", in.m.Ref())
}
