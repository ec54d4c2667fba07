package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/steward/steward/node"
)

// versionJSON is `steward version -o json`; keys are stable.
type versionJSON struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"build_date"`
	GoVersion string `json:"go_version"`
}

// buildVersion is what this binary knows of its build: the values stamped
// by `make build`, else those the Go toolchain records from git when it
// builds in a checkout (the commit's time standing in for the build date),
// else "unknown" (go test, go run).
func buildVersion() versionJSON {
	v := versionJSON{Version: node.Version, Commit: node.Commit, BuildDate: node.BuildDate, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && v.Commit == "":
				v.Commit = s.Value
				if len(v.Commit) > 7 {
					v.Commit = v.Commit[:7] // as git rev-parse --short
				}
			case s.Key == "vcs.time" && v.BuildDate == "":
				v.BuildDate = s.Value
			}
		}
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	if v.BuildDate == "" {
		v.BuildDate = "unknown"
	}
	return v
}

// line is the one line `steward version` and `steward --version` print.
func (v versionJSON) line() string {
	return fmt.Sprintf("steward %s (commit %s, built %s, %s)", v.Version, v.Commit, v.BuildDate, v.GoVersion)
}

func newVersionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print steward's version, git commit, build date and Go version",
		Args:  cobra.NoArgs,
	}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		v := buildVersion()
		if *out == "json" {
			return writeJSON(cmd.OutOrStdout(), v)
		}
		_, err := fmt.Fprintln(cmd.OutOrStdout(), v.line())
		return err
	}
	return cmd
}
