package node

import (
	"errors"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// The Raft transport refuses pipelined replication, so hashicorp/raft
// replicates with one AppendEntries in flight per follower: its pipeline
// can deadlock when a follower refuses an entry (hashicorp/raft#612; a
// leader's Shutdown hung on it in a test under load).
func TestRaftTransportHasNoPipeline(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Name = "n1"
	cfg.DataDir = t.TempDir()
	cfg.BindAddr, cfg.RaftAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = hclog.NewNullLogger()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	p, err := n.raftTrans.AppendEntriesPipeline("n2", raft.ServerAddress(n.RaftAddr()))
	if !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
		if p != nil {
			_ = p.Close()
		}
		t.Fatalf("AppendEntriesPipeline: %v, want ErrPipelineReplicationNotSupported", err)
	}
}
