package health

import (
	"errors"

	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
)

var (
	// ErrUnknownNode is returned when Validate names a node the cluster
	// does not know.
	ErrUnknownNode = errors.New("unknown node")
)

func init() {
	transport.RegisterCode("health.unknown_node", ErrUnknownNode, codes.NotFound)
}
