package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
)

// Metrics are one sandbox's figures in `experiment compare`, taken from
// its node's inspection: what an A/B of two module versions looks at.
type Metrics struct {
	Sandbox string `json:"sandbox"`
	Node    string `json:"node"`
	Running bool   `json:"running"`
	// MessagesHandled sums the messages its live processes received.
	MessagesHandled uint64 `json:"messages_handled"`
	// Callbacks and the latency percentiles cover every callback since
	// the sandbox started (its running time, as CPU accounting charges).
	Callbacks    uint64  `json:"callbacks"`
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	LatencyMaxMs float64 `json:"latency_max_ms"`
	// Restarts sums its live processes' restart counts.
	Restarts    int     `json:"restarts"`
	Processes   int64   `json:"processes"`
	MemoryBytes int64   `json:"memory_bytes"`
	CPUUsedMs   float64 `json:"cpu_used_ms"`
	Throttles   uint64  `json:"throttles"`
	Violations  uint64  `json:"violations"`
	Dropped     uint64  `json:"dropped"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// metricsOf reduces an inspection to the compared figures.
func metricsOf(in Inspection) Metrics {
	m := Metrics{Sandbox: in.Name, Node: in.Node, Running: in.Running}
	for _, p := range in.Processes {
		m.MessagesHandled += p.MessagesIn
		m.Restarts += p.Restarts
	}
	if s := in.Sandbox; s != nil {
		m.Callbacks = s.Latency.Count
		m.LatencyP50Ms, m.LatencyP99Ms, m.LatencyMaxMs = ms(s.Latency.P50), ms(s.Latency.P99), ms(s.Latency.Max)
		m.Processes, m.MemoryBytes = s.Processes, s.MemoryBytes
		m.CPUUsedMs, m.Throttles = ms(s.CPUUsed), s.Throttles
		m.Violations, m.Dropped = s.Violations, s.RateDropped+s.MailboxDropped
	}
	return m
}

// Compare inspects every sandbox of the experiment on its node and puts
// their metrics side by side, in the experiment's order.
func (s *experimentService) Compare(ctx context.Context, req *pb.GetExperimentRequest) (*pb.CompareExperimentResponse, error) {
	v, err := s.Status(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &pb.CompareExperimentResponse{Experiment: v.Experiment}
	client := &sandboxService{l: s.l}
	for _, p := range v.Experiment.Parts {
		row := &pb.CompareRow{Sandbox: p.Sandbox, Node: p.Node}
		m, err := s.l.metrics(ctx, client, p.Sandbox)
		if err != nil {
			row.Error = err.Error()
		} else if row.Metrics, err = toStruct(m); err != nil {
			return nil, transport.ToStatus(err)
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// metrics inspects one sandbox (forwarded to its node) and reduces it.
func (l *Layer) metrics(ctx context.Context, svc *sandboxService, name string) (Metrics, error) {
	resp, err := svc.Inspect(ctx, &pb.SandboxLiveRequest{Name: name})
	if err != nil {
		return Metrics{}, err
	}
	// Through a map: encoding/json writes the Struct's numbers (float64)
	// without exponents, so integer fields decode back.
	doc, err := json.Marshal(resp.View.AsMap())
	if err != nil {
		return Metrics{}, err
	}
	var in Inspection
	if err := json.Unmarshal(doc, &in); err != nil {
		return Metrics{}, fmt.Errorf("sandbox %q: reading its inspection: %w", name, err)
	}
	return metricsOf(in), nil
}
