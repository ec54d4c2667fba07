// Package stack wires what a steward agent runs on top of its cluster
// spine (package node): the node's process runtime, built here and handed
// to every layer that acts on it, and the layers themselves, each given
// only the parts it uses:
//
//	runtime      the node's processes and supervisors (package actor)
//	supervision  runtime + its Router: keeps the runtime at the desired state
//	coordination runtime: runs this node's share of plans
//	snapshot     runtime + supervision (trees) + coordination (plans)
//	health       runtime + supervision (applied spec indexes)
//	backup       the replicated state only
//	modules      runtime (catalog, events): the WebAssembly module store (hotcode/store)
//
// cmd/steward and the tests build agents with it. It owns no behaviour:
// what each part does is its own package's.
package stack
