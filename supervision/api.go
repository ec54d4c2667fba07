package supervision

import (
	"context"

	"github.com/steward/steward/pb"
)

// Exported views for other layers (snapshots, health) that need a node's
// runtime through the same forwarding as the Runtime service.

// TreeView describes a tree live on nodeName ("" : where the replicated
// state places it).
func (l *Layer) TreeView(ctx context.Context, nodeName, tree string) (*pb.TreeViewResponse, error) {
	return l.treeView(ctx, nodeName, tree, "", false)
}

// LiveProcesses lists the processes of one node.
func (l *Layer) LiveProcesses(ctx context.Context, nodeName string) ([]*pb.ProcessInfo, error) {
	resp, err := l.listProcesses(ctx, &pb.ListProcessesRequest{Node: nodeName})
	if err != nil {
		return nil, err
	}
	return resp.Processes, nil
}
