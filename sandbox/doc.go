// Package sandbox is the sandbox policy: its file format (HCL or JSON),
// the seed's defaults, validation with a field path for every problem,
// and its translation into the actor runtime's SandboxPolicy.
//
// It owns:
//   - Policy: isolation level, violation response, monitoring interval,
//     trace options, limits and the allow list, as an operator writes
//     them;
//   - Parse, Defaults, Validate and Policy.Actor; Canonical, the policy
//     as a sandbox record carries it;
//   - the sandbox file (ParseDefinition: policy, node and tree) and the
//     experiment file (ParseExperiment: several sandboxes and a deadline);
//   - Start: a tree run on a runtime as a sandbox under a policy, with
//     the tracing the policy asks for, or not at all;
//   - Observe: what a node's runtime recorded of a sandbox (status,
//     violations, state accesses, flow graph, processes, usage) beside
//     what was declared (spec, policy, allowed module versions), as one
//     Observation a caller may also fill by hand;
//   - Interactions (who exchanged messages with whom, with a pattern) and
//     Verify (message, state, resource and code isolation, each a verdict
//     with its evidence), reading only an Observation;
//   - ReadTrace: a sandbox's raw trace (messages, states or all).
//
// It must not:
//   - enforce anything: the runtime does, at its boundary
//     (actor.Runtime.ApplySandbox); this package only says what to
//     enforce. docs/SANDBOXES.md says which limit is enforced where;
//   - talk to Raft, place sandboxes, or run experiments: sandbox/manager
//     does, on top of this package; nor read the disk: the caller hands
//     Parse the bytes.
package sandbox
