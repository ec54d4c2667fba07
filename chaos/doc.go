// Package chaos is steward's chaos harness (issue 18, docs/RELIABILITY.md):
// it starts N real `steward agent` processes, each in its own network
// namespace joined to a bridge (or, where namespaces cannot be made, on
// loopback with process faults only), runs workloads whose every operation
// is recorded with its call and return times, injects faults from a
// seeded schedule (the nemesis), heals, and checks what the cluster
// promised:
//
//   - the kv register history is linearizable (porcupine, one model per
//     key; a check that does not finish in its budget is a failure);
//   - no acknowledged write is lost (a set of unique keys, listed at the end);
//   - no write reported as not applied was applied;
//   - every replica's state store snapshot bytes are equal at equal index;
//   - a leader is elected within 10 s of the last heal.
//
// It owns the namespaces, links and firewall rules whose names start with
// Prefix, and removes them on exit and in Clean. It must not touch any
// other namespace, link or rule, and must not read or change the steward
// code under test: it drives the agents through their public API and
// their processes only.
package chaos
