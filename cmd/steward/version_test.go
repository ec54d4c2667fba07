package main

import (
	"runtime"
	"testing"

	"github.com/steward/steward/node"
)

// steward version and --version print one line (version, commit, build
// date, Go version); -o json the same fields. Unstamped, commit and date are
// "unknown"; stamped through -ldflags (node.Commit, node.BuildDate), they
// show.
func TestVersion(t *testing.T) {
	v := decodeJSON[map[string]any](t, mustRun(t, "version", "-o", "json"))
	hasKeys(t, "version -o json", v, "version", "commit", "build_date", "go_version")
	if v["version"] != node.Version || v["go_version"] != runtime.Version() {
		t.Fatalf("version -o json: %v", v)
	}
	// Unstamped, and go test records no VCS information.
	if v["commit"] != "unknown" || v["build_date"] != "unknown" {
		t.Fatalf("unstamped: %v", v)
	}
	line := mustRun(t, "version")
	if line != mustRun(t, "--version") {
		t.Fatalf("version and --version differ: %q, %q", line, mustRun(t, "--version"))
	}

	commit, date := node.Commit, node.BuildDate
	t.Cleanup(func() { node.Commit, node.BuildDate = commit, date })
	node.Commit, node.BuildDate = "abc1234", "2025-01-02T03:04:05Z"
	want := "steward " + node.Version + " (commit abc1234, built 2025-01-02T03:04:05Z, " + runtime.Version() + ")\n"
	if got := mustRun(t, "version"); got != want {
		t.Fatalf("stamped version = %q, want %q", got, want)
	}
	if got := mustRun(t, "--version"); got != want {
		t.Fatalf("stamped --version = %q, want %q", got, want)
	}
	v = decodeJSON[map[string]any](t, mustRun(t, "version", "-o", "json"))
	if v["commit"] != "abc1234" || v["build_date"] != "2025-01-02T03:04:05Z" {
		t.Fatalf("stamped -o json: %v", v)
	}
}
