package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
)

// A leader cut off from the other two cannot commit: a write through it
// fails, while the majority elects a leader of its own and commits. Once
// the partition heals, every node holds the same state: the majority's
// write, not the minority's.
func TestPartitionedMinorityCannotCommit(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithPartitions())
	old := c.Index(c.Leader().Name())
	var majority []int
	for i := range c.Size() {
		if i != old {
			majority = append(majority, i)
		}
	}
	put(t, c.KV(old), "before", "1")
	c.EnsureSame(10 * time.Second)

	c.Partition([]int{old}, majority)

	// The majority commits, once it has a leader of its own.
	c.Eventually(20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := c.KV(majority[0]).Put(ctx, &pb.KVPutRequest{Key: "majority", Value: []byte("yes")})
		return err
	}, "a write through the majority")
	for _, i := range majority {
		if name := c.Node(i).Status().Leader; name == c.Node(old).Name() || name == "" {
			t.Fatalf("%s follows %q", c.Node(i).Name(), name)
		}
	}

	// The minority does not.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.KV(old).Put(ctx, &pb.KVPutRequest{Key: "minority", Value: []byte("no")}); err == nil {
		t.Fatal("a write through the cut-off node was acknowledged")
	}

	c.Heal()
	// The cut-off node catches up once the leader's replication backs off
	// to it again: on a loaded machine that can take a while.
	c.EnsureSame(60 * time.Second)
	for i := range c.Size() {
		got, err := staleGet(testkit.Ctx(t, 5*time.Second), c.KV(i), "majority")
		if err != nil || got != "yes" {
			t.Errorf("%s: majority = %q, %v", c.Node(i).Name(), got, err)
		}
		if got, err := staleGet(testkit.Ctx(t, 5*time.Second), c.KV(i), "minority"); err == nil {
			t.Errorf("%s holds the minority's write %q", c.Node(i).Name(), got)
		}
	}
	if fmt.Sprint(c.Node(old).Status().Leader) == "" {
		t.Fatal("no leader after healing")
	}
}
