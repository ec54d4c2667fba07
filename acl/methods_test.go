package acl_test

import (
	"testing"

	"github.com/steward/steward/acl"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/testkit"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/steward/steward/pb"
)

// TestMethodTableCoversServer walks every service a full agent registers
// (every layer stack.DefaultConfig turns on) and fails on a method that
// MethodAccess does not know: a new RPC must be given its permission.
func TestMethodTableCoversServer(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config { return stack.DefaultConfig() }))
	c.WaitForLeader()
	info := c.Node(0).Server().GRPC().GetServiceInfo()
	if len(info) < 10 {
		t.Fatalf("only %d services registered on a full agent; expected every layer's", len(info))
	}
	count := 0
	for svc, si := range info {
		for _, m := range si.Methods {
			full := "/" + svc + "/" + m.Name
			count++
			if _, _, known := acl.MethodAccess(full); !known {
				t.Errorf("%s is served but missing from acl's method table (acl/methods.go)", full)
			}
		}
	}
	t.Logf("%d methods checked", count)
}

// TestMethodTableCoversProtos checks every method of every steward.v1
// service compiled into the binary, registered on a node or not yet.
func TestMethodTableCoversProtos(t *testing.T) {
	n := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("steward.v1", func(fd protoreflect.FileDescriptor) bool {
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			s := svcs.Get(i)
			ms := s.Methods()
			for j := 0; j < ms.Len(); j++ {
				full := "/" + string(s.FullName()) + "/" + string(ms.Get(j).Name())
				n++
				res, write, known := acl.MethodAccess(full)
				if !known {
					t.Errorf("%s (%s) is missing from acl's method table", full, fd.Path())
					continue
				}
				internal := s.Name() == "Internal"
				if internal != (res == acl.ResourceNone && !write) && full != "/steward.v1.ACL/TokenSelf" && full != "/steward.v1.Cluster/Status" {
					t.Errorf("%s: resource %q write %v; only the Internal service (and TokenSelf, Cluster.Status) needs no token", full, res, write)
				}
			}
		}
		return true
	})
	if n < 90 {
		t.Fatalf("only %d methods found in the steward.v1 descriptors", n)
	}
}

func TestMethodAccess(t *testing.T) {
	cases := []struct {
		method   string
		resource string
		write    bool
		known    bool
	}{
		{"/steward.v1.KV/Put", acl.ResourceKV, true, true},
		{"/steward.v1.KV/Get", acl.ResourceKV, false, true},
		{"/steward.v1.Runtime/Kill", acl.ResourceProcess, true, true},
		{"/steward.v1.Keyring/List", acl.ResourceOperator, false, true},
		{"/steward.v1.Keyring/Install", acl.ResourceOperator, true, true},
		{"/steward.v1.Internal/Propose", acl.ResourceNone, false, true},
		{"/grpc.health.v1.Health/Check", acl.ResourceNone, false, true},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", acl.ResourceNone, false, true},
		{"/steward.v1.KV/Nope", "", false, false},
		{"/steward.v1.Internal", "", false, false},
		{"", "", false, false},
	}
	for _, tc := range cases {
		res, write, known := acl.MethodAccess(tc.method)
		if res != tc.resource || write != tc.write || known != tc.known {
			t.Errorf("MethodAccess(%q) = %q, %v, %v; want %q, %v, %v", tc.method, res, write, known, tc.resource, tc.write, tc.known)
		}
	}
}
