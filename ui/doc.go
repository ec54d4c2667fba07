// Package ui is the agent's live web dashboard: a small single-page
// application (plain HTML, CSS and JavaScript, no dependency, embedded in
// the binary with go:embed) served under /ui/ by the agent's HTTP
// listener, the JSON endpoints it reads, and its live feed of server-sent
// events.
//
// The backend holds no state of its own and reads nothing sideways: every
// JSON endpoint calls the agent's own gRPC services (the ones the CLI
// calls, with their forwarding to the leader or to the node a tree runs
// on), passing the caller's ACL token on, so the gRPC side's checks are
// the dashboard's. The live feed relays the Runtime.Events stream of the
// whole cluster and adds change notifications (which replicated tables
// changed, gossip membership, Raft leadership) so that the views refetch
// what an event says changed instead of polling.
//
// Files: server.go (routes, limits, the Backend it reads the agent
// through, tokens, errors), api.go (the JSON endpoints), stream.go (the
// server-sent events), assets/ (the application: index.html, app.css,
// app.js). The agent mounts a Server in node/http.go; node/ui.go
// implements Backend. Tests: server_test.go (the handlers over HTTP, no
// browser), browser_test.go (headless Chromium against a cluster).
//
// It must not write: the dashboard is read-only, every route is a GET.
package ui
