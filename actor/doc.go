// Package actor is a node's local process runtime: Erlang/OTP-style
// processes and supervision trees, in one address space.
//
// It owns:
//   - processes: PIDs ("node/seq"), bounded mailboxes, Send/Cast/Call,
//     links with exit signals and trap_exit, monitors, per-node registered
//     names, suspend/resume, get/replace state, code change, Kill/Exit;
//   - behaviors as an interface (Behavior, Proc) and a Catalog of named
//     factories (the natives are in actor/behaviors);
//   - supervisors with OTP semantics (one_for_one, one_for_all,
//     rest_for_one, simple_one_for_one; restart intensity and escalation;
//     permanent/transient/temporary; brutal_kill or timed shutdown; ordered
//     start and reverse shutdown; start/terminate/restart/delete child,
//     which/count children, policy change in place);
//   - trees built from spec.Tree and updated in place (ApplyTree), target
//     resolution (Resolve), and the limits that bound all of it;
//   - sandboxes: trees run under a SandboxPolicy (ApplySandbox), whose
//     boundary is checked before every send, call, link, monitor, name
//     lookup and spawn-with-link that crosses it, with process, rate,
//     mailbox, deadline and memory limits and violations kept per
//     sandbox (sandbox.go; docs/SANDBOXES.md);
//   - observability: typed events in a ring with non-blocking
//     subscriptions, per-tree message-flow graphs and state history,
//     introspection (Processes, Peek, Stats) and consistency checks
//     (Validate).
//
// It must not:
//   - talk to the network or the disk: messages for other nodes leave
//     through the Router interface, which the node package implements;
//   - know about Raft, plans or the replicated state: the node's reconciler
//     calls ApplyTree/StopTree and decides what a failed tree means;
//   - read the wall clock or sleep: all time comes from Config.Clock;
//   - panic or exit on bad input: errors wrap the sentinels in errors.go.
//
// Concurrency: each process is one goroutine that alone runs its behavior;
// a supervisor is a process whose goroutine alone owns its children table
// (a closed set of messages: exit signals, system requests, supervisor
// commands). Sends lock only the target's mailbox. See DESIGN.md.
package actor
