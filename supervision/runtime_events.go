package supervision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Notices an event stream adds about itself. They pass every filter: they
// say the stream is incomplete.
const (
	// EventUnreachable: a node could not be asked for its events, or its
	// stream broke (Node names it, Detail says why).
	EventUnreachable = "unreachable"
	// EventsDropped: the stream did not keep up and lost events (Detail
	// says how many).
	EventsDropped = "events_dropped"
)

// subscribeBuffer is how many events a following stream buffers before it
// drops (and reports) events.
const subscribeBuffer = 1024

// eventSink sends one event to the client; it is safe for concurrent use.
type eventSink func(*pb.Event) error

func lockedSink(stream interface{ Send(*pb.Event) error }) eventSink {
	var mu sync.Mutex
	return func(e *pb.Event) error {
		mu.Lock()
		defer mu.Unlock()
		return stream.Send(e)
	}
}

// streamEvents serves an Events request: this node's events, one other
// node's (relayed), or every alive node's, merged.
func (l *Layer) streamEvents(ctx context.Context, req *pb.EventsRequest, send eventSink) error {
	if forwarded(ctx) || req.Node == l.node.Name() {
		return l.localEvents(ctx, req, send)
	}
	if req.Node != "" {
		return l.remoteEvents(ctx, req.Node, req, send)
	}
	if req.Follow {
		return l.followAll(ctx, req, send)
	}
	return l.collectAll(ctx, req, send)
}

// collectAll sends every alive node's buffered events, merged by time.
func (l *Layer) collectAll(ctx context.Context, req *pb.EventsRequest, send eventSink) error {
	var mu sync.Mutex
	var all []*pb.Event
	collect := func(e *pb.Event) error {
		mu.Lock()
		all = append(all, e)
		mu.Unlock()
		return nil
	}
	var wg sync.WaitGroup
	for _, name := range l.node.AliveNodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nctx, cancel := context.WithTimeout(ctx, fanOutTimeout)
			defer cancel()
			if err := l.nodeEvents(nctx, name, req, collect); err != nil {
				_ = collect(unreachableEvent(name, err))
			}
		}()
	}
	wg.Wait()
	sort.SliceStable(all, func(i, j int) bool { return all[i].TimeUnixNano < all[j].TimeUnixNano })
	for _, e := range all {
		if err := send(e); err != nil {
			return err
		}
	}
	return nil
}

// followAll relays every alive node's stream until the client goes away.
// A node whose stream breaks is reported once; the others carry on.
func (l *Layer) followAll(ctx context.Context, req *pb.EventsRequest, send eventSink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var clientErr error
	var once sync.Once
	guarded := func(e *pb.Event) error {
		err := send(e)
		if err != nil {
			once.Do(func() { clientErr = err; cancel() })
		}
		return err
	}
	var wg sync.WaitGroup
	for _, name := range l.node.AliveNodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.nodeEvents(ctx, name, req, guarded)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				err = fmt.Errorf("its event stream ended (the node stopped or left)")
			}
			_ = guarded(unreachableEvent(name, err))
		}()
	}
	wg.Wait()
	if clientErr != nil {
		return clientErr
	}
	return nil
}

// nodeEvents streams one node's events into send.
func (l *Layer) nodeEvents(ctx context.Context, name string, req *pb.EventsRequest, send eventSink) error {
	r := &pb.EventsRequest{Node: name, Types: req.Types, Tree: req.Tree, Follow: req.Follow, Last: req.Last}
	if name == l.node.Name() {
		return l.localEvents(ctx, r, send)
	}
	return l.remoteEvents(ctx, name, r, send)
}

// remoteEvents relays another node's stream.
func (l *Layer) remoteEvents(ctx context.Context, name string, req *pb.EventsRequest, send eventSink) error {
	c, err := l.peer(name)
	if err != nil {
		return err
	}
	stream, err := c.Events(forwardContext(ctx), req)
	if err != nil {
		return peerError(name, err)
	}
	for {
		e, err := stream.Recv()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && ctx.Err() != nil:
			return nil // the client went away
		case err != nil:
			return peerError(name, err)
		}
		if err := send(e); err != nil {
			return err
		}
	}
}

// localEvents sends this node's buffered events (the last N that match),
// then, when following, every new matching event until the client goes
// away or the node stops.
func (l *Layer) localEvents(ctx context.Context, req *pb.EventsRequest, send eventSink) error {
	match := eventFilter(req)
	var sub *actor.Subscription
	if req.Follow {
		sub = l.rt.Subscribe(subscribeBuffer) // before reading the buffer: nothing falls in between
		defer sub.Close()
	}
	buffered := l.rt.Events(0)
	var seen uint64
	var matched []actor.Event
	for _, e := range buffered {
		seen = e.Seq
		if match(e) {
			matched = append(matched, e)
		}
	}
	if req.Last > 0 && len(matched) > int(req.Last) {
		matched = matched[len(matched)-int(req.Last):]
	}
	for _, e := range matched {
		if err := send(eventToPB(e)); err != nil {
			return err
		}
	}
	if sub == nil {
		return nil
	}
	var dropped uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.stopCh:
			return fmt.Errorf("%w: the event stream of %s ends", transport.ErrShuttingDown, l.node.Name())
		case e, ok := <-sub.C:
			if !ok {
				return nil
			}
			if d := sub.Dropped(); d > dropped {
				if err := send(droppedEvent(l.node.Name(), d-dropped)); err != nil {
					return err
				}
				dropped = d
			}
			if e.Seq <= seen || !match(e) {
				continue
			}
			if err := send(eventToPB(e)); err != nil {
				return err
			}
		}
	}
}

func eventFilter(req *pb.EventsRequest) func(actor.Event) bool {
	types := map[string]bool{}
	for _, t := range req.Types {
		types[t] = true
	}
	return func(e actor.Event) bool {
		if len(types) > 0 && !types[string(e.Type)] {
			return false
		}
		return req.Tree == "" || e.Tree == req.Tree
	}
}

func unreachableEvent(name string, err error) *pb.Event {
	return &pb.Event{TimeUnixNano: time.Now().UnixNano(), Node: name, Type: EventUnreachable, Detail: statusMessage(err)}
}

func droppedEvent(name string, n uint64) *pb.Event {
	return &pb.Event{TimeUnixNano: time.Now().UnixNano(), Node: name, Type: EventsDropped,
		Detail: fmt.Sprintf("%d events dropped: the stream did not keep up", n)}
}

// eventsError maps a stream's failure to a status; a client that went away
// is not an error.
func eventsError(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return nil
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.Canceled {
		return nil
	}
	return transport.ToStatus(err)
}
