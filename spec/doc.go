// Package spec owns supervision-tree specs: the types committed to the
// replicated state (spec.go), reading them from HCL or JSON files (Parse),
// filling in defaults (Normalize), checking them (Validate) and comparing
// them (Canonical, Equal).
//
// It must not start, stop or look up processes, know which behaviors or
// modules exist (the caller passes the runtime's catalog in
// ValidateOptions.KnownBehavior and the module store in KnownModule),
// read the clock, or do any I/O. Everything here is deterministic.
//
// # File formats
//
// JSON is the struct tags of Tree and ChildSpec exactly: keys are matched
// case-sensitively, unknown and duplicate keys are refused, null reads as
// absent, and nothing may follow the document.
//
//	{"name":"web","node":"n1","strategy":"one_for_one","max_restarts":1,"max_seconds":5,
//	 "children":[{"id":"c1","behavior":"counter","restart":"permanent"},
//	             {"id":"sub","type":"supervisor","strategy":"rest_for_one","children":[…]}]}
//
// HCL has the same attributes, with children as labeled child blocks nested
// to any depth; args is a map attribute. The tree's own attributes sit at the
// top of the file, or inside one tree block labeled with the tree's name:
//
//	tree "web" {
//	  node         = "n1"
//	  strategy     = "one_for_one"
//	  max_restarts = 1
//	  max_seconds  = 5
//
//	  child "c1" {
//	    behavior = "counter"
//	    args     = { start = "10" }
//	  }
//	  child "m" { module = "tally" }   // a stored WebAssembly module
//	  child "sub" {
//	    type     = "supervisor"
//	    strategy = "rest_for_one"
//	    child "w" { behavior = "echo" }
//	  }
//	  child "job" {                    // shuts its supervisor down when done
//	    type          = "supervisor"
//	    auto_shutdown = "any_significant"
//	    child "run" {
//	      behavior    = "echo"
//	      restart     = "transient"
//	      significant = true
//	    }
//	  }
//	}
//
// Attribute values must be constants: no variables or functions. The format
// is taken from the extension (.hcl, .json), else sniffed (DetectFormat).
//
// # Defaults (Normalize)
//
// OTP's defaults (supervisor module doc): node "auto"; strategy
// one_for_one; type worker; restart permanent; shutdown "5s" for a worker
// and "infinity" for a supervisor; restart intensity 1 restart in 5
// seconds when neither max_restarts nor max_seconds is given, and the
// missing one's default when only one is given. A file that spells out
// max_seconds = 0 is refused (the period is a positive integer, as in
// OTP), never read as 5; in a Go struct 0 means not given. auto_shutdown
// never and significant false; both defaults are left out of the
// canonical JSON ("never" spelled out reads as absent), so specs written
// before these fields existed keep their bytes.
//
// # Rules (Validate)
//
//   - Tree names, node names and child ids: 1-63 bytes of ASCII letters,
//     digits, '_', '-', '.', starting with a letter or digit (ValidName). A
//     node may also be "auto". Registered names: 1-128 bytes of the same
//     charset, starting with a letter (ValidRegisteredName).
//   - strategy is one_for_one, one_for_all, rest_for_one or
//     simple_one_for_one; restart is permanent, transient or temporary; type
//     is worker or supervisor.
//   - shutdown is "brutal_kill", "infinity" or a Go duration in [0, 10m]
//     (OTP's brutal_kill | 0.. | infinity; 0 asks the child to stop and
//     kills it at once if it has not exited; a number in a file is read as
//     its text, so 0 is accepted and 5000, which lacks a unit, is not).
//   - max_restarts is in 0..1000, max_seconds in 1..3600 (OTP: intensity
//     >= 0, period > 0; the upper bounds are steward's, against typos).
//   - auto_shutdown (a supervisor's, root or nested) is never,
//     any_significant or all_significant; a simple_one_for_one supervisor
//     takes only never (OTP 27 refuses the combination; OTP 24-26 allowed
//     it). significant (a child's, a boolean) is refused on a permanent
//     child (OTP: bad_combination with restart permanent) and under a
//     supervisor whose auto_shutdown is never (bad_combination with
//     auto_shutdown never); ValidateChild checks only the first, the
//     runtime the second when start_child adds the child. The problem is
//     reported at the child's significant field. A worker has no
//     auto_shutdown. What the flags do at run time: actor/DESIGN.md,
//     "Significant children and auto_shutdown".
//   - Child ids are unique among siblings; registered names are unique in a
//     tree (a tree runs on one node, and names are per node).
//   - A worker has exactly one of behavior and module. A behavior is known
//     to the catalog. A module is NAME (the module's active version, a
//     committed record that deployments move) or NAME@VERSION (pinned:
//     deployments leave it alone unless they target it explicitly), with
//     the module store's rules (ParseModuleRef: NAME as ValidName, VERSION
//     1 to 4 dot-separated numbers without leading zeros), and stored
//     (KnownModule). A worker has no strategy, intensity or children; a
//     supervisor has no behavior, module, args or name.
//   - A simple_one_for_one supervisor has exactly one child, the template,
//     which may not register a name.
//   - Limits: supervisors nest at most 10 levels below the root
//     (DefaultMaxDepth); a supervisor has at most 256 children
//     (DefaultMaxChildren), a tree at most 4096 in all
//     (DefaultMaxTotalChildren); a worker has at most 64 args of at most
//     4096 bytes each; a file, and a tree's canonical JSON, is at most 1 MiB
//     (MaxSpecBytes). Files nested deeper than 64 brackets are refused by
//     Parse before decoding.
//
// Validate reports every problem, each with its field path
// ("children[1].children[0].restart"), in an *Error.
package spec
