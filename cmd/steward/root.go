package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/client"
	"github.com/steward/steward/node"
	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc"
)

// globals are the flags every admin command shares.
type globals struct {
	addr    string
	timeout time.Duration
	// tls is --ca-file, --cert-file, --key-file and --tls-server-name
	// (STEWARD_CACERT, STEWARD_CLIENT_CERT, STEWARD_CLIENT_KEY,
	// STEWARD_TLS_SERVER_NAME when not given).
	tls tlsutil.CLIConfig
	// token is --token, the ACL secret ID (STEWARD_TOKEN when not given).
	token string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "steward",
		Short:         "steward coordinates supervised processes across a cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       node.Version,
	}
	root.PersistentFlags().StringVar(&g.addr, "addr", "", "gRPC address of a steward agent (default $STEWARD_ADDR or "+client.DefaultAddr+")")
	root.PersistentFlags().DurationVar(&g.timeout, "timeout", 30*time.Second, "how long a command waits for the cluster")
	root.PersistentFlags().StringVar(&g.tls.CAFile, "ca-file", "", "CA certificate that signed the agents' certificates: connect with TLS (default $"+client.EnvCACert+")")
	root.PersistentFlags().StringVar(&g.tls.CertFile, "cert-file", "", "client certificate (a cli one: steward tls cert create --cli) for an agent that verifies callers (default $"+client.EnvClientCert+")")
	root.PersistentFlags().StringVar(&g.tls.KeyFile, "key-file", "", "the client certificate's key (default $"+client.EnvClientKey+")")
	root.PersistentFlags().StringVar(&g.tls.ServerName, "tls-server-name", "", "name the agent's certificate must carry, e.g. server.global.steward (default $"+client.EnvTLSServerName+"; without it any agent role name)")
	root.PersistentFlags().StringVar(&g.token, "token", "", "ACL token (secret ID) sent with every call (default $"+client.EnvToken+")")
	root.AddCommand(
		newAgentCmd(),
		newStatusCmd(g),
		newMembersCmd(g),
		newRaftCmd(g),
		newLeaveCmd(g),
		newKVCmd(g),
		newSupCmd(g), newProcCmd(g), newEventsCmd(g), newTraceCmd(g),
		newPlanCmd(g), newApplyCmd(g), newOpsCmd(g), newSnapshotCmd(g), newModuleCmd(g), newDeployCmd(g), newCheckpointCmd(g), newSandboxCmd(g), newExperimentCmd(g),
		newValidateCmd(g), newThresholdsCmd(g), newOperatorCmd(g),
		newKeygenCmd(), newKeyringCmd(g),
		newTLSCmd(),
		newACLCmd(g),
		newAuditCmd(g),
		newVersionCmd(),
	)
	root.SetVersionTemplate(buildVersion().line() + "\n")
	strictUsage(root)
	registerCompletions(root, g)
	return root
}

// address is the agent to talk to: --addr, else STEWARD_ADDR, else the
// default. One that is not host:port is a usage error naming its source.
func (g *globals) address() (string, error) {
	addr := client.Addr(g.addr)
	if err := client.CheckAddr(addr); err != nil {
		source := "--addr"
		if g.addr == "" {
			source = client.EnvAddr
		}
		return "", usageError(fmt.Sprintf("%s %v", source, err))
	}
	return addr, nil
}

// dial opens a client to the chosen agent.
func (g *globals) dial() (*client.Client, error) {
	addr, err := g.address()
	if err != nil {
		return nil, err
	}
	opts, err := g.dialOptions()
	if err != nil {
		return nil, err
	}
	return client.New(addr, opts...)
}

// dialOptions send the ACL token (--token, STEWARD_TOKEN) and, when
// --ca-file (or its variable)
// asks for TLS; a file that does not load is a usage error naming it.
func (g *globals) dialOptions() ([]grpc.DialOption, error) {
	var opts []grpc.DialOption
	if secret := client.Token(g.token); secret != "" {
		opts = append(opts, client.WithToken(secret)...)
	}
	c, on := client.TLSFromEnv(g.tls)
	if !on {
		return opts, nil
	}
	opt, err := client.WithTLS(c)
	if err != nil {
		return nil, usageError(err.Error())
	}
	return append(opts, opt), nil
}

// connect opens a client to the chosen agent and a context bounded by
// --timeout.
func (g *globals) connect(cmd *cobra.Command) (*client.Client, context.Context, context.CancelFunc, error) {
	c, err := g.dial()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	return c, ctx, func() { cancel(); _ = c.Close() }, nil
}

// rpcError wraps an RPC failure with a message for people.
func (g *globals) rpcError(err error) error {
	if err == nil {
		return nil
	}
	_, tlsOn := client.TLSFromEnv(g.tls)
	if msg, ok := client.ExplainTLS(client.Addr(g.addr), tlsOn, err); ok {
		return &cliError{msg: msg, code: 1}
	}
	return &cliError{msg: client.Explain(client.Addr(g.addr), err), code: 1}
}

// cliError carries the exit code of a failed command.
type cliError struct {
	msg  string
	code int
}

func (e *cliError) Error() string { return e.msg }

func usageError(format string) error { return &cliError{msg: format, code: 2} }

func exitCode(err error) int {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.code
	}
	return 1
}
