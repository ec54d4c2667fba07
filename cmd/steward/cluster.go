package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/pb"
)

// statusJSON is `steward status -o json`; keys are stable.
type statusJSON struct {
	Node            string `json:"node"`
	Leader          string `json:"leader"`
	LeaderAddr      string `json:"leader_addr"`
	Term            uint64 `json:"term"`
	CommitIndex     uint64 `json:"commit_index"`
	AppliedIndex    uint64 `json:"applied_index"`
	LastLogIndex    uint64 `json:"last_log_index"`
	RaftState       string `json:"raft_state"`
	ClusterID       string `json:"cluster_id"`
	Version         string `json:"version"`
	Voters          uint32 `json:"voters"`
	Nonvoters       uint32 `json:"nonvoters"`
	LastContactMs   int64  `json:"last_contact_ms"`
	BootstrapExpect uint32 `json:"bootstrap_expect"`
	// Violations are the node's active resource-threshold violations.
	Violations []resourceViolationJSON `json:"violations"`
	// Mode is "server" (runs Raft) or "client" (a client agent).
	Mode string `json:"mode"`
	// StreamServer is, on a client agent, the server it streams its work
	// from ("" while it has none, and on a server); StreamConnected says
	// whether that stream is up.
	StreamServer    string `json:"stream_server"`
	StreamConnected bool   `json:"stream_connected"`
}

// resourceViolationJSON is a metric over its threshold.
type resourceViolationJSON struct {
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Since  string  `json:"since"`
}

func resourceViolations(vs []*pb.ResourceViolation) []resourceViolationJSON {
	out := make([]resourceViolationJSON, 0, len(vs))
	for _, v := range vs {
		out = append(out, resourceViolationJSON{Metric: v.Metric, Value: v.Value, Limit: v.Limit,
			Since: time.Unix(0, v.SinceUnixNano).UTC().Format(time.RFC3339Nano)})
	}
	return out
}

func newStatusCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the agent's view of the cluster: leader, term, indexes",
		Args:  cobra.NoArgs,
	}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		s, err := c.Cluster.Status(ctx, &pb.StatusRequest{})
		if err != nil {
			return g.rpcError(err)
		}
		j := statusJSON{
			Node: s.Node, Leader: s.Leader, LeaderAddr: s.LeaderAddr, Term: s.Term, CommitIndex: s.CommitIndex,
			AppliedIndex: s.AppliedIndex, LastLogIndex: s.LastLogIndex, RaftState: s.RaftState, ClusterID: s.ClusterId,
			Version: s.Version, Voters: s.Voters, Nonvoters: s.Nonvoters, LastContactMs: s.LastContactMs, BootstrapExpect: s.BootstrapExpect,
			Violations: resourceViolations(s.Violations),
			Mode:       s.Mode, StreamServer: s.StreamServer, StreamConnected: s.StreamConnected,
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, j)
		}
		leader := j.Leader
		if leader == "" {
			leader = "(none)"
		}
		t := newTable(w)
		t.row("Node:", j.Node)
		t.row("Mode:", orDash(j.Mode))
		if j.Mode == "client" {
			// A client agent runs no Raft: its stream stands for it.
			server := j.StreamServer
			if server == "" {
				server = "(none)"
			}
			t.row("Leader:", leader)
			t.row("Stream server:", server)
			t.row("Stream connected:", j.StreamConnected)
			t.row("Applied index:", j.AppliedIndex)
		} else {
			t.row("Raft state:", j.RaftState)
			t.row("Leader:", leader)
			t.row("Term:", j.Term)
			t.row("Commit index:", j.CommitIndex)
			t.row("Applied index:", j.AppliedIndex)
			t.row("Last log index:", j.LastLogIndex)
			t.row("Voters/non-voters:", fmt.Sprintf("%d/%d", j.Voters, j.Nonvoters))
		}
		t.row("Cluster id:", j.ClusterID)
		t.row("Version:", j.Version)
		if len(j.Violations) == 0 {
			t.row("Violations:", "none")
		}
		for i, v := range j.Violations {
			label := ""
			if i == 0 {
				label = "Violations:"
			}
			t.row(label, fmt.Sprintf("%s %g over %g since %s", v.Metric, v.Value, v.Limit, v.Since))
		}
		return t.flush()
	}
	return cmd
}

// memberJSON is one item of `steward members -o json`.
type memberJSON struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	RaftRole   string `json:"raft_role"`
	GossipAddr string `json:"gossip_addr"`
	RaftAddr   string `json:"raft_addr"`
	GRPCAddr   string `json:"grpc_addr"`
	Version    string `json:"version"`
	// Mode is "server" or "client", as the member gossips it ("" from an
	// agent that predates client agents).
	Mode string `json:"mode"`
	// Violations names the metrics over their thresholds on the member, as
	// it gossips them.
	Violations []string `json:"violations"`
}

func newMembersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "members",
		Short: "List the gossip members as the agent sees them, with their Raft role",
		Args:  cobra.NoArgs,
	}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := c.Cluster.Members(ctx, &pb.MembersRequest{})
		if err != nil {
			return g.rpcError(err)
		}
		list := make([]memberJSON, 0, len(resp.Members))
		for _, m := range resp.Members {
			list = append(list, memberJSON{Name: m.Name, Status: m.Status, RaftRole: m.RaftRole, GossipAddr: m.GossipAddr,
				RaftAddr: m.RaftAddr, GRPCAddr: m.GrpcAddr, Version: m.Version, Mode: m.Mode, Violations: append([]string{}, m.Violations...)})
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, list)
		}
		t := newTable(w, "NAME", "STATUS", "MODE", "RAFT", "GOSSIP", "GRPC", "VERSION", "VIOLATIONS")
		for _, m := range list {
			v := "-"
			if len(m.Violations) > 0 {
				v = strings.Join(m.Violations, ",")
			}
			t.row(m.Name, m.Status, orDash(m.Mode), m.RaftRole, m.GossipAddr, m.GRPCAddr, m.Version, v)
		}
		return t.flush()
	}
	return cmd
}

// orDash is s, or "-" when it is empty (a field an older agent does not
// send).
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newLeaveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "leave",
		Short: "Make the agent leave the cluster gracefully and stop",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := g.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			if _, err := c.Cluster.Leave(ctx, &pb.LeaveRequest{}); err != nil {
				return g.rpcError(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Graceful leave complete")
			return nil
		},
	}
}

// peerJSON is one item of `steward raft peers -o json`.
type peerJSON struct {
	Node     string `json:"node"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
}

func newRaftCmd(g *globals) *cobra.Command {
	raftCmd := &cobra.Command{Use: "raft", Short: "Inspect and change the Raft configuration"}

	peers := &cobra.Command{Use: "peers", Short: "List the Raft peers", Args: cobra.NoArgs}
	out := outputFlag(peers)
	stale := peers.Flags().Bool("stale", false, "answer from the agent's own copy of the configuration")
	peers.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := c.Cluster.RaftPeers(ctx, &pb.RaftPeersRequest{Read: &pb.ReadOptions{Stale: *stale}})
		if err != nil {
			return g.rpcError(err)
		}
		list := make([]peerJSON, 0, len(resp.Peers))
		for _, p := range resp.Peers {
			list = append(list, peerJSON{Node: p.Node, Address: p.Address, Suffrage: p.Suffrage, Leader: p.Leader})
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, list)
		}
		t := newTable(w, "NODE", "ADDRESS", "STATE", "VOTER")
		for _, p := range list {
			st := "follower"
			if p.Leader {
				st = "leader"
			}
			t.row(p.Node, p.Address, st, p.Suffrage == "voter")
		}
		return t.flush()
	}

	transfer := &cobra.Command{Use: "transfer-leader", Short: "Hand leadership to another voter", Args: cobra.NoArgs}
	to := transfer.Flags().String("to", "", "node to hand leadership to (default: the most up-to-date voter)")
	transfer.RunE = func(cmd *cobra.Command, _ []string) error {
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := c.Cluster.TransferLeader(ctx, &pb.TransferLeaderRequest{To: *to})
		if err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Leadership transferred to %s\n", resp.NewLeader)
		return nil
	}

	remove := &cobra.Command{Use: "remove-peer NODE", Short: "Remove a failed node from the Raft configuration", Args: cobra.ExactArgs(1)}
	remove.RunE = func(cmd *cobra.Command, args []string) error {
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := c.Cluster.RemovePeer(ctx, &pb.RemovePeerRequest{Node: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Removed peer %s (index %d)\n", args[0], resp.Index)
		return nil
	}
	raftCmd.AddCommand(peers, transfer, remove)
	return raftCmd
}
