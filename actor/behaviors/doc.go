// Package behaviors holds the native behaviors a spec can name — counter,
// kv, echo, ticker, crasher, and the failure drills flaky_start,
// slow_start, slow_stop, stubborn, gated_start and gate — and registers
// them into a actor.Catalog.
//
// It owns the behaviors' protocols (the message bodies each understands),
// their args and their exported state (JSON). It must not reach into the
// runtime beyond the actor.Behavior and actor.Proc interfaces: a
// behavior here is what a WebAssembly module will be, only compiled in.
//
// Bodies are short text commands, so an operator can type them:
//
//	counter  cast/info "inc [n]" (any other body counts 1); call "get", "inc [n]", "reset"
//	kv       call/cast "put <key> <value>", "del <key>"; call "get <key>", "keys", "size"
//	echo     call: replies the body; cast/info: sends the body back to From
//	ticker   sends its body to a target every interval
//	crasher  "crash" crashes it; call "ping" -> "pong"; "stop" stops it normally
//
// # Failure drills
//
// The drills are children that fail in the ways supervision must handle,
// for tests and for operators' own drills (examples/drills.hcl). Each
// understands the drill commands: "crash" crashes it, "stop" stops it
// normally, "exit <reason>" stops it with reason, call "ping" -> "pong".
// Their args are checked like the others' (an unknown arg, a bad number
// or a missing name is ErrBadArgs naming the behavior and the arg); a
// millisecond arg is an integer in 0..86400000.
//
//	flaky_start  args key (required), ok_starts (default 1), start_ms (default 0):
//	             the first ok_starts starts of key succeed, every later one fails;
//	             call "starts" -> the key's count; "reset" forgets it
//	ignore_start args key (optional), ignore_starts (default: every start; needs key):
//	             Init returns actor.Ignore (OTP's ignore): the process exits normally,
//	             its supervisor keeps the spec with no process (terminated; a
//	             temporary child or a simple_one_for_one instance is not kept) and
//	             goes on; with key, only the first ignore_starts starts are ignored,
//	             so a restart_child can bring it up; call "starts" -> the key's count
//	slow_start   args start_ms (default 1000): every start (Init) takes that long
//	slow_stop    args stop_ms (default 1000): every Terminate takes that long
//	stubborn     args hold_ms (default a day): traps and ignores exit signals;
//	             asked to stop, holds in Terminate, so its shutdown timeout kills it
//	gated_start  args gate (required), timeout_ms (default 0: no timeout):
//	             every start waits while its gate is closed
//	gate         args closed (gate names, comma-separated, closed as it starts);
//	             "close <gate>", "open <gate>", "open" (all), "reset <key>";
//	             call "status" -> the gates as JSON
//
// Their runtime-wide state — flaky_start's counts, kept per key across a
// child's restarts, and the gates — is a Drills the catalog's drill
// entries share: NewCatalog makes one on the system clock, NewCatalogWith
// takes one (a test's, on a manual clock). An operator drives a drill
// from the CLI through the tree's gate child:
//
//	steward proc send tree:drills/gate "close held" --kind cast
//	steward proc send tree:drills/held crash --kind cast    # its restart holds
//	steward sup tree drills                                 # held: no process
//	steward proc send tree:drills/gate "open held" --kind cast
//
// A gated or slow start holds its supervisor as an OTP init would: the
// supervisor serves nothing else meanwhile, stopping the tree included,
// so open the gate first. A drill's wait cannot see its process killed
// (Proc has no done channel); the wait ends on its own (its duration, its
// gate, Drills.Release) and the goroutine then leaves a dead process.
package behaviors
