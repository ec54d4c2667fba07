package spec

// Strategy is a supervisor's restart strategy, as in OTP.
type Strategy string

const (
	OneForOne       Strategy = "one_for_one"
	OneForAll       Strategy = "one_for_all"
	RestForOne      Strategy = "rest_for_one"
	SimpleOneForOne Strategy = "simple_one_for_one"
)

// Restart says when a terminated child is restarted, as in OTP.
type Restart string

const (
	// Permanent children are always restarted.
	Permanent Restart = "permanent"
	// Transient children are restarted only after an abnormal exit.
	Transient Restart = "transient"
	// Temporary children are never restarted.
	Temporary Restart = "temporary"
)

// AutoShutdown says whether a supervisor shuts itself down when its
// significant children terminate, as OTP's auto_shutdown supervisor flag
// (OTP 24+).
type AutoShutdown string

const (
	// Never: no automatic shutdown (the default). A significant child is
	// refused under such a supervisor.
	Never AutoShutdown = "never"
	// AnySignificant: the supervisor shuts down (reason shutdown) when any
	// significant child terminates by itself and is not restarted.
	AnySignificant AutoShutdown = "any_significant"
	// AllSignificant: the supervisor shuts down when the last of its
	// significant children that ran terminates by itself and is not
	// restarted.
	AllSignificant AutoShutdown = "all_significant"
)

// ChildType says whether a child is a worker process or a nested supervisor.
type ChildType string

const (
	Worker     ChildType = "worker"
	Supervisor ChildType = "supervisor"
)

// Shutdown values besides a duration, as in OTP's child spec (shutdown()
// = brutal_kill | timeout() where timeout() = 0.. | infinity).
const (
	// BrutalKill kills a child at once, without letting its terminate
	// callback run.
	BrutalKill = "brutal_kill"
	// Infinity asks a child to stop and waits for it however long it
	// takes: the default for a supervisor child, whose own children need
	// their shutdown time (OTP's default for type supervisor).
	Infinity = "infinity"
)

// SupervisorSpec is the part shared by a tree's root and a nested supervisor
// child: its strategy, its restart intensity and its ordered children.
type SupervisorSpec struct {
	Strategy Strategy `json:"strategy"`
	// MaxRestarts is the restart intensity: at most this many restarts
	// within MaxSeconds, beyond which the supervisor exits (count).
	MaxRestarts int `json:"max_restarts"`
	// MaxSeconds is the intensity period (seconds, at least 1). In a Go
	// struct 0 reads as not given (DefaultMaxSeconds); a file that spells
	// out max_seconds = 0 is refused by Parse.
	MaxSeconds int `json:"max_seconds"`
	// AutoShutdown is never (the default; "" reads as never and the
	// canonical form leaves it out), any_significant or all_significant.
	// Not allowed with simple_one_for_one (OTP 27).
	AutoShutdown AutoShutdown `json:"auto_shutdown,omitempty"`
	// Children in start order; shutdown runs in reverse order. For
	// simple_one_for_one there is exactly one child: the template that
	// start_child instantiates.
	Children []ChildSpec `json:"children"`
}

// Tree is one supervision tree as committed to the replicated state: a named
// root supervisor placed on a node.
type Tree struct {
	// Name is cluster-unique.
	Name string `json:"name"`
	// Node is the node the tree runs on, or "auto" to let the leader place it
	// on the least loaded alive node.
	Node string `json:"node,omitempty"`
	SupervisorSpec
}

// ChildSpec is one child of a supervisor: a worker running a behavior, or a
// nested supervisor.
type ChildSpec struct {
	// ID is unique among its siblings.
	ID   string    `json:"id"`
	Type ChildType `json:"type,omitempty"` // worker (default) or supervisor

	// Worker fields: exactly one of Behavior and Module.
	//
	// Behavior names a catalog behavior ("echo", "wasm:counter@1").
	Behavior string `json:"behavior,omitempty"`
	// Module names a stored WebAssembly module instead: "counter" runs the
	// module's active version (a committed record that deployments move),
	// "counter@3" pins version 3 (deployments leave it alone unless they
	// target it). The runtime resolves it to a behavior every time the
	// worker starts or restarts (see ParseModuleRef).
	Module string            `json:"module,omitempty"`
	Args   map[string]string `json:"args,omitempty"`
	// Name registers the worker under this per-node name while it lives.
	Name string `json:"name,omitempty"`

	Restart Restart `json:"restart,omitempty"` // permanent (default), transient, temporary
	// Significant marks a child whose termination (by itself, when it is
	// not restarted) may shut its supervisor down, per the supervisor's
	// AutoShutdown. Only a transient or temporary child may be
	// significant, and only under a supervisor whose AutoShutdown is not
	// never (OTP's significant flag).
	Significant bool `json:"significant,omitempty"`
	// Shutdown is brutal_kill, infinity, or a Go duration in [0, 10m]
	// ("5s"; "0" asks the child to stop and kills it at once if it has
	// not exited yet, as OTP's 0). Default "5s" for a worker, infinity
	// for a supervisor.
	Shutdown string `json:"shutdown,omitempty"`

	// Supervisor fields (Type == supervisor).
	SupervisorSpec
}
