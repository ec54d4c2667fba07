package stack_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Everything issue 12 secures, on at once — mutual TLS with roles, gossip
// encryption, ACLs with default deny and the audit log — on 3 servers and
// 5 client agents: the whole client scenario (trees, a plan across
// clients, validation of every node, a snapshot and a restore) runs with
// a management token, so no layer's node-to-node or background path is
// refused by the security it now passes through; anonymous calls are
// refused; the audit log of the node that accepted a write holds it.
func TestClientsSecure(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32))
	cc := newCCluster(t, nil,
		testkit.WithTLS(testkit.NewTLS(t, "global")),
		testkit.WithACLs(),
		testkit.WithConfig(func(c *node.Config) {
			c.Encrypt = key
			c.Audit.Enabled = true
		}))
	for i := 0; i < 8; i++ {
		if keys := cc.Node(i).GossipKeys(); len(keys) != 1 || keys[0] != key {
			t.Fatalf("%s gossips with keys %v, want the one key", cc.Node(i).Name(), keys)
		}
	}

	// Anonymous: refused, before and after the bootstrap.
	_, err := pb.NewSupervisionClient(cc.Conn(3)).ApplyTree(testkit.Ctx(t, 10*time.Second),
		&pb.ApplyTreeRequest{Spec: []byte(`{"name":"x","node":"c1","children":[{"id":"e","behavior":"echo"}]}`), Filename: "x.json"})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "tree write") {
		t.Fatalf("anonymous tree apply through a client: %v, want PermissionDenied naming tree write", err)
	}
	secret := cc.BootstrapACL(1)
	self, err := pb.NewACLClient(cc.Conn(4)).TokenSelf(testkit.WithToken(testkit.Ctx(t, 10*time.Second), secret), &pb.ACLTokenSelfRequest{})
	if err != nil || !self.Token.Management {
		t.Fatalf("the bootstrap token through c2: %v, %v", self, err)
	}
	boot := self
	cc.UseToken(secret)

	clientsScenario(t, cc)

	// The first tree was applied through c1 (node 3), as the anonymous try
	// before it: c1's audit log has both, with the accessor, the caller's
	// certificate and the result.
	path := filepath.Join(cc.Node(3).DataDir(), "audit", "audit.log")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var applied, refused bool
	for _, line := range strings.Split(string(data), "\n") {
		applied = applied || strings.Contains(line, `"method":"/steward.v1.Supervision/ApplyTree"`) &&
			strings.Contains(line, `"accessor":"`+boot.Token.AccessorId+`"`) && strings.Contains(line, `"result":"ok"`) &&
			strings.Contains(line, `"subject":"CN=cli.global.steward`)
		refused = refused || strings.Contains(line, `"method":"/steward.v1.Supervision/ApplyTree"`) &&
			strings.Contains(line, `"accessor":"anonymous"`) && strings.Contains(line, `"result":"PermissionDenied"`)
	}
	if !applied || !refused {
		t.Errorf("c1's audit log lacks the management token's ApplyTree (%v) or the anonymous one refused (%v):\n%s", applied, refused, data)
	}
}
