package supervision

import (
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
)

// Conversions from the runtime's types to their protobuf messages. PIDs
// travel as "node/seq" strings ("" for the zero PID) and times as Unix
// nanoseconds (0 for the zero time).

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func pidStrings(pids []actor.PID) []string {
	out := make([]string, len(pids))
	for i, p := range pids {
		out[i] = p.String()
	}
	return out
}

func processToPB(pi actor.ProcessInfo) *pb.ProcessInfo {
	return &pb.ProcessInfo{
		Pid:               pi.PID.String(),
		Node:              pi.Node,
		Tree:              pi.Tree,
		ChildId:           pi.ChildID,
		Parent:            pidString(pi.Parent),
		Supervisor:        pi.Supervisor,
		Behavior:          pi.Behavior,
		Status:            string(pi.Status),
		Restarts:          uint32(pi.Restarts),
		QueueLen:          uint32(pi.QueueLen),
		MessagesIn:        pi.MessagesIn,
		MessagesOut:       pi.MessagesOut,
		MemoryBytes:       pi.MemoryBytes,
		Links:             pidStrings(pi.Links),
		Monitors:          pidStrings(pi.Monitors),
		MonitoredBy:       pidStrings(pi.MonitoredBy),
		RegisteredName:    pi.RegisteredName,
		StartedAtUnixNano: unixNano(pi.StartedAt),
		TrapExit:          pi.TrapExit,
		Module:            pi.Module,
	}
}

func eventToPB(e actor.Event) *pb.Event {
	return &pb.Event{
		Seq:          e.Seq,
		TimeUnixNano: unixNano(e.Time),
		Node:         e.Node,
		Type:         string(e.Type),
		Pid:          pidString(e.PID),
		Tree:         e.Tree,
		ChildId:      e.ChildID,
		Reason:       string(e.Reason),
		Detail:       e.Detail,
	}
}

func flowToPB(g actor.FlowGraph, node string) *pb.FlowResponse {
	out := &pb.FlowResponse{Tree: g.Tree, Node: node, Edges: make([]*pb.FlowEdge, len(g.Edges))}
	for i, e := range g.Edges {
		out.Edges[i] = &pb.FlowEdge{
			From:          pidString(e.From),
			To:            pidString(e.To),
			Count:         e.Count,
			FirstUnixNano: unixNano(e.First),
			LastUnixNano:  unixNano(e.Last),
		}
	}
	return out
}

func historyToPB(pid actor.PID, samples []actor.StateSample) *pb.HistoryResponse {
	out := &pb.HistoryResponse{Pid: pid.String(), Samples: make([]*pb.StateSample, len(samples))}
	for i, s := range samples {
		out.Samples[i] = &pb.StateSample{TimeUnixNano: unixNano(s.Time), State: s.State}
	}
	return out
}
