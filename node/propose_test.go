package node_test

import (
	"errors"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/testkit"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// A layer commits through Propose on any node: a follower's proposal is
// forwarded to the leader over the Internal service, applied once, and its
// domain error comes back as the same sentinel.
func TestProposeFromAFollower(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	f := c.Followers()[0]
	ctx := testkit.Ctx(t, 20*time.Second)

	idx, err := f.Propose(ctx, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "p/k", Value: []byte("v")})
	if err != nil || idx == 0 {
		t.Fatalf("propose through a follower: index %d, %v", idx, err)
	}
	c.Eventually(10*time.Second, func() error {
		for _, n := range c.Live() {
			_, rec, err := n.State().KVGet(nil, "p/k")
			if err != nil || rec == nil || string(rec.Value) != "v" || rec.ModifyIndex != idx {
				return errors.New(n.Name() + " lacks the write at its index")
			}
		}
		return nil
	}, "the write on every node")

	zero := uint64(0)
	_, err = f.Propose(ctx, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "p/k", Value: []byte("w"), Cas: &zero})
	if !errors.Is(err, state.ErrCASConflict) || status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a refused command through a follower: %v (code %s), want a cas conflict", err, status.Code(err))
	}
	if transport.NotApplied(err) {
		t.Fatal("a refusal by the state machine taken for not applied")
	}
	// The same on the leader itself.
	_, err = c.Leader().Propose(ctx, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: "p/k", Value: []byte("w"), Cas: &zero})
	if !errors.Is(err, state.ErrCASConflict) {
		t.Fatalf("a refused command on the leader: %v", err)
	}
}

// The Internal service refuses what this binary cannot decode, and
// nothing is committed.
func TestInternalProposeRefusesBadCommands(t *testing.T) {
	c := testkit.NewCluster(t, 1)
	in := pb.NewInternalClient(c.Conn(0))
	ctx := testkit.Ctx(t, 10*time.Second)
	// The new leader's own commits (cluster id, its registry record) are in
	// before the index is taken: nothing else commits in an idle cluster.
	c.Eventually(10*time.Second, func() error {
		st := c.Node(0).State()
		if rec, err := st.Node("n1"); err != nil || rec == nil || st.ClusterID() == "" {
			return errors.New("the leader's first commits are not applied yet")
		}
		return nil
	}, "the leader's first commits")
	before := c.Node(0).State().LatestIndex()
	body, _ := proto.Marshal(&pb.KVPutCommand{Key: "x", Value: []byte("1")})
	for name, req := range map[string]*pb.ProposeRequest{
		"unknown type":      {Type: pb.CommandType(9999), Payload: body},
		"malformed payload": {Type: pb.CommandType_COMMAND_TYPE_KV_PUT, Payload: []byte{0xff, 0xff, 0xff}},
	} {
		_, err := in.Propose(ctx, req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if after := c.Node(0).State().LatestIndex(); after != before {
		t.Fatalf("index moved from %d to %d", before, after)
	}
	// A layer that is not attached answers Unimplemented, not success.
	if _, err := in.Facts(ctx, &pb.FactsRequest{}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("facts with no coordination layer: %v", err)
	}
}
