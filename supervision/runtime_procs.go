package supervision

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc/status"
)

const (
	// fanOutTimeout bounds how long a cluster-wide listing waits for one
	// node.
	fanOutTimeout = 10 * time.Second
	// defaultCallTimeout and maxCallTimeout bound a Send of kind call.
	defaultCallTimeout = 5 * time.Second
	maxCallTimeout     = 5 * time.Minute
)

// listProcesses lists the processes of one node, or of every alive node
// (of the tree's node when a committed tree is asked for), gathering the
// nodes that did not answer instead of failing.
func (l *Layer) listProcesses(ctx context.Context, req *pb.ListProcessesRequest) (*pb.ListProcessesResponse, error) {
	if req.Node != "" || forwarded(ctx) {
		return onNode(ctx, l, req.Node, req,
			func(ctx context.Context, c pb.RuntimeClient, r *pb.ListProcessesRequest) (*pb.ListProcessesResponse, error) {
				return c.ListProcesses(ctx, r)
			},
			func(_ context.Context, r *pb.ListProcessesRequest) (*pb.ListProcessesResponse, error) {
				return l.localProcesses(r.Tree), nil
			})
	}
	nodes := l.node.AliveNodes()
	if req.Tree != "" {
		if rec, err := l.node.State().Tree(req.Tree); err == nil && rec != nil {
			nodes = []string{rec.Node}
		}
	}
	out := &pb.ListProcessesResponse{Unreachable: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nctx, cancel := context.WithTimeout(ctx, fanOutTimeout)
			defer cancel()
			resp, err := l.listProcesses(nctx, &pb.ListProcessesRequest{Node: name, Tree: req.Tree})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out.Unreachable[name] = statusMessage(err)
				return
			}
			out.Processes = append(out.Processes, resp.Processes...)
		}()
	}
	wg.Wait()
	sortProcesses(out.Processes)
	return out, nil
}

func (l *Layer) localProcesses(tree string) *pb.ListProcessesResponse {
	out := &pb.ListProcessesResponse{}
	for _, pi := range l.rt.Processes() {
		if tree != "" && pi.Tree != tree {
			continue
		}
		out.Processes = append(out.Processes, processToPB(pi))
	}
	return out
}

// sortProcesses orders a merged listing by node, then by PID sequence.
func sortProcesses(ps []*pb.ProcessInfo) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, _ := actor.ParsePID(ps[i].Pid)
		b, _ := actor.ParsePID(ps[j].Pid)
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Seq < b.Seq
	})
}

func (l *Layer) getProcess(_ context.Context, req *pb.ProcessRequest) (*pb.ProcessInfo, error) {
	pid, err := l.resolve(req.Ref)
	if err != nil {
		return nil, err
	}
	pi, err := l.rt.Process(pid)
	if err != nil {
		return nil, err
	}
	return processToPB(pi), nil
}

func (l *Layer) getState(ctx context.Context, req *pb.ProcessRequest) (*pb.ProcessStateResponse, error) {
	pid, err := l.resolve(req.Ref)
	if err != nil {
		return nil, err
	}
	st, err := l.rt.GetState(ctx, pid)
	if err != nil {
		return nil, fmt.Errorf("state of %s: %w", pid, err)
	}
	return &pb.ProcessStateResponse{Pid: pid.String(), State: st}, nil
}

// kill takes a process down at once (Terminate does not run); its
// supervisor restarts it according to its restart type. The default
// reason, "killed", is abnormal, so even a transient child comes back.
func (l *Layer) kill(_ context.Context, req *pb.KillRequest) (*pb.OpResponse, error) {
	pid, err := l.resolve(req.Ref)
	if err != nil {
		return nil, err
	}
	reason := actor.Reason(req.Reason)
	if reason == "" || reason == actor.Kill {
		reason = actor.Killed
	}
	if err := l.rt.Kill(pid, reason); err != nil {
		return nil, err
	}
	return &pb.OpResponse{Pid: pid.String(), Detail: "killed with reason " + string(reason)}, nil
}

// send delivers a message as info or cast (reporting a dead or unknown
// target), or makes a call and returns the reply.
func (l *Layer) send(ctx context.Context, req *pb.SendRequest) (*pb.OpResponse, error) {
	kind, err := sendKind(req.Kind)
	if err != nil {
		return nil, err
	}
	pid, err := l.resolve(req.Ref)
	if err != nil {
		return nil, err
	}
	msg := actor.Message{Kind: kind, Body: req.Body}
	if kind != actor.KindCall {
		if err := l.rt.SendChecked(pid, msg); err != nil {
			return nil, fmt.Errorf("send to %s: %w", pid, err)
		}
		return &pb.OpResponse{Pid: pid.String(), Detail: fmt.Sprintf("%s of %d bytes delivered", kind, len(req.Body))}, nil
	}
	timeout := defaultCallTimeout
	if req.TimeoutMs > 0 {
		timeout = min(time.Duration(req.TimeoutMs)*time.Millisecond, maxCallTimeout)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := l.rt.Call(cctx, pid, msg)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", pid, err)
	}
	return &pb.OpResponse{Pid: pid.String(), Reply: reply, Detail: fmt.Sprintf("reply of %d bytes", len(reply))}, nil
}

func sendKind(s string) (actor.Kind, error) {
	switch s {
	case "", "info":
		return actor.KindInfo, nil
	case "cast":
		return actor.KindCast, nil
	case "call":
		return actor.KindCall, nil
	}
	return 0, fmt.Errorf("%w: kind %q: want info, cast or call", actor.ErrBadKind, s)
}

func (l *Layer) setSuspended(req *pb.ProcessRequest, on bool) (*pb.OpResponse, error) {
	pid, err := l.resolve(req.Ref)
	if err != nil {
		return nil, err
	}
	op, detail := l.rt.Resume, "resumed"
	if on {
		op, detail = l.rt.Suspend, "suspended: user messages queue until it is resumed"
	}
	if err := op(pid); err != nil {
		return nil, err
	}
	return &pb.OpResponse{Pid: pid.String(), Detail: detail}, nil
}

// history returns a process's captured states. A PID is taken as is, so
// the history of a process that exited stays readable.
func (l *Layer) history(_ context.Context, req *pb.ProcessRequest) (*pb.HistoryResponse, error) {
	var pid actor.PID
	var err error
	if req.GetRef().GetPid() != "" {
		if pid, err = actor.ParsePID(req.Ref.Pid); err != nil {
			return nil, fmt.Errorf("%w: %w", actor.ErrBadTarget, err)
		}
	} else if pid, err = l.resolve(req.Ref); err != nil {
		return nil, err
	}
	samples, err := l.rt.History(pid)
	if err != nil {
		return nil, err
	}
	return historyToPB(pid, samples), nil
}

// statusMessage is the text of an error, without the gRPC decoration.
func statusMessage(err error) string { return status.Convert(err).Message() }
