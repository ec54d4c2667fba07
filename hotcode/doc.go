// Package hotcode runs WebAssembly modules as process behaviors: the
// module ABI (docs/MODULES.md), validation of a module before it is
// accepted, and the per-node host that compiles modules once and
// instantiates them per process, with wazero.
//
// It owns:
//   - the ABI, version 1: the exports a module must have and their exact
//     signatures, how bytes cross the boundary, status codes, and the
//     steward host module (every function a wazero GoModuleFunction);
//   - the manifest (the steward.manifest custom section) and module
//     versions and version ranges;
//   - Validate: every check at a safety level (strict, moderate,
//     permissive), each refusal naming what failed, and the import table
//     (which host and WASI functions each level allows);
//   - Host: one wazero runtime per node with the memory page cap, the
//     on-disk compilation cache, callbacks stopped at their deadline;
//     Module, one compiled version, and its actor.Entry, whose behavior
//     forwards every callback into a fresh instance per process,
//     including code_change up and down.
//
// It must not:
//   - know about Raft, the replicated state, deployments or checkpoints:
//     the module store and deployments are built on top (they decide which
//     bytes a node compiles and which catalog names point where);
//   - give a module anything the capability rule does not allow: no WASI
//     unless validated at permissive with the "wasi" capability, then no
//     environment, no network and one preopened directory per process;
//   - run guest code outside a callback's deadline, or let a guest fault
//     escape as anything but an error that crashes its process;
//   - panic on a module's input: errors wrap the sentinels in errors.go.
//
// Concurrency: a Host and its Modules are safe for concurrent use; an
// instance belongs to one process and is called only from its goroutine,
// as the runtime calls behaviors.
package hotcode
