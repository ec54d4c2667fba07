// Package store is the replicated module store (issue 16, items 2 and 3):
// the node layer that takes a pushed WebAssembly module, validates it on
// the leader (hotcode.Validate at the pusher's safety level), commits it
// through Raft in chunks (MODULE_PUT_CHUNK, MODULE_COMMIT; state/modules.go
// holds the records), and, on every node, compiles each stored version
// once with a hotcode.Host (its compilation cache under the node's data
// dir, wasm-cache/) and registers its catalog entry under the behavior
// name "wasm:NAME@VERSION" (BehaviorName), which a tree spec names.
//
// It owns:
//   - the Modules gRPC service: Push (client-streaming, forwarded to the
//     leader; a refusal names every failed check and commits nothing),
//     List, History, Inspect, Delete;
//   - the leader's rules that may change between versions: the safety
//     level's checks, the history limit (Config.HistoryLimit), the limits
//     (Config.MaxTotalBytes, hotcode.MaxModuleBytes), the versions a tree
//     spec pins (never evicted, never deleted), all carried in the
//     commands;
//   - the module_validated and module_refused events on the runtime's
//     event stream;
//   - the node's loop that loads stored versions into the catalog;
//   - the catalog's module resolver (Layer.Resolve, set on the node's
//     catalog by Attach): a tree spec's module ref, "counter" (the
//     module's active version record) or "counter@3" (pinned), becomes
//     the behavior "wasm:counter@V" every time a module worker starts or
//     restarts; the leader's spec validation asks it too, so a ref to a
//     module or version not stored is refused.
//
// It must not:
//   - run guest code itself: hotcode's Host does, inside callbacks;
//   - commit anything a validation refused;
//   - move the active version or touch running processes: deployments do
//     (hotcode/deploy; a successful deployment moves the active record).
//
// A version removed from the store leaves the catalog on every node (a
// process already running it keeps its instance until it exits).
package store
