package node

import (
	"net/http"
	"net/http/pprof"

	"github.com/steward/steward/acl"
)

// debugPrefix is where the pprof handlers are served when
// Config.EnableDebug is on.
const debugPrefix = "/debug/pprof/"

// handleDebug registers Go's net/http/pprof handlers under /debug/pprof/
// on mux when Config.EnableDebug is on (Consul's enable_debug); off, the
// paths are not served (404). With ACLs on a request needs an operator
// token, the permission /metrics asks for (Consul asks operator:read):
// a profile shows the process's code paths and goroutines, and a CPU
// profile costs CPU while it runs.
func (n *Node) handleDebug(mux *http.ServeMux) {
	if !n.cfg.EnableDebug {
		return
	}
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if code, err := n.httpAuthorize(r, acl.Need{Resource: acl.ResourceOperator}); err != nil {
				writeJSON(w, code, map[string]string{"error": err.Error()})
				return
			}
			h(w, r)
		}
	}
	// pprof.Index serves the named profiles (heap, goroutine, allocs,
	// block, mutex, threadcreate) under the prefix too.
	mux.HandleFunc(debugPrefix, guard(pprof.Index))
	mux.HandleFunc(debugPrefix+"cmdline", guard(pprof.Cmdline))
	mux.HandleFunc(debugPrefix+"profile", guard(pprof.Profile))
	mux.HandleFunc(debugPrefix+"symbol", guard(pprof.Symbol))
	mux.HandleFunc(debugPrefix+"trace", guard(pprof.Trace))
}
