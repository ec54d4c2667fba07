package supervision

import (
	"strconv"
	"sync"

	"github.com/steward/steward/pb"
)

// incarnationKey is the gossip metadata field in which a node tells its
// runtime's incarnation (decimal unix ns of the layer's start).
const incarnationKey = "si"

// incarnations are the runtime incarnations the other nodes gossip,
// refreshed on every Members call (through the layer's OnMember hook).
type incarnations struct {
	mu sync.Mutex
	m  map[string]uint64
}

// record is the OnMember hook: it notes the incarnation member m gossips.
func (in *incarnations) record(meta map[string]string, m *pb.Member) {
	v, err := strconv.ParseUint(meta[incarnationKey], 10, 64)
	if err != nil {
		return // a node that does not tell (an earlier version)
	}
	in.mu.Lock()
	if in.m == nil {
		in.m = map[string]uint64{}
	}
	in.m[m.Name] = v
	in.mu.Unlock()
}

func (in *incarnations) of(name string) uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.m[name]
}
