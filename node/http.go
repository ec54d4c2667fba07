package node

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/steward/steward/acl"
	"github.com/steward/steward/metrics"
	"github.com/steward/steward/ui"
)

// Limits of the HTTP listener.
const (
	// httpReadHeaderTimeout bounds reading a request's headers.
	httpReadHeaderTimeout = 10 * time.Second
	// httpMaxHeaderBytes bounds a request's headers (bytes).
	httpMaxHeaderBytes = 64 << 10
	// HTTPTokenHeader carries an ACL token on the HTTP listener, as
	// x-steward-token does on gRPC; "Authorization: Bearer <secret>" is
	// read too.
	HTTPTokenHeader = "X-Steward-Token"
)

// Metrics is the node's Prometheus registry (docs/OBSERVABILITY.md), for
// layers to register their families on.
func (n *Node) Metrics() *metrics.Registry { return n.metrics }

// HTTPAddr is the address the HTTP listener is bound to, "" when it is
// off.
func (n *Node) HTTPAddr() string { return n.httpAddr }

// listenHTTP binds the HTTP listener when Config.HTTPAddr is set: HTTPS
// with the agent's certificates when TLS is on (reloaded with them, a
// client certificate required with verify_incoming).
func (n *Node) listenHTTP() error {
	if n.cfg.HTTPAddr == "" {
		return nil
	}
	l, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http-addr %s: %w", n.cfg.HTTPAddr, unwrapOpErr(err))
	}
	n.httpAddr = l.Addr().String()
	if n.tls != nil {
		l = tls.NewListener(l, n.tls.IncomingRPCConfig())
	}
	n.httpLis = l
	n.httpSrv = &http.Server{
		Handler:           n.httpHandler(),
		ReadHeaderTimeout: httpReadHeaderTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ErrorLog:          n.logger.Named("http").StandardLogger(nil),
	}
	return nil
}

func (n *Node) serveHTTP() {
	if n.httpSrv == nil {
		return
	}
	n.goFunc(func() {
		if err := n.httpSrv.Serve(n.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.logger.Error("HTTP server stopped", "error", err)
		}
	})
}

func (n *Node) closeHTTP() {
	if n.httpSrv == nil {
		if n.httpLis != nil {
			_ = n.httpLis.Close()
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := n.httpSrv.Shutdown(ctx); err != nil {
		_ = n.httpSrv.Close()
	}
}

// healthBody is the JSON of /v1/health/live and /v1/health/ready.
type healthBody struct {
	Node   string `json:"node"`
	Status string `json:"status"`
	Leader string `json:"leader,omitempty"`
	Error  string `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (n *Node) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health/live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, healthBody{Node: n.cfg.Name, Status: "live"})
	})
	mux.HandleFunc("GET /v1/health/ready", func(w http.ResponseWriter, r *http.Request) {
		leader, _ := n.Leader()
		if leader == "" {
			writeJSON(w, http.StatusServiceUnavailable, healthBody{Node: n.cfg.Name, Status: "not_ready", Error: "no leader known"})
			return
		}
		writeJSON(w, http.StatusOK, healthBody{Node: n.cfg.Name, Status: "ready", Leader: leader})
	})
	metricsH := n.metrics.Handler()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if code, err := n.httpAuthorize(r, acl.Need{Resource: acl.ResourceOperator}); err != nil {
			writeJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		metricsH.ServeHTTP(w, r)
	})
	n.handleDebug(mux)
	// The dashboard (ui/): / redirects to /ui/.
	dash := ui.New(&uiBackend{n: n}, n.logger)
	mux.Handle("GET /{$}", dash)
	mux.Handle("/ui", dash)
	mux.Handle("/ui/", dash)
	return mux
}

// httpToken is the secret a request carries: X-Steward-Token, or an
// Authorization: Bearer header.
func httpToken(r *http.Request) string {
	if t := r.Header.Get(HTTPTokenHeader); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// httpAuthorize checks the request's token for need through the same
// checker the gRPC interceptor uses; nil with ACLs off.
func (n *Node) httpAuthorize(r *http.Request, need acl.Need) (int, error) {
	return n.authorizeToken(httpToken(r), need)
}

// authorizeToken checks token for needs as the gRPC ACL interceptor does,
// with the HTTP status of a refusal; nil with ACLs off.
func (n *Node) authorizeToken(token string, needs ...acl.Need) (int, error) {
	if n.acl == nil {
		return 0, nil
	}
	id, err := n.acl.Resolve(token)
	if err != nil {
		if errors.Is(err, acl.ErrTokenNotFound) {
			return http.StatusForbidden, err
		}
		return http.StatusInternalServerError, err
	}
	if err := acl.Check(id, needs); err != nil {
		return http.StatusForbidden, err
	}
	return 0, nil
}

// memberStatuses are the gossip statuses of the members this node knows
// (steward_gossip_members).
func (n *Node) memberStatuses() []string {
	ms := n.members.list()
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Status
	}
	return out
}
