package node_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/audit"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// With TLS and ACLs on as well (three servers, a client agent), the
// keyring is an operator resource: an anonymous call is refused; with the
// management token a rotation reaches every node, the fan-out carrying
// the caller's token over the nodes' TLS pool; the audit log records the
// keyring writes and never a key.
func TestKeyringWithTLSAndACLs(t *testing.T) {
	oldKey, newK := newKey(t), newKey(t)
	c := testkit.NewCluster(t, 3, withKey(oldKey), testkit.WithTLS(testkit.NewTLS(t, "")), testkit.WithACLs(), testkit.WithClients(1),
		testkit.WithConfig(func(c *node.Config) { c.Audit.Enabled = true }))
	ctx := testkit.Ctx(t, 3*time.Minute)
	kr := keyringClient(c, 1)

	_, err := kr.List(ctx, &pb.KeyringListRequest{})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("anonymous keyring list: %v, want PermissionDenied", err)
	}
	_, err = kr.Install(ctx, &pb.KeyringInstallRequest{SecretKey: newK})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("anonymous keyring install: %v, want PermissionDenied", err)
	}
	for _, n := range c.Live() {
		if got := n.GossipKeys(); len(got) != 1 {
			t.Fatalf("%s changed its keyring on a refused call: %d keys", n.Name(), len(got))
		}
	}

	var secret string
	aclc := pb.NewACLClient(c.Conn(0))
	c.Eventually(60*time.Second, func() error {
		boot, err := aclc.Bootstrap(ctx, &pb.ACLBootstrapRequest{})
		if err != nil {
			return err
		}
		secret = boot.Token.SecretId
		return nil
	}, "ACL bootstrap")
	m := testkit.WithToken(ctx, secret)

	// Each step is idempotent: run again until every node (the token
	// replicated to each, the client agent's stream included) accepts it.
	step := func(name string, f func() (*pb.KeyringResponse, error)) *pb.KeyringResponse {
		t.Helper()
		var resp *pb.KeyringResponse
		c.Eventually(60*time.Second, func() error {
			var err error
			resp, err = f()
			if err != nil {
				return err
			}
			if resp.TotalNodes != 4 {
				return fmt.Errorf("%s reached %d nodes", name, resp.TotalNodes)
			}
			return nil
		}, "keyring %s", name)
		return resp
	}
	step("install", func() (*pb.KeyringResponse, error) {
		return kr.Install(m, &pb.KeyringInstallRequest{SecretKey: newK})
	})
	step("use", func() (*pb.KeyringResponse, error) { return kr.Use(m, &pb.KeyringUseRequest{SecretKey: newK}) })
	step("remove", func() (*pb.KeyringResponse, error) {
		return kr.Remove(m, &pb.KeyringRemoveRequest{SecretKey: oldKey})
	})
	list := step("list", func() (*pb.KeyringResponse, error) { return kr.List(m, &pb.KeyringListRequest{}) })
	if len(list.Keys) != 1 || list.Keys[0].Key != newK || list.Keys[0].Nodes != 4 || list.Keys[0].PrimaryNodes != 4 {
		t.Fatalf("list after the rotation: %v", list)
	}
	for _, n := range c.Live() {
		if got := n.GossipKeys(); len(got) != 1 || got[0] != newK {
			t.Fatalf("%s keyring after the rotation: %d keys", n.Name(), len(got))
		}
	}
	logged := false
	for _, n := range c.Live() {
		b, err := os.ReadFile(audit.DefaultPath(n.DataDir()))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if strings.Contains(string(b), oldKey) || strings.Contains(string(b), newK) {
			t.Fatalf("%s's audit log holds a gossip key", n.Name())
		}
		logged = logged || strings.Contains(string(b), "/steward.v1.Keyring/Install")
	}
	if !logged {
		t.Fatal("no audit log records the keyring install")
	}
}
