package metrics

import (
	"context"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// grpcSample finds name's series whose labels include want; nil if none.
func grpcSample(t *testing.T, r *Registry, name string, want map[string]string) *dto.Metric {
	t.Helper()
	fams, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

// The unary interceptor counts every call started and handled (by
// code) and times it, per method, the first call of a method as the
// later ones.
func TestUnaryServerInterceptorCounts(t *testing.T) {
	r := New("n1")
	info := &grpc.UnaryServerInfo{FullMethod: "/steward.v1.KV/Put"}
	other := &grpc.UnaryServerInfo{FullMethod: "/steward.v1.KV/Get"}
	ok := func(context.Context, any) (any, error) { return "ok", nil }
	notFound := func(context.Context, any) (any, error) { return nil, status.Error(codes.NotFound, "no such key") }
	for i := 0; i < 3; i++ {
		if resp, err := r.UnaryServerInterceptor(context.Background(), nil, info, ok); resp != "ok" || err != nil {
			t.Fatalf("interceptor: %v %v", resp, err)
		}
	}
	if _, err := r.UnaryServerInterceptor(context.Background(), nil, info, notFound); status.Code(err) != codes.NotFound {
		t.Fatalf("interceptor changed the error: %v", err)
	}
	if _, err := r.UnaryServerInterceptor(context.Background(), nil, other, notFound); status.Code(err) != codes.NotFound {
		t.Fatalf("interceptor changed the error: %v", err)
	}
	put := map[string]string{"service": "steward.v1.KV", "method": "Put", "type": "unary"}
	get := map[string]string{"service": "steward.v1.KV", "method": "Get", "type": "unary"}
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range m {
			out[a] = b
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"steward_grpc_server_started_total", put, 4},
		{"steward_grpc_server_handled_total", with(put, "code", "OK"), 3},
		{"steward_grpc_server_handled_total", with(put, "code", "NotFound"), 1},
		{"steward_grpc_server_started_total", get, 1},
		{"steward_grpc_server_handled_total", with(get, "code", "NotFound"), 1},
	} {
		m := grpcSample(t, r, tc.name, tc.labels)
		if m == nil || m.GetCounter().GetValue() != tc.want {
			t.Errorf("%s%v: %v, want %v", tc.name, tc.labels, m.GetCounter().GetValue(), tc.want)
		}
	}
	if m := grpcSample(t, r, "steward_grpc_server_handling_seconds", put); m == nil || m.GetHistogram().GetSampleCount() != 4 {
		t.Errorf("handling_seconds of Put: %v, want 4 samples", m)
	}
	if m := grpcSample(t, r, "steward_grpc_server_handled_total", with(get, "code", "OK")); m != nil && m.GetCounter().GetValue() != 0 {
		t.Errorf("Get counted OK: %v", m)
	}
}

// BenchmarkUnaryServerInterceptor is the interceptor's own cost per
// call.
func BenchmarkUnaryServerInterceptor(b *testing.B) {
	r := New("n1")
	info := &grpc.UnaryServerInfo{FullMethod: "/steward.v1.KV/Put"}
	h := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = r.UnaryServerInterceptor(ctx, nil, info, h)
	}
}
