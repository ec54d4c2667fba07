package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/steward/steward/acl"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc/status"
)

// keepAlive is how often an idle live feed sends a comment line, so that
// proxies and the browser see it alive.
const keepAlive = 15 * time.Second

// reconnectMS is the reconnection delay the feed asks EventSource for.
const reconnectMS = 2000

// streamCount counts a Server's open live feeds.
type streamCount struct{ n atomic.Int32 }

// frame is one server-sent event: its event name and JSON data.
type frame struct {
	event string
	data  []byte
}

// writeFrame writes f in the text/event-stream format: an event line, the
// data on one line (JSON has no raw newline), a blank line.
func writeFrame(w io.Writer, f frame) error {
	_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", f.event, f.data)
	return err
}

// helloBody is the first frame of a feed.
type helloBody struct {
	Node          string `json:"node"`
	HistoryEvents int    `json:"history_events"`
	StreamBuffer  int    `json:"stream_buffer"`
}

// changeBody is a change notification: what changed (table names,
// "members", "leader", or "*").
type changeBody struct {
	Topics []string `json:"topics"`
}

// droppedBody says how many events a slow client lost.
type droppedBody struct {
	Dropped uint64 `json:"dropped"`
}

// serveStream is the live feed, GET /ui/api/stream: server-sent events
// named "hello" (first), "event" (one runtime event of any node, as
// /ui/api/events encodes it; the recent ones first), "change" (a change
// notification), "dropped" (events lost to a slow client) and "error"
// (the event stream ended; the browser reconnects). It needs what the
// Runtime.Events stream needs: process read on every node.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	token := requestToken(r, true)
	if code, err := s.b.Authorize(token, acl.Need{Resource: acl.ResourceProcess, Under: true}); err != nil {
		writeError(w, code, err.Error())
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "the connection cannot stream")
		return
	}
	if s.streams.n.Add(1) > MaxStreams {
		s.streams.n.Add(-1)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many live feeds on this agent (at most %d)", MaxStreams))
		return
	}
	defer s.streams.n.Add(-1)
	conn, err := s.b.Conn()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the agent's gRPC services: "+err.Error())
		return
	}
	changes, unsubscribe, ok := s.hub.subscribe()
	if !ok {
		writeError(w, http.StatusServiceUnavailable, errStopped.Error())
		return
	}
	defer unsubscribe()

	ctx, cancel := context.WithCancel(callContext(r, true))
	defer cancel()
	events, err := pb.NewRuntimeClient(conn).Events(ctx, &pb.EventsRequest{Follow: true, Last: HistoryEvents})
	if err != nil {
		writeRPCError(w, err)
		return
	}
	frames := make(chan frame, StreamBuffer)
	var dropped atomic.Uint64
	ended := make(chan error, 1)
	go func() {
		for {
			e, err := events.Recv()
			if err != nil {
				ended <- err
				return
			}
			b, err := jsonOpts.Marshal(e)
			if err != nil {
				ended <- err
				return
			}
			select {
			case frames <- frame{"event", b}:
			default:
				dropped.Add(1)
			}
		}
	}()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	hello, _ := json.Marshal(helloBody{Node: s.b.Name(), HistoryEvents: HistoryEvents, StreamBuffer: StreamBuffer})
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", reconnectMS); err != nil {
		return
	}
	if writeFrame(w, frame{"hello", hello}) != nil {
		return
	}
	flusher.Flush()

	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	send := func(f frame) bool {
		if writeFrame(w, f) != nil {
			return false
		}
		if n := dropped.Swap(0); n > 0 {
			b, _ := json.Marshal(droppedBody{Dropped: n})
			if writeFrame(w, frame{"dropped", b}) != nil {
				return false
			}
		}
		flusher.Flush()
		return true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-frames:
			if !send(f) {
				return
			}
		case topics, ok := <-changes:
			if !ok {
				b, _ := json.Marshal(errorBody{Error: errStopped.Error()})
				send(frame{"error", b})
				return
			}
			b, _ := json.Marshal(changeBody{Topics: topics})
			if !send(frame{"change", b}) {
				return
			}
		case err := <-ended:
			// Deliver what was read before the end, then say why.
			for len(frames) > 0 {
				if !send(<-frames) {
					return
				}
			}
			msg := "the event stream ended"
			if st, ok := status.FromError(err); ok && err != io.EOF {
				msg += ": " + st.Message()
			}
			b, _ := json.Marshal(errorBody{Error: msg, Code: strings.ToLower(status.Code(err).String())})
			send(frame{"error", b})
			return
		case <-tick.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}
