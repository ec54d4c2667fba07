// Package examples holds supervision-tree specs to apply against a
// running agent (`make dev`, then `bin/steward sup apply examples/web.hcl`);
// see the "Supervision trees" section of README.md. The package's test
// checks that every spec here is accepted by the spec package and starts
// on a runtime with the native behaviors.
package examples
