// Command steward is the one binary of steward: `steward agent` runs a node;
// every other subcommand is the admin CLI, talking gRPC to the node given by
// --addr or STEWARD_ADDR.
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
