package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// noAgent is an address where no agent listens: a usage error must be
// found before anything is dialled.
var noAgent = []string{"--addr", "127.0.0.1:1", "--timeout", "1s"}

// Every usage error exits 2 with a message that names the command: a
// mistyped command at the root or under any group, a wrong argument count,
// an unknown flag, a bad flag value.
func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"kv", "gett", "x"}, []string{`unknown command "gett" for "steward kv"`, "Did you mean this?\n\tget\n"}},
		{[]string{"sup", "lst"}, []string{`unknown command "lst" for "steward sup"`, "Did you mean this?\n\tlist\n"}},
		{[]string{"proc", "inf", "n1/1"}, []string{`unknown command "inf" for "steward proc"`, "\tinfo\n"}},
		{[]string{"ops", "stauts", "x"}, []string{`unknown command "stauts" for "steward ops"`, "\tstatus\n"}},
		{[]string{"snapshot", "inspct", "x"}, []string{`unknown command "inspct" for "steward snapshot"`, "\tinspect\n"}},
		{[]string{"trace", "flow", "shw", "t"}, []string{`unknown command "shw" for "steward trace flow"`, "\tshow\n"}},
		{[]string{"raft", "peer"}, []string{`unknown command "peer" for "steward raft"`, "\tpeers\n"}},
		{[]string{"operator", "bakup", "f"}, []string{`unknown command "bakup" for "steward operator"`, "\tbackup\n"}},
		{[]string{"thresholds", "gt"}, []string{`unknown command "gt" for "steward thresholds"`, "\tget\n"}},
		{[]string{"completion", "bsh"}, []string{`unknown command "bsh" for "steward completion"`, "\tbash\n"}},
		{[]string{"kvv", "get", "x"}, []string{`unknown command "kvv" for "steward"`, "Did you mean this?\n\tkv\n"}},
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate" for "steward"`, "Run 'steward --help' for usage."}},
		{[]string{"help", "kvv"}, []string{`unknown command "kvv" for "steward"`, "\tkv\n"}},
		{[]string{"help", "kv", "gett"}, []string{`unknown command "gett" for "steward kv"`, "\tget\n"}},
		{[]string{"kv", "get"}, []string{"steward kv get: accepts 1 arg(s), received 0", "Usage: steward kv get KEY"}},
		{[]string{"kv", "put", "k"}, []string{"steward kv put: accepts 2 arg(s), received 1"}},
		{[]string{"kv", "list", "a", "b"}, []string{"steward kv list: accepts at most 1 arg(s), received 2"}},
		{[]string{"status", "extra"}, []string{`unknown command "extra" for "steward status"`, "Usage: steward status"}},
		{[]string{"sup", "tree"}, []string{"steward sup tree: accepts 1 arg(s), received 0"}},
		{[]string{"version", "now"}, []string{`unknown command "now" for "steward version"`}},
		{[]string{"kv", "get", "--bogus", "x"}, []string{"steward kv get: unknown flag: --bogus", "Run 'steward kv get --help' for usage."}},
		{[]string{"--bogus", "status"}, []string{"unknown flag: --bogus"}},
		{[]string{"status", "-z"}, []string{"unknown shorthand flag: 'z'"}},
		{[]string{"--timeout", "soon", "status"}, []string{`invalid argument "soon" for "--timeout" flag`}},
		{[]string{"kv", "put", "--cas", "x", "k", "v"}, []string{`invalid argument "x" for "--cas" flag`}},
		{[]string{"status", "--addr"}, []string{"flag needs an argument: --addr"}},
		{[]string{"apply", "plan.hcl", "-q", "--watch"}, []string{"--quiet and --watch cannot be combined"}},
		{[]string{"snapshot", "capture", "-q", "-o", "json"}, []string{"--quiet and --output cannot be combined"}},
		{[]string{"members", "-o", "yaml"}, []string{`--output "yaml": must be table or json`}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, err := run(t, append(append([]string{}, noAgent...), tc.args...)...)
			if err == nil || exitCode(err) != 2 {
				t.Fatalf("exit %d (%v), want 2\n%s", exitCode(err), err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// commandTree lists every command under root, root included.
func commandTree(root *cobra.Command) []*cobra.Command {
	all := []*cobra.Command{root}
	for _, c := range root.Commands() {
		all = append(all, commandTree(c)...)
	}
	return all
}

// Every group command, however deep, refuses a subcommand it does not have
// (cobra alone prints help and exits 0 below the root), and run bare prints
// its help and exits 2; every command refuses an unknown flag. Walking the
// tree covers the commands added later.
func TestEveryCommandRefusesUnknownInput(t *testing.T) {
	groups, leaves := 0, 0
	for _, c := range commandTree(newRootCmd()) {
		path := strings.Fields(c.CommandPath())[1:]
		if c.HasSubCommands() {
			groups++
			out, err := run(t, append(append(append([]string{}, noAgent...), path...), "nosuchcmd")...)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), `unknown command "nosuchcmd" for "`+c.CommandPath()+`"`) {
				t.Errorf("%s nosuchcmd: exit %d: %v\n%s", c.CommandPath(), exitCode(err), err, out)
			}
			out, err = run(t, append(append([]string{}, noAgent...), path...)...)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), c.CommandPath()+" needs a subcommand") || !strings.Contains(out, "Available Commands:") {
				t.Errorf("bare %s: exit %d: %v\n%s", c.CommandPath(), exitCode(err), err, out)
			}
			continue
		}
		leaves++
		out, err := run(t, append(append(append([]string{}, noAgent...), path...), "--no-such-flag")...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "unknown flag: --no-such-flag") {
			t.Errorf("%s --no-such-flag: exit %d: %v\n%s", c.CommandPath(), exitCode(err), err, out)
		}
	}
	if groups < 10 || leaves < 40 {
		t.Fatalf("walked %d groups and %d leaves: the tree is not all there", groups, leaves)
	}
}

// Asking for help is not an error; a group's usage shows its subcommands,
// not a "[flags]" form it does not have.
func TestHelpExits0(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"kv", "--help"}, {"kv", "-h"}, {"help", "kv"}, {"help", "kv", "get"}, {"kv", "get", "--help"}} {
		out, err := run(t, args...)
		if err != nil {
			t.Fatalf("steward %s: %v", strings.Join(args, " "), err)
		}
		if !strings.Contains(out, "Usage:") {
			t.Fatalf("steward %s: no usage\n%s", strings.Join(args, " "), out)
		}
	}
	out := mustRun(t, "kv", "--help")
	if !strings.Contains(out, "steward kv [command]") || strings.Contains(out, "steward kv [flags]") {
		t.Fatalf("kv usage:\n%s", out)
	}
}
