package floor

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/steward/steward/bench/load"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TCPRTT measures n round trips of a 64-byte message over one loopback
// TCP connection to an echo server.
func TCPRTT(ctx context.Context, n int) (load.Summary, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return load.Summary{}, err
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		return load.Summary{}, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			return load.Summary{}, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return load.Summary{}, err
		}
		lat = append(lat, time.Since(start))
	}
	return load.Summarize(lat), nil
}

// GRPCRTT measures n unary gRPC health checks over loopback, after one
// unmeasured call that opens the connection.
func GRPCRTT(ctx context.Context, n int) (load.Summary, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return load.Summary{}, err
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return load.Summary{}, err
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		return load.Summary{}, err
	}
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			return load.Summary{}, err
		}
		lat = append(lat, time.Since(start))
	}
	return load.Summarize(lat), nil
}
