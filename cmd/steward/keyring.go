package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
)

// keyringJSON is a Keyring answer as `steward keyring ... -o json` prints
// it; keys are stable.
type keyringJSON struct {
	TotalNodes  int               `json:"total_nodes"`
	Keys        []keyringKeyJSON  `json:"keys"`
	Nodes       []keyringNodeJSON `json:"nodes"`
	FailedNodes []string          `json:"failed_nodes"`
	// Error is the failure, when the operation did not succeed on every
	// node (the command then exits 1).
	Error string `json:"error,omitempty"`
}

type keyringKeyJSON struct {
	Key string `json:"key"`
	// Nodes hold the key, of TotalNodes; PrimaryNodes use it as primary.
	Nodes        int `json:"nodes"`
	PrimaryNodes int `json:"primary_nodes"`
}

type keyringNodeJSON struct {
	Name       string   `json:"name"`
	Mode       string   `json:"mode"`
	GRPCAddr   string   `json:"grpc_addr"`
	Keys       []string `json:"keys"`
	PrimaryKey string   `json:"primary_key"`
	Error      string   `json:"error,omitempty"`
}

func keyringView(r *pb.KeyringResponse) keyringJSON {
	j := keyringJSON{TotalNodes: int(r.GetTotalNodes()), Keys: []keyringKeyJSON{}, Nodes: []keyringNodeJSON{}, FailedNodes: []string{}}
	for _, k := range r.GetKeys() {
		j.Keys = append(j.Keys, keyringKeyJSON{Key: k.Key, Nodes: int(k.Nodes), PrimaryNodes: int(k.PrimaryNodes)})
	}
	for _, n := range r.GetNodes() {
		keys := append([]string{}, n.Keys...)
		j.Nodes = append(j.Nodes, keyringNodeJSON{Name: n.Name, Mode: n.Mode, GRPCAddr: n.GrpcAddr, Keys: keys, PrimaryKey: n.PrimaryKey, Error: n.Error})
	}
	j.FailedNodes = append(j.FailedNodes, r.GetFailedNodes()...)
	return j
}

func writeKeyringView(w io.Writer, out string, j keyringJSON) error {
	if out == "json" {
		return writeJSON(w, j)
	}
	t := newTable(w, "KEY", "NODES", "PRIMARY ON")
	for _, k := range j.Keys {
		t.row(k.Key, fmt.Sprintf("%d/%d", k.Nodes, j.TotalNodes), fmt.Sprintf("%d/%d", k.PrimaryNodes, j.TotalNodes))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = newTable(w, "NODE", "MODE", "PRIMARY KEY", "KEYS", "ERROR")
	for _, n := range j.Nodes {
		primary, errText := n.PrimaryKey, n.Error
		if primary == "" {
			primary = "-"
		}
		if errText == "" {
			errText = "-"
		}
		t.row(cell(n.Name, 0), n.Mode, primary, len(n.Keys), cell(errText, 200))
	}
	return t.flush()
}

// keyArg is the KEY argument: base64 of 16, 24 or 32 bytes; anything else
// is a usage error (nothing is sent).
func keyArg(args []string) (string, error) {
	if _, err := node.ParseKey(args[0]); err != nil {
		return "", usageError(fmt.Sprintf("KEY: %v", err))
	}
	return args[0], nil
}

func newKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new gossip encryption key (32 random bytes, base64) for encrypt or keyring install",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := node.GenerateKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k)
			return nil
		},
	}
}

func newKeyringCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keyring",
		Short: "List and rotate the gossip encryption keys of every node",
		Long: `Manage the gossip encryption keyring of every node, as consul keyring does. The agent
called fans each command out to every alive member (servers and client agents) and
answers each node's result; a command that fails on a node exits 1 naming it.

Rotate the key without downtime:

  steward keyring install NEW   add the new key everywhere (still encrypting with the old)
  steward keyring use NEW       encrypt with it everywhere (refused unless every node has it)
  steward keyring remove OLD    drop the old key (refused while a node uses it as primary)

Each node keeps its keyring in its data dir (gossip/local.keyring), which overrides
its encrypt setting at the next start.`,
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "Show each key, how many nodes hold it, and each node's primary key",
		Args:  cobra.NoArgs,
	}
	listOut := outputFlag(list)
	localOnly := list.Flags().Bool("local-only", false, "only the keyring of the agent called")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*listOut); err != nil {
			return err
		}
		return runKeyring(cmd, g, *listOut, "", func(cmd *cobra.Command, kc pb.KeyringClient) (*pb.KeyringResponse, error) {
			return kc.List(cmd.Context(), &pb.KeyringListRequest{LocalOnly: *localOnly})
		})
	}

	type change struct {
		use, short, done string
		call             func(cmd *cobra.Command, kc pb.KeyringClient, key string) (*pb.KeyringResponse, error)
	}
	changes := []change{
		{"install KEY", "Add KEY to every node's keyring (it decrypts; the primary key still encrypts)", "Installed the key",
			func(cmd *cobra.Command, kc pb.KeyringClient, key string) (*pb.KeyringResponse, error) {
				return kc.Install(cmd.Context(), &pb.KeyringInstallRequest{SecretKey: key})
			}},
		{"use KEY", "Make KEY the primary key (the one that encrypts) on every node; every node must hold it", "Now encrypting with the key",
			func(cmd *cobra.Command, kc pb.KeyringClient, key string) (*pb.KeyringResponse, error) {
				return kc.Use(cmd.Context(), &pb.KeyringUseRequest{SecretKey: key})
			}},
		{"remove KEY", "Remove KEY from every node's keyring; refused while a node uses it as primary", "Removed the key",
			func(cmd *cobra.Command, kc pb.KeyringClient, key string) (*pb.KeyringResponse, error) {
				return kc.Remove(cmd.Context(), &pb.KeyringRemoveRequest{SecretKey: key})
			}},
	}
	cmd.AddCommand(list)
	for _, ch := range changes {
		sub := &cobra.Command{Use: ch.use, Short: ch.short, Args: cobra.ExactArgs(1)}
		out := outputFlag(sub)
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(*out); err != nil {
				return err
			}
			key, err := keyArg(args)
			if err != nil {
				return err
			}
			return runKeyring(cmd, g, *out, ch.done, func(cmd *cobra.Command, kc pb.KeyringClient) (*pb.KeyringResponse, error) {
				return ch.call(cmd, kc, key)
			})
		}
		cmd.AddCommand(sub)
	}
	return cmd
}

// runKeyring makes one Keyring call and prints the per-node results, also
// those a failure carries; a failure exits 1 with its message, which names
// the nodes.
func runKeyring(cmd *cobra.Command, g *globals, out, done string, call func(*cobra.Command, pb.KeyringClient) (*pb.KeyringResponse, error)) error {
	c, ctx, cancel, err := g.connect(cmd)
	if err != nil {
		return err
	}
	defer cancel()
	cmd.SetContext(ctx)
	resp, err := call(cmd, pb.NewKeyringClient(c.Conn()))
	w := cmd.OutOrStdout()
	if err != nil {
		details := node.KeyringResponseOf(err)
		if details == nil {
			return g.rpcError(err)
		}
		j := keyringView(details)
		j.Error = g.rpcError(err).Error()
		if werr := writeKeyringView(w, out, j); werr != nil {
			return werr
		}
		return &cliError{msg: j.Error, code: 1}
	}
	if out != "json" && done != "" {
		fmt.Fprintf(w, "%s on %d/%d nodes\n\n", done, len(resp.Nodes), resp.TotalNodes)
	}
	return writeKeyringView(w, out, keyringView(resp))
}
