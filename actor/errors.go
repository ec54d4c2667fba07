package actor

import (
	"errors"

	"github.com/steward/steward/spec"
)

// Sentinel errors. Every error the runtime returns wraps one of these with
// %w, so callers test with errors.Is and translate at their own boundary
// (the node package maps them to gRPC codes).
var (
	// ErrStopped is returned by every operation after Shutdown.
	ErrStopped = errors.New("runtime stopped")

	// ErrUnknownPID means the PID names this node but was never spawned
	// here (its sequence number is beyond any allocated one), or its node
	// part is empty.
	ErrUnknownPID = errors.New("unknown pid")
	// ErrNoProc means the process existed but is no longer alive (OTP's
	// noproc), also when its PID is from an earlier run of this node
	// (Config.Creation).
	ErrNoProc = errors.New("process not alive")
	// ErrBadPID means a PID string could not be parsed.
	ErrBadPID = errors.New("malformed pid")
	// ErrNoRoute means a message was addressed to another node and no
	// Router is configured, or the router could not reach that node.
	ErrNoRoute = errors.New("no route to node")
	// ErrRemoteUnsupported means an operation (link, monitor, suspend, ...)
	// was asked of a PID on another node; only message sends and calls
	// cross nodes.
	ErrRemoteUnsupported = errors.New("operation not supported on a remote pid")

	// ErrMailboxFull means the target's mailbox holds Config.MailboxLimit
	// messages already; the message was refused, not queued.
	ErrMailboxFull = errors.New("mailbox full")
	// ErrMessageTooLarge means a message body exceeds
	// Config.MaxMessageBytes.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrBadKind means a message kind is not valid for the operation (for
	// example Send with KindCall).
	ErrBadKind = errors.New("bad message kind")
	// ErrCallTimeout means a Call did not get its reply before its context
	// (or Config.DefaultCallTimeout) expired.
	ErrCallTimeout = errors.New("call timed out")
	// ErrCallSelf means a process called itself, which would deadlock.
	ErrCallSelf = errors.New("process called itself")
	// ErrRefused wraps the error a behavior returned through Refuse: the
	// callee declined the request and keeps running.
	ErrRefused = errors.New("request refused")

	// ErrNameTaken means a registered name is held by another live process.
	ErrNameTaken = errors.New("name already registered")
	// ErrNameNotFound means no live process is registered under a name.
	ErrNameNotFound = errors.New("name not registered")
	// ErrBadName means a registered name, child id or target part breaks
	// the spec package's naming rules.
	ErrBadName = errors.New("bad name")

	// ErrUnknownBehavior means a behavior name is not in the catalog. It
	// is the spec package's sentinel, so one errors.Is test covers a spec
	// refused by spec.Validate and a spawn refused by the catalog.
	ErrUnknownBehavior = spec.ErrUnknownBehavior
	// ErrUnknownModule means a worker's module reference could not be
	// resolved to a behavior: no resolver is set (Catalog.SetModuleResolver),
	// or the resolver does not know the module or version. It is the spec
	// package's sentinel.
	ErrUnknownModule = spec.ErrUnknownModule
	// ErrBadArgs means a behavior refused its args (unknown key or bad
	// value).
	ErrBadArgs = errors.New("bad behavior args")
	// ErrDuplicateBehavior means a catalog already holds that name.
	ErrDuplicateBehavior = errors.New("behavior already registered")
	// ErrNotSupported means the operation does not apply to that process
	// (for example replacing a supervisor's state).
	ErrNotSupported = errors.New("operation not supported")

	// ErrInvalidSpec wraps every reason a tree or child spec is refused.
	// A refused spec touches nothing.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrDuplicateID means two siblings share a child id.
	ErrDuplicateID = errors.New("duplicate child id")
	// ErrBadStrategy means a strategy is unknown, or a change between
	// simple_one_for_one and another strategy was asked of a running
	// supervisor.
	ErrBadStrategy = errors.New("bad strategy")
	// ErrBadIntensity means max_restarts or max_seconds is outside the
	// documented bounds.
	ErrBadIntensity = errors.New("bad restart intensity")
	// ErrBadRestart means a child restart type is unknown.
	ErrBadRestart = errors.New("bad restart type")
	// ErrBadShutdown means a shutdown value is neither brutal_kill nor a
	// positive duration within bounds.
	ErrBadShutdown = errors.New("bad shutdown")
	// ErrWrongNode means a tree is placed on another node.
	ErrWrongNode = errors.New("tree placed on another node")

	// ErrTooDeep means supervisors nest beyond Config.MaxDepth.
	ErrTooDeep = errors.New("supervision tree too deep")
	// ErrTooManyChildren means a supervisor would hold more than
	// Config.MaxChildren children.
	ErrTooManyChildren = errors.New("too many children")
	// ErrTooManyProcesses means the node would run more than
	// Config.MaxProcesses processes.
	ErrTooManyProcesses = errors.New("too many processes")

	// ErrNotSupervisor means a supervisor operation was addressed to a
	// worker.
	ErrNotSupervisor = errors.New("not a supervisor")
	// ErrChildNotFound means a supervisor has no child with that id.
	ErrChildNotFound = errors.New("child not found")
	// ErrChildRunning means restart_child or delete_child was asked of a
	// running child (terminate it first, as in OTP).
	ErrChildRunning = errors.New("child is running")
	// ErrChildNotRunning means a child path resolved to a child that has
	// no live process.
	ErrChildNotRunning = errors.New("child not running")
	// ErrStartFailed means a child's init failed; the wrapped text carries
	// the child's exit reason.
	ErrStartFailed = errors.New("child failed to start")
	// ErrIgnore is OTP's ignore start result: a behavior's Init returns it
	// (through Ignore) to decline to run. The process exits with reason
	// normal without running Terminate, and is neither a failure nor a
	// crash. A supervisor keeps a static child's spec with no process
	// (state terminated, OTP's pid undefined; a temporary child's spec is
	// dropped) and counts the start as done: StartChild, RestartChild and
	// StartDynamicChild return the zero PID and no error (OTP's
	// {ok, undefined}), and a simple_one_for_one instance is not kept.
	// Spawn returns an error wrapping it.
	ErrIgnore = errors.New("start ignored")
	// ErrSuspendTimeout: a code change's process did not reach a safe
	// point (the end of the message it was handling) within the suspend
	// timeout; it was left on its old code.
	ErrSuspendTimeout = errors.New("no safe point within the suspend timeout")
	// ErrCodeMoved means a conditional code change (ChangeCodeFrom) found
	// the process on another behavior than the one it was decided for.
	ErrCodeMoved = errors.New("the process moved to other code meanwhile")

	// ErrTreeNotFound means no tree of that name runs on this node.
	ErrTreeNotFound = errors.New("tree not found")
	// ErrTreeFailed means the tree's root supervisor exited (escalation or
	// kill); StopTree clears it before it can be applied again.
	ErrTreeFailed = errors.New("tree failed")
	// ErrTreeExists means StartTreeWith was asked to start a tree that
	// runs (or has failed and not been stopped).
	ErrTreeExists = errors.New("tree already runs")
	// ErrBadTarget means a target string or struct names nothing
	// resolvable.
	ErrBadTarget = errors.New("bad target")

	// ErrBoundary means a strict sandbox's boundary refused a send, call,
	// link, monitor, name lookup or spawn whose other end is outside it.
	ErrBoundary = errors.New("sandbox boundary")
	// ErrRateLimited means a message was dropped because a sandbox it
	// touches is past its max_messages_per_second.
	ErrRateLimited = errors.New("sandbox message rate exceeded")
	// ErrBadSandbox wraps every SandboxPolicy.Validate failure; the text
	// names the field.
	ErrBadSandbox = errors.New("bad sandbox policy")
	// ErrNotSandboxed means a sandbox operation named a tree that runs
	// without a sandbox, or ApplySandbox named a running unsandboxed tree.
	ErrNotSandboxed = errors.New("tree is not sandboxed")

	// ErrBadConfig wraps every Config.Validate failure; the text names the
	// field.
	ErrBadConfig = errors.New("bad runtime config")
)
