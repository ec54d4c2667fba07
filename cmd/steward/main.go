// Command steward is the one binary of steward: `steward agent` runs a node;
// every other subcommand is the admin CLI, talking gRPC to the node given by
// --addr or STEWARD_ADDR.
//
// Exit codes: 0 on success (and for --help); 2 for a usage error, found
// before anything is sent: an unknown command or flag, a wrong number of
// arguments, a flag or argument of the wrong form, a group command given no
// subcommand (its help goes to stderr); 1 for anything else: what was named
// does not exist, the agent cannot be reached, the cluster refused.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(exitCode(err))
	}
}
