package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Usage errors exit 2: an unknown command or flag, a wrong number of
// arguments, a flag or argument of the wrong form. Left to itself cobra
// returns plain errors for these (exit 1), and a group command given an
// unknown subcommand (`steward kv gett`) prints its help and exits 0.
// strictUsage fixes the whole tree in one place, so a new command gets the
// same treatment without code of its own.

// strictUsage walks the built command tree: every flag error and argument
// count error becomes a usage error; every group command (one with
// subcommands and no action of its own, the root included) refuses an
// unknown subcommand with suggestions, and run bare prints its help to
// stderr and exits 2.
func strictUsage(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(fmt.Sprintf("%s: %v\n%s", c.CommandPath(), err, helpHint(c)))
	})
	// Cobra adds help and completion when the command runs; add them now so
	// the walk covers them (`steward help kvv`, `steward completion bsh`).
	root.SetHelpCommand(newHelpCmd())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.HasSubCommands() && !c.Runnable() {
			c.SuggestionsMinimumDistance = 2
			c.Args = subcommandArgs
			c.RunE = missingSubcommand
			// Runnable now, only to refuse what it is given: its usage
			// shows just "steward kv [command]".
			c.SetUsageTemplate(strings.Replace(c.UsageTemplate(), "Usage:{{if .Runnable}}", "Usage:{{if not .HasAvailableSubCommands}}", 1))
			return
		}
		c.Args = checkedArgs(c.Args)
	}
	walk(root)
}

// helpHint is the last line of a usage error.
func helpHint(c *cobra.Command) string {
	return fmt.Sprintf("Run '%s --help' for usage.", c.CommandPath())
}

// subcommandArgs are the arguments of a group command: none (it then
// prints its help), as any argument left over is not one of its
// subcommands.
func subcommandArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return unknownCommand(c, args[0])
}

// unknownCommand is cobra's own message for an unknown command at the root,
// "Did you mean this?" included, for any command.
func unknownCommand(c *cobra.Command, name string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "unknown command %q for %q", name, c.CommandPath())
	if s := c.SuggestionsFor(name); len(s) > 0 {
		b.WriteString("\n\nDid you mean this?\n")
		for _, n := range s {
			fmt.Fprintf(&b, "\t%s\n", n)
		}
	}
	fmt.Fprintf(&b, "\n%s", helpHint(c))
	return usageError(b.String())
}

// missingSubcommand runs a group command given no subcommand: its help, on
// stderr, and exit 2, as nothing asked for was done.
func missingSubcommand(c *cobra.Command, _ []string) error {
	out := c.OutOrStdout()
	c.SetOut(c.ErrOrStderr())
	err := c.Help()
	c.SetOut(out)
	if err != nil {
		return err
	}
	return usageError(fmt.Sprintf("%s needs a subcommand", c.CommandPath()))
}

// checkedArgs makes a command's argument check a usage error naming the
// command and its usage line. A command that declares no check takes no
// arguments (cobra would accept any).
func checkedArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	if check == nil {
		check = cobra.NoArgs
	}
	return func(c *cobra.Command, args []string) error {
		err := check(c, args)
		if err == nil {
			return nil
		}
		msg := err.Error()
		if !strings.Contains(msg, c.CommandPath()) {
			msg = c.CommandPath() + ": " + msg
		}
		return usageError(fmt.Sprintf("%s\nUsage: %s\n%s", msg, c.UseLine(), helpHint(c)))
	}
}

// newHelpCmd replaces cobra's help command, which prints "Unknown help
// topic" and exits 0: an unknown topic is an unknown command.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help for any command: steward help [path to command].",
		Args:  cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			target, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, sub := range target.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name()+"\t"+sub.Short)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil {
				return usageError(err.Error())
			}
			if len(rest) > 0 {
				return unknownCommand(target, rest[0])
			}
			return target.Help()
		},
	}
}
