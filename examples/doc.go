// Package examples holds supervision-tree specs to apply against a
// running agent (`make dev`, then `bin/steward sup apply examples/web.hcl`),
// and under plans/ coordinated operation plans to run against them; see the
// "Supervision trees" and "Coordinated plans" sections of README.md. The
// package's tests check that every spec here is accepted by the spec
// package and starts on a runtime with the native behaviors, and that every
// plan succeeds on a one-node cluster running web.hcl and pool.hcl.
package examples
