package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/steward/steward/testkit"
	"github.com/steward/steward/transport"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The standard health service answers SERVING for the server as a whole;
// steward.ready answers SERVING only while the node knows a leader, so a
// load balancer or a probe can tell a node that lost its quorum.
func TestReadyHealthServiceFollowsTheLeader(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	check := func(i int, service string, want healthpb.HealthCheckResponse_ServingStatus) error {
		resp, err := healthpb.NewHealthClient(c.Conn(i)).Check(testkit.Ctx(t, 5*time.Second), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return err
		}
		if resp.Status != want {
			return fmt.Errorf("n%d %q: %s, want %s", i+1, service, resp.Status, want)
		}
		return nil
	}
	c.Eventually(10*time.Second, func() error {
		for i := range 3 {
			for _, svc := range []string{"", transport.ReadyService} {
				if err := check(i, svc, healthpb.HealthCheckResponse_SERVING); err != nil {
					return err
				}
			}
		}
		return nil
	}, "every node serving and ready")

	// Two of three nodes gone: the survivor has no leader, so it is not
	// ready, while the server itself still serves.
	survivor := c.Index(c.Followers()[0].Name())
	for i := range 3 {
		if i != survivor {
			c.Kill(i)
		}
	}
	c.Eventually(20*time.Second, func() error {
		if err := check(survivor, transport.ReadyService, healthpb.HealthCheckResponse_NOT_SERVING); err != nil {
			return err
		}
		return check(survivor, "", healthpb.HealthCheckResponse_SERVING)
	}, "the survivor not ready")
}
