package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
)

// Every replica reports the same state digest once it has applied the same
// writes, the digest moves with a write, and it is only computed on request.
func TestStateDigestEqualAcrossReplicas(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	c.WaitForLeader()
	kv := pb.NewKVClient(c.Conn(0))
	put(t, kv, "digest/a", "1")

	digests := func() (map[string]*pb.StatusResponse, error) {
		out := map[string]*pb.StatusResponse{}
		for i := 0; i < c.Size(); i++ {
			st, err := pb.NewClusterClient(c.Conn(i)).Status(testkit.Ctx(t, 10*time.Second), &pb.StatusRequest{StateDigest: true})
			if err != nil {
				return nil, err
			}
			if st.StateIndex == 0 || len(st.StateSha256) != 64 {
				return nil, fmt.Errorf("%s: digest %q at index %d", st.Node, st.StateSha256, st.StateIndex)
			}
			out[st.Node] = st
		}
		return out, nil
	}
	var first *pb.StatusResponse
	c.Eventually(30*time.Second, func() error {
		ds, err := digests()
		if err != nil {
			return err
		}
		first = nil
		for name, st := range ds {
			if first == nil {
				first = st
				continue
			}
			if st.StateIndex != first.StateIndex || st.StateSha256 != first.StateSha256 {
				return fmt.Errorf("%s: %d %s, %s: %d %s", name, st.StateIndex, st.StateSha256, first.Node, first.StateIndex, first.StateSha256)
			}
		}
		return nil
	}, "equal digests")

	put(t, kv, "digest/a", "2")
	c.Eventually(30*time.Second, func() error {
		st, err := pb.NewClusterClient(c.Conn(1)).Status(testkit.Ctx(t, 10*time.Second), &pb.StatusRequest{StateDigest: true})
		if err != nil {
			return err
		}
		if st.StateIndex <= first.StateIndex {
			return fmt.Errorf("index %d, not past %d yet", st.StateIndex, first.StateIndex)
		}
		if st.StateSha256 == first.StateSha256 {
			t.Fatalf("digest %s unchanged by a write (index %d -> %d)", st.StateSha256, first.StateIndex, st.StateIndex)
		}
		return nil
	}, "the digest to move")

	st, err := pb.NewClusterClient(c.Conn(0)).Status(testkit.Ctx(t, 10*time.Second), &pb.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.StateSha256 != "" || st.StateIndex != 0 {
		t.Errorf("digest without state_digest: %q at %d", st.StateSha256, st.StateIndex)
	}
}
