package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"time"

	"github.com/steward/steward/internal/rpcerr"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Key prefixes of the workloads.
const (
	RegisterPrefix = "chaos/reg/"
	SetPrefix      = "chaos/set/"
)

// classify reads a write's error: nil is OK; a CAS conflict or a node's
// NotApplied (not the leader, no leader, shutting down, no connection)
// is a certain Fail; anything else (a timeout, a lost leadership, a
// connection cut mid-call) is Unknown.
func classify(err error) Outcome {
	switch {
	case err == nil:
		return OK
	case errors.Is(transport.FromStatus(err), state.ErrCASConflict):
		return Fail
	case rpcerr.NotApplied(err):
		return Fail
	}
	return Unknown
}

// Workload drives the register and set workloads through every node.
type Workload struct {
	c       *Cluster
	h       *History
	keys    int
	timeout time.Duration
	rate    float64
	seed    int64

	mu  sync.Mutex
	set map[string]Outcome // set workload keys, by outcome
	// ops counts every operation (both workloads) with its interval and
	// whether it succeeded, for the success rates.
	all []span
}

type span struct {
	call, ret int64
	ok        bool
}

// NewWorkload: keys registers, ops time out after timeout, each worker
// runs rate operations per second at most.
func NewWorkload(c *Cluster, h *History, keys int, timeout time.Duration, rate float64, seed int64) *Workload {
	return &Workload{c: c, h: h, keys: keys, timeout: timeout, rate: rate, seed: seed, set: map[string]Outcome{}}
}

func (w *Workload) count(call, ret int64, ok bool) {
	w.mu.Lock()
	w.all = append(w.all, span{call, ret, ok})
	w.mu.Unlock()
}

// Run runs regWorkers register clients and setWorkers set clients until
// ctx ends.
func (w *Workload) Run(ctx context.Context, regWorkers, setWorkers int) {
	var wg sync.WaitGroup
	for i := 0; i < regWorkers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); w.register(ctx, i) }()
	}
	for i := 0; i < setWorkers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); w.setAdder(ctx, regWorkers+i) }()
	}
	wg.Wait()
}

func (w *Workload) pace(ctx context.Context, t *time.Ticker) bool {
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// read reads key through node; value "" and index 0 for an absent key.
func (w *Workload) read(ctx context.Context, client, node int, key string) (string, uint64, Op) {
	op := Op{Client: client, Node: w.c.Nodes[node].Name, Key: key, Kind: OpRead, Call: w.h.Now()}
	rctx, cancel := context.WithTimeout(ctx, w.timeout)
	resp, err := w.c.Nodes[node].Client().Get(rctx, key, false)
	cancel()
	op.Return = w.h.Now()
	var val string
	var idx uint64
	switch {
	case err == nil:
		op.Outcome, val, idx = OK, string(resp.GetEntry().GetValue()), resp.GetEntry().GetModifyIndex()
	case status.Code(err) == codes.NotFound:
		op.Outcome = OK
	default:
		op.Outcome, op.Err = Unknown, err.Error()
	}
	op.Value = val
	return val, idx, op
}

// register is one register client: it reads a random key through a
// random node, and half the time then writes a unique value with a CAS
// on the index it read.
func (w *Workload) register(ctx context.Context, client int) {
	rng := rand.New(rand.NewSource(w.seed*1000 + int64(client)))
	t := time.NewTicker(time.Duration(float64(time.Second) / w.rate))
	defer t.Stop()
	for seq := 0; w.pace(ctx, t); seq++ {
		key := fmt.Sprintf("%s%d", RegisterPrefix, rng.Intn(w.keys))
		val, idx, rop := w.read(ctx, client, rng.Intn(len(w.c.Nodes)), key)
		if ctx.Err() != nil && rop.Outcome != OK {
			return // cut short by the end of the run, not by a fault
		}
		w.h.Add(rop)
		w.count(rop.Call, rop.Return, rop.Outcome == OK)
		if rop.Outcome != OK || rng.Intn(2) == 0 {
			continue
		}
		node := rng.Intn(len(w.c.Nodes))
		op := Op{Client: client, Node: w.c.Nodes[node].Name, Key: key, Kind: OpCAS, Expect: val,
			Value: fmt.Sprintf("c%d-%d", client, seq), Call: w.h.Now()}
		cctx, cancel := context.WithTimeout(ctx, w.timeout)
		_, err := w.c.Nodes[node].Client().Put(cctx, key, []byte(op.Value), &idx)
		cancel()
		op.Return, op.Outcome = w.h.Now(), classify(err)
		if err != nil {
			op.Err = err.Error()
		}
		w.h.Add(op)
		w.count(op.Call, op.Return, op.Outcome == OK)
	}
}

// setAdder is one client of the set workload: unconditional writes of
// unique keys, each remembered with its outcome.
func (w *Workload) setAdder(ctx context.Context, client int) {
	rng := rand.New(rand.NewSource(w.seed*1000 + int64(client)))
	t := time.NewTicker(time.Duration(float64(time.Second) / w.rate))
	defer t.Stop()
	for seq := 0; w.pace(ctx, t); seq++ {
		key := fmt.Sprintf("%s%d-%d", SetPrefix, client, seq)
		node := rng.Intn(len(w.c.Nodes))
		call := w.h.Now()
		pctx, cancel := context.WithTimeout(ctx, w.timeout)
		_, err := w.c.Nodes[node].Client().Put(pctx, key, []byte("1"), nil)
		cancel()
		out := classify(err)
		if ctx.Err() != nil && out != OK {
			out = Unknown
		}
		w.mu.Lock()
		w.set[key] = out
		w.mu.Unlock()
		w.count(call, w.h.Now(), out == OK)
	}
}

// SetResult is the set workload's final check.
type SetResult struct {
	Acknowledged int `json:"acknowledged"`
	Failed       int `json:"failed"`
	Unknown      int `json:"unknown"`
	Present      int `json:"present"`
	// Lost are acknowledged keys missing from the final list.
	Lost []string `json:"lost,omitempty"`
	// FailedPresent are keys whose write was reported as not applied
	// (NotApplied), yet present.
	FailedPresent []string `json:"failed_present,omitempty"`
}

// CheckSet lists the set's keys (a linearizable read, retried through
// every node) and compares them with the outcomes.
func (w *Workload) CheckSet(ctx context.Context) (SetResult, error) {
	var resp *pb.KVListResponse
	err := poll(ctx, 500*time.Millisecond, func() error {
		var errs []string
		for _, n := range w.c.Nodes {
			lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			r, err := n.Client().KV.List(lctx, &pb.KVListRequest{Prefix: SetPrefix, KeysOnly: true})
			cancel()
			if err == nil {
				resp = r
				return nil
			}
			errs = append(errs, n.Name+": "+err.Error())
		}
		return errors.New(strings.Join(errs, "; "))
	})
	if err != nil {
		return SetResult{}, fmt.Errorf("list %s: %w", SetPrefix, err)
	}
	present := map[string]bool{}
	for _, e := range resp.Entries {
		present[e.Key] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r := SetResult{Present: len(present)}
	for k, out := range w.set {
		switch out {
		case OK:
			r.Acknowledged++
			if !present[k] {
				r.Lost = append(r.Lost, k)
			}
		case Fail:
			r.Failed++
			if present[k] {
				r.FailedPresent = append(r.FailedPresent, k)
			}
		default:
			r.Unknown++
		}
	}
	return r, nil
}

// FinalReads reads every register once more after healing, so that a
// lost write shows in the history; each read is retried until it answers.
func (w *Workload) FinalReads(ctx context.Context, client int) error {
	for k := 0; k < w.keys; k++ {
		key := fmt.Sprintf("%s%d", RegisterPrefix, k)
		err := poll(ctx, 500*time.Millisecond, func() error {
			_, _, op := w.read(ctx, client, k%len(w.c.Nodes), key)
			if op.Outcome != OK {
				return errors.New(op.Err)
			}
			w.h.Add(op)
			return nil
		})
		if err != nil {
			return fmt.Errorf("final read of %s: %w", key, err)
		}
	}
	return nil
}

// Rates are the shares of operations that succeeded, in and outside the
// fault windows ([start, end] of each fault).
type Rates struct {
	Ops            int     `json:"ops"`
	OutsideOps     int     `json:"outside_fault_ops"`
	OutsideSuccess float64 `json:"outside_fault_success_rate"`
	InsideOps      int     `json:"inside_fault_ops"`
	InsideSuccess  float64 `json:"inside_fault_success_rate"`
}

// SuccessRates computes the rates against the faults' windows.
func (w *Workload) SuccessRates(faults []Fault) Rates {
	w.mu.Lock()
	defer w.mu.Unlock()
	return successRates(w.all, faults)
}

func successRates(all []span, faults []Fault) Rates {
	var r Rates
	var inOK, outOK int
	for _, s := range all {
		r.Ops++
		inside := false
		for _, f := range faults {
			if s.call <= f.EndNs && s.ret >= f.StartNs {
				inside = true
				break
			}
		}
		switch {
		case inside:
			r.InsideOps++
			if s.ok {
				inOK++
			}
		default:
			r.OutsideOps++
			if s.ok {
				outOK++
			}
		}
	}
	if r.InsideOps > 0 {
		r.InsideSuccess = float64(inOK) / float64(r.InsideOps)
	}
	if r.OutsideOps > 0 {
		r.OutsideSuccess = float64(outOK) / float64(r.OutsideOps)
	}
	return r
}
