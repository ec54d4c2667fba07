package ui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/steward/steward/pb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// callTimeout bounds each gRPC call an endpoint makes.
const callTimeout = 15 * time.Second

// jsonOpts encodes gRPC answers as the dashboard reads them: the proto
// field names (snake_case), every field present; 64-bit integers are
// strings, as protojson writes them.
var jsonOpts = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// rpc is what an endpoint does: one or more calls to the agent's services
// on conn, its answer as named parts (each a proto message or raw JSON).
type rpc func(ctx context.Context, conn grpc.ClientConnInterface, r *http.Request) (map[string]any, error)

func (s *Server) apiRoutes() {
	s.mux.HandleFunc("GET /ui/api/members", s.endpoint(members))
	s.mux.HandleFunc("GET /ui/api/trees", s.endpoint(func(ctx context.Context, c grpc.ClientConnInterface, r *http.Request) (map[string]any, error) {
		resp, err := pb.NewSupervisionClient(c).ListTrees(ctx, &pb.ListTreesRequest{Live: true})
		return map[string]any{"trees": resp}, err
	}))
	s.mux.HandleFunc("GET /ui/api/trees/{name}", s.endpoint(func(ctx context.Context, c grpc.ClientConnInterface, r *http.Request) (map[string]any, error) {
		resp, err := pb.NewRuntimeClient(c).TreeView(ctx, &pb.SupervisorRequest{Tree: r.PathValue("name"), Full: true})
		return map[string]any{"tree": resp}, err
	}))
	s.mux.HandleFunc("GET /ui/api/plans", s.endpoint(func(ctx context.Context, c grpc.ClientConnInterface, r *http.Request) (map[string]any, error) {
		resp, err := pb.NewCoordinationClient(c).List(ctx, &pb.ListPlansRequest{})
		return map[string]any{"plans": resp}, err
	}))
	s.mux.HandleFunc("GET /ui/api/plans/{id}", s.endpoint(func(ctx context.Context, c grpc.ClientConnInterface, r *http.Request) (map[string]any, error) {
		resp, err := pb.NewCoordinationClient(c).Get(ctx, &pb.GetPlanRequest{Id: r.PathValue("id")})
		if err != nil {
			return nil, err
		}
		out := map[string]any{"plan": resp.Plan}
		if json.Valid(resp.ResultJson) {
			out["result"] = json.RawMessage(resp.ResultJson)
		}
		return out, nil
	}))
	s.mux.HandleFunc("GET /ui/api/deployments", s.endpoint(func(ctx context.Context, c grpc.ClientConnInterface, r *http.Request) (map[string]any, error) {
		resp, err := pb.NewDeploymentsClient(c).List(ctx, &pb.ListDeploymentsRequest{})
		return map[string]any{"deployments": resp}, err
	}))
	s.mux.HandleFunc("GET /ui/api/deployments/{id}", s.endpoint(func(ctx context.Context, c grpc.ClientConnInterface, r *http.Request) (map[string]any, error) {
		resp, err := pb.NewDeploymentsClient(c).Get(ctx, &pb.GetDeploymentRequest{Id: r.PathValue("id")})
		return map[string]any{"deployment": resp}, err
	}))
	s.mux.HandleFunc("GET /ui/api/sandboxes", s.endpoint(func(ctx context.Context, c grpc.ClientConnInterface, r *http.Request) (map[string]any, error) {
		resp, err := pb.NewSandboxesClient(c).List(ctx, &pb.ListSandboxesRequest{})
		return map[string]any{"sandboxes": resp}, err
	}))
	s.mux.HandleFunc("GET /ui/api/sandboxes/{name}/interactions", s.endpoint(func(ctx context.Context, c grpc.ClientConnInterface, r *http.Request) (map[string]any, error) {
		resp, err := pb.NewSandboxesClient(c).Interactions(ctx, &pb.SandboxLiveRequest{Name: r.PathValue("name")})
		return map[string]any{"interactions": resp}, err
	}))
	s.mux.HandleFunc("GET /ui/api/events", s.endpoint(recentEvents))
}

// members is the members view: gossip members with their Raft roles, and
// this agent's status (its leader, term, indexes).
func members(ctx context.Context, c grpc.ClientConnInterface, r *http.Request) (map[string]any, error) {
	cl := pb.NewClusterClient(c)
	ms, err := cl.Members(ctx, &pb.MembersRequest{})
	if err != nil {
		return nil, err
	}
	st, err := cl.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return nil, err
	}
	return map[string]any{"members": ms, "status": st}, nil
}

// recentEvents is the buffered events of every node (or ?node=), at most
// ?last= (default and most HistoryEvents) per node, oldest first.
func recentEvents(ctx context.Context, c grpc.ClientConnInterface, r *http.Request) (map[string]any, error) {
	last, err := lastParam(r)
	if err != nil {
		return nil, err
	}
	stream, err := pb.NewRuntimeClient(c).Events(ctx, &pb.EventsRequest{Node: r.URL.Query().Get("node"), Last: last})
	if err != nil {
		return nil, err
	}
	var evs []json.RawMessage
	for {
		e, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		b, err := jsonOpts.Marshal(e)
		if err != nil {
			return nil, err
		}
		evs = append(evs, b)
	}
	if evs == nil {
		evs = []json.RawMessage{}
	}
	return map[string]any{"events": evs}, nil
}

// badRequest is an error answered 400 with its message.
type badRequest string

func (e badRequest) Error() string { return string(e) }

func lastParam(r *http.Request) (uint32, error) {
	v := r.URL.Query().Get("last")
	if v == "" {
		return HistoryEvents, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 || n > HistoryEvents {
		return 0, badRequest("last: want a count from 1 to " + strconv.Itoa(HistoryEvents) + ", got " + strconv.Quote(v))
	}
	return uint32(n), nil
}

// endpoint serves f's answer as one JSON object, its parts encoded with
// jsonOpts; a gRPC error is answered with its HTTP status.
func (s *Server) endpoint(f rpc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, err := s.b.Conn()
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "the agent's gRPC services: "+err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(callContext(r, false), callTimeout)
		defer cancel()
		parts, err := f(ctx, conn, r)
		var br badRequest
		switch {
		case errors.As(err, &br):
			writeError(w, http.StatusBadRequest, br.Error())
			return
		case err != nil:
			writeRPCError(w, err)
			return
		}
		out := make(map[string]json.RawMessage, len(parts)+1)
		out["node"], _ = json.Marshal(s.b.Name())
		for k, v := range parts {
			var b []byte
			switch v := v.(type) {
			case json.RawMessage:
				b = v
			case proto.Message:
				b, err = jsonOpts.Marshal(v)
			default:
				b, err = json.Marshal(v)
			}
			if err != nil {
				writeError(w, http.StatusInternalServerError, "encode "+k+": "+err.Error())
				return
			}
			out[k] = b
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(out)
	}
}
