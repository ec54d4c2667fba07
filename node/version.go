package node

// Version is steward's version, advertised to other nodes through gossip.
// Set at build time with -ldflags "-X github.com/steward/steward/node.Version=...".
var Version = "0.1.0-dev"
