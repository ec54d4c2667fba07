package node_test

import (
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Server reflection lists the services (steward.v1.* and
// grpc.health.v1.Health) and describes a file, as grpcurl list and
// describe do; with ACLs on, reflection and health need no token.
func TestGRPCReflection(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithACLs())
	c.WaitForLeader()
	ctx := testkit.Ctx(t, 30*time.Second)
	conn := c.Conn(0)

	// No token: a public call is refused, reflection and health are not.
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "steward.ready"}); err != nil {
		t.Fatalf("health without a token: %v", err)
	}
	if _, err := c.KV(0).Get(ctx, &pb.KVGetRequest{Key: "x"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("anonymous kv get: %v, want PermissionDenied (ACLs on)", err)
	}
	st, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *rpb.ServerReflectionRequest) *rpb.ServerReflectionResponse {
		t.Helper()
		if err := st.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := st.Recv()
		if err != nil {
			t.Fatalf("reflection without a token: %v", err)
		}
		if e := resp.GetErrorResponse(); e != nil {
			t.Fatalf("reflection error: %d %s", e.ErrorCode, e.ErrorMessage)
		}
		return resp
	}
	list := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}})
	have := map[string]bool{}
	steward := 0
	for _, s := range list.GetListServicesResponse().GetService() {
		have[s.Name] = true
		if strings.HasPrefix(s.Name, "steward.v1.") {
			steward++
		}
	}
	for _, want := range []string{"grpc.health.v1.Health", "steward.v1.KV", "steward.v1.Cluster", "steward.v1.ACL", "grpc.reflection.v1.ServerReflection"} {
		if !have[want] {
			t.Errorf("reflection lists no %s; it lists %v", want, have)
		}
	}
	if steward < 3 {
		t.Errorf("reflection lists %d steward.v1 services", steward)
	}

	// Describe: the file that defines steward.v1.KV.
	resp := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "steward.v1.KV"}})
	files := resp.GetFileDescriptorResponse().GetFileDescriptorProto()
	if len(files) == 0 {
		t.Fatal("no file describes steward.v1.KV")
	}
	var fd descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(files[0], &fd); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range fd.GetService() {
		if s.GetName() == "KV" {
			for _, m := range s.GetMethod() {
				if m.GetName() == "Put" {
					found = true
				}
			}
		}
	}
	if fd.GetPackage() != "steward.v1" || !found {
		t.Fatalf("file %s (package %s) does not define KV.Put", fd.GetName(), fd.GetPackage())
	}
	_ = st.CloseSend()
}
