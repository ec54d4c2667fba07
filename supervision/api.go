package supervision

import (
	"context"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
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

// WatchTree calls changed for the last event of the reconciler about tree
// on nodeName (buffered before the call), then for every new one, until
// ctx ends (nil) or the node's event stream fails (its error): a wait for
// what the node does with a tree's committed spec (applied, rejected, a
// restart scheduled, removed). The events of the tree's processes are not
// followed: a tree of thousands of children starting would otherwise wake
// the waiter, and cross the network, once per child.
func (l *Layer) WatchTree(ctx context.Context, nodeName, tree string, changed func()) error {
	req := &pb.EventsRequest{Tree: tree, Follow: true, Last: 1, Types: reconcilerEvents}
	return l.nodeEvents(ctx, nodeName, req, func(*pb.Event) error {
		changed()
		return nil
	})
}

// Place picks an alive node for a new tree or sandbox (the fewest live
// processes, then the fewest committed trees, then the name), never
// exclude.
func (l *Layer) Place(ctx context.Context, exclude string) (string, error) {
	return l.place(ctx, exclude)
}

// KnownNode checks that a node name belongs to this cluster.
func (l *Layer) KnownNode(name string) error { return l.knownNode(name) }

// ValidateOptions checks behaviors and module refs against this node's
// catalog, as the Supervision service validates a tree.
func (l *Layer) ValidateOptions() spec.ValidateOptions {
	return (&supervisionService{l: l}).validateOptions()
}
