package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/acl"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Limits of the dashboard (docs/OBSERVABILITY.md, "Dashboard").
const (
	// MaxStreams is how many live feeds (server-sent event streams) an
	// agent serves at once; one more is answered 503.
	MaxStreams = 32
	// StreamBuffer is how many frames a live feed holds for a client that
	// reads slowly; past it events are dropped and an events_dropped
	// notice says how many.
	StreamBuffer = 256
	// HistoryEvents is how many recent events per node a live feed sends
	// first, and the most /ui/api/events returns per node.
	HistoryEvents = 200
	// MaxRequestBody is the most a request may carry (bytes): every route
	// is a GET, so none needs a body.
	MaxRequestBody = 1 << 10
	// MaxResponseBytes is the largest answer of a gRPC service the
	// dashboard relays (the gRPC client's receive limit, bytes).
	MaxResponseBytes = 16 << 20
)

// TokenHeader carries the caller's ACL token, as on the rest of the HTTP
// listener; TokenParam carries it on the live feed only, since a
// browser's EventSource cannot send headers.
const (
	TokenHeader = "X-Steward-Token"
	TokenParam  = "token"
)

// Backend is what the dashboard reads the agent through.
type Backend interface {
	// Name is the agent's node name.
	Name() string
	// Conn is a connection to the agent's own gRPC services.
	Conn() (grpc.ClientConnInterface, error)
	// Authorize checks that the token (a secret, "" for the anonymous
	// token) may do every need; nil with ACLs off. The status code is
	// what to answer otherwise (403 for a refusal).
	Authorize(token string, needs ...acl.Need) (int, error)
	// Changes is the agent's change notifications: the names of the
	// replicated tables a commit changed ("plans", "trees", ...),
	// "members" for gossip membership, "leader" for Raft leadership, "*"
	// when everything may have changed (a restored state). It is called
	// once; the channel closes when the agent stops.
	Changes() <-chan []string
}

//go:embed assets
var assets embed.FS

// Server serves the dashboard and its endpoints.
type Server struct {
	b      Backend
	logger hclog.Logger
	files  fs.FS
	mux    *http.ServeMux
	hub    *hub
	// streams is how many live feeds are open (MaxStreams).
	streams streamCount
}

// New returns the dashboard of the agent b reads.
func New(b Backend, logger hclog.Logger) *Server {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	s := &Server{b: b, logger: logger.Named("ui"), files: sub, mux: http.NewServeMux(), hub: newHub(b)}
	s.routes()
	return s
}

// ServeHTTP serves /, /ui/ and /ui/api/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBody)
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	s.mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	})
	s.mux.HandleFunc("GET /ui/{file...}", s.serveAsset)
	s.apiRoutes()
	s.mux.HandleFunc("GET /ui/api/stream", s.serveStream)
}

// serveAsset serves an embedded file; "" is index.html (the application's
// hash routes all load it).
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" {
		name = "index.html"
	}
	name = path.Clean(name)
	if name == "api" || strings.HasPrefix(name, "api/") {
		writeError(w, http.StatusNotFound, "no dashboard endpoint "+r.URL.Path)
		return
	}
	data, err := fs.ReadFile(s.files, name)
	if err != nil {
		http.Error(w, "404 no such dashboard file: "+name, http.StatusNotFound)
		return
	}
	switch path.Ext(name) {
	case ".html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".svg":
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	// Assets change with the binary only; no-cache makes a browser
	// revalidate after an upgrade instead of running an old script.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	_, _ = w.Write(data)
}

// requestToken is the caller's secret: X-Steward-Token, or an
// Authorization: Bearer header; on the live feed also ?token=.
func requestToken(r *http.Request, fromQuery bool) string {
	if t := r.Header.Get(TokenHeader); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	if fromQuery {
		return r.URL.Query().Get(TokenParam)
	}
	return ""
}

// callContext is the request's context with its token on the way to the
// gRPC services, as the CLI sends it.
func callContext(r *http.Request, fromQuery bool) context.Context {
	ctx := r.Context()
	if t := requestToken(r, fromQuery); t != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, acl.TokenMetadataKey, t)
	}
	return ctx
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(errorBody{Error: msg})
}

// httpStatus is the HTTP status of a gRPC error.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.PermissionDenied, codes.Unauthenticated:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.InvalidArgument, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.FailedPrecondition, codes.Aborted, codes.AlreadyExists:
		return http.StatusConflict
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Unimplemented:
		return http.StatusNotImplemented // the agent runs without that layer
	case codes.ResourceExhausted:
		return http.StatusRequestEntityTooLarge
	case codes.Canceled:
		return 499 // the client went away (nginx's convention)
	default:
		return http.StatusInternalServerError
	}
}

// writeRPCError answers a failed gRPC call with its status and message.
func writeRPCError(w http.ResponseWriter, err error) {
	st, _ := status.FromError(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus(st.Code()))
	_ = json.NewEncoder(w).Encode(errorBody{Error: st.Message(), Code: strings.ToLower(st.Code().String())})
}

// hub fans the agent's change notifications out to the live feeds. It
// starts reading them at the first feed.
type hub struct {
	b     Backend
	start sync.Once
	mu    sync.Mutex
	subs  map[chan []string]struct{}
	done  bool
}

func newHub(b Backend) *hub { return &hub{b: b, subs: map[chan []string]struct{}{}} }

// subscribe returns a channel of change notifications (buffered; a full
// one coalesces into "*") and its cancel. ok is false once the agent
// stopped.
func (h *hub) subscribe() (ch chan []string, cancel func(), ok bool) {
	h.start.Do(func() { go h.run(h.b.Changes()) })
	ch = make(chan []string, 16)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return nil, nil, false
	}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}, true
}

func (h *hub) run(changes <-chan []string) {
	for topics := range changes {
		h.mu.Lock()
		for ch := range h.subs {
			select {
			case ch <- topics:
			default:
				// The feed is behind: replace what it holds by "everything".
				select {
				case <-ch:
				default:
				}
				select {
				case ch <- []string{"*"}:
				default:
				}
			}
		}
		h.mu.Unlock()
	}
	h.mu.Lock()
	h.done = true
	for ch := range h.subs {
		close(ch)
		delete(h.subs, ch)
	}
	h.mu.Unlock()
}

// errStopped: the agent is shutting down.
var errStopped = errors.New("the agent is stopping")
