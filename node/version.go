package node

// Version is steward's version, advertised to other nodes through gossip.
// Set at build time with -ldflags "-X github.com/steward/steward/node.Version=...".
var Version = "0.1.0-dev"

// Commit is the git commit the binary was built from, and BuildDate when it
// was built (UTC, RFC 3339); "" when not stamped. `make build` sets both with
// -ldflags "-X github.com/steward/steward/node.Commit=... -X
// github.com/steward/steward/node.BuildDate=...".
var (
	Commit    = ""
	BuildDate = ""
)
