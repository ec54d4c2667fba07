package audit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/steward/steward/pb"
)

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Debug})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func openLog(t *testing.T, cfg Config) *Log {
	t.Helper()
	l, err := Open(cfg, t.TempDir(), "n1", testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func entryAt(i int) *Entry {
	return &Entry{Time: time.Unix(1_700_000_000+int64(i), 0).UTC(), Node: "n1", Method: "/steward.v1.KV/Put",
		Resource: "kv", Target: map[string]string{"key": fmt.Sprintf("k%04d", i)}, Result: ResultOK}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{RotateBytes: 100}, "audit.rotate_bytes: 100 is below the minimum of 4096 bytes"},
		{Config{RotateMaxFiles: -1}, "audit.rotate_max_files: -1"},
		{Config{RotateMaxFiles: 1001}, "audit.rotate_max_files: 1001"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	if err := (Config{Enabled: true, RotateBytes: MinRotateBytes, RotateMaxFiles: 3}).Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{RotateBytes: 1}, t.TempDir(), "n1", nil); err == nil {
		t.Fatal("Open accepted a bad config")
	}
}

// The default path is under the data dir, the file and its directory
// private.
func TestOpenDefaultPath(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Config{Enabled: true}, dir, "n1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Path() != filepath.Join(dir, "audit", "audit.log") {
		t.Fatalf("path %s", l.Path())
	}
	if err := l.Append(entryAt(1)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v", st.Mode().Perm())
	}
	if d, _ := os.Stat(filepath.Dir(l.Path())); d.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", d.Mode().Perm())
	}
}

// Rotation by size keeps RotateMaxFiles rotated files beside the current
// one; Read reads them oldest first and answers the newest entries.
func TestRotationKeepsMaxFiles(t *testing.T) {
	const keep = 3
	l := openLog(t, Config{Enabled: true, RotateBytes: MinRotateBytes, RotateMaxFiles: keep})
	line := len(mustJSON(t, entryAt(0))) + 1
	perFile := MinRotateBytes / line
	n := perFile * (keep + 3) // enough to rotate more than keep times
	for i := 0; i < n; i++ {
		if err := l.Append(entryAt(i)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(l.Path() + "*")
	if len(files) != keep+1 {
		t.Fatalf("files %v, want the current one and %d rotated", files, keep)
	}
	for _, f := range files {
		st, _ := os.Stat(f)
		if st.Size() > MinRotateBytes {
			t.Fatalf("%s is %d bytes, over rotate_bytes %d", f, st.Size(), MinRotateBytes)
		}
	}
	res, err := Read(l.Path(), Filter{Limit: MaxReadLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != keep+1 || res.Files[0] != l.Path()+".3" || res.Files[keep] != l.Path() {
		t.Fatalf("files read %v", res.Files)
	}
	got := res.Entries
	if len(got) == 0 || got[len(got)-1].Target["key"] != fmt.Sprintf("k%04d", n-1) {
		t.Fatalf("the newest entry is not last: %+v", got[len(got)-1])
	}
	for i := 1; i < len(got); i++ {
		if !got[i].Time.After(got[i-1].Time) {
			t.Fatalf("entries out of order at %d", i)
		}
	}
	// The oldest entries went with the files dropped.
	if got[0].Target["key"] == "k0000" || len(got) >= n {
		t.Fatalf("%d entries of %d read back, first %s: nothing was dropped", len(got), n, got[0].Target["key"])
	}
	if l.Stats().Written != uint64(n) {
		t.Fatalf("stats %+v", l.Stats())
	}
}

func mustJSON(t *testing.T, e *Entry) []byte {
	t.Helper()
	b, err := jsonMarshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Malformed lines are skipped and counted, not fatal: not JSON, JSON that
// is no entry, a line over MaxLineBytes, a last line cut short.
func TestReadSkipsMalformedLines(t *testing.T) {
	l := openLog(t, Config{Enabled: true})
	if err := l.Append(entryAt(1)); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(l.Path(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "not json\n{\"node\":\"n1\"}\n\n%s\n", strings.Repeat("x", MaxLineBytes+10))
	f.Close()
	if err := l.Append(entryAt(2)); err != nil {
		t.Fatal(err)
	}
	f, _ = os.OpenFile(l.Path(), os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprint(f, `{"time":"2026-01-01T00:00:00Z","method":"/steward.v1.KV/Pu`)
	f.Close()
	res, err := Read(l.Path(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Malformed != 4 || len(res.Entries) != 2 || res.Entries[1].Target["key"] != "k0002" {
		t.Fatalf("malformed %d, entries %d: %+v", res.Malformed, len(res.Entries), res.Entries)
	}
}

func TestReadFilters(t *testing.T) {
	l := openLog(t, Config{Enabled: true})
	for i := 0; i < 10; i++ {
		e := entryAt(i)
		if i%2 == 1 {
			e.Method = "/steward.v1.Supervision/ApplyTree"
		}
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Read(l.Path(), Filter{Method: "ApplyTree", Since: entryAt(4).Time, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 2 || res.Truncated != 1 || res.Entries[0].Target["key"] != "k0007" || res.Entries[1].Target["key"] != "k0009" {
		t.Fatalf("%d entries (truncated %d): %+v", len(res.Entries), res.Truncated, res.Entries)
	}
	if _, err := Read(l.Path(), Filter{Limit: MaxReadLimit + 1}); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("limit over the maximum: %v", err)
	}
	if res, err := Read(filepath.Join(t.TempDir(), "none.log"), Filter{}); err != nil || len(res.Entries) != 0 || len(res.Files) != 0 {
		t.Fatalf("a log never written: %+v, %v", res, err)
	}
}

// A failed write marks the log failed: the next write call is refused
// before it runs while the file cannot be reopened, and runs again once
// it can.
func TestFailClosed(t *testing.T) {
	l := openLog(t, Config{Enabled: true})
	l.mu.Lock()
	l.f.Close() // the next write fails: the file is gone under the log
	l.mu.Unlock()
	if err := l.Append(entryAt(1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append to a closed file: %v", err)
	}
	st := l.Stats()
	if !st.Failed || st.Failures != 1 || st.LastError == "" {
		t.Fatalf("stats after a failure: %+v", st)
	}
	// The directory replaced by a file: the log cannot reopen.
	dir := filepath.Dir(l.Path())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ran := false
	_, err := l.UnaryInterceptor(context.Background(), &pb.KVPutRequest{Key: "a"}, &grpc.UnaryServerInfo{FullMethod: "/steward.v1.KV/Put"},
		func(ctx context.Context, req any) (any, error) { ran = true; return &pb.KVPutResponse{}, nil })
	if status.Code(err) != codes.Unavailable || ran || !strings.Contains(err.Error(), "fail-closed") {
		t.Fatalf("a write with the log failed: ran %t, %v", ran, err)
	}
	// A read is not audited and runs.
	if _, err := l.UnaryInterceptor(context.Background(), &pb.KVGetRequest{Key: "a"}, &grpc.UnaryServerInfo{FullMethod: "/steward.v1.KV/Get"},
		func(ctx context.Context, req any) (any, error) { return &pb.KVGetResponse{}, nil }); err != nil {
		t.Fatalf("a read with the log failed: %v", err)
	}
	// The directory back: the next write reopens the file and runs.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := l.UnaryInterceptor(context.Background(), &pb.KVPutRequest{Key: "b"}, &grpc.UnaryServerInfo{FullMethod: "/steward.v1.KV/Put"},
		func(ctx context.Context, req any) (any, error) { return &pb.KVPutResponse{}, nil }); err != nil {
		t.Fatalf("a write once the log recovered: %v", err)
	}
	res, err := Read(l.Path(), Filter{})
	if err != nil || len(res.Entries) != 1 || res.Entries[0].Target["key"] != "b" {
		t.Fatalf("after recovery: %+v, %v", res, err)
	}
	if l.Stats().Failed {
		t.Fatal("still failed after recovery")
	}
}

func callCtx(hops string) context.Context {
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 4242}})
	if hops != "" {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(ForwardHopsKey, hops))
	}
	return ctx
}

// The interceptor writes a write accepted from a caller with its target
// (never the value) and result; a refused one with its code and message;
// not a read, nor a call another node forwarded.
func TestInterceptor(t *testing.T) {
	l := openLog(t, Config{Enabled: true})
	ok := func(ctx context.Context, req any) (any, error) { return &pb.KVPutResponse{}, nil }
	denied := func(ctx context.Context, req any) (any, error) {
		return nil, status.Error(codes.PermissionDenied, "permission denied: kv write on \"b\"")
	}
	put := &grpc.UnaryServerInfo{FullMethod: "/steward.v1.KV/Put"}
	calls := []struct {
		ctx     context.Context
		req     any
		info    *grpc.UnaryServerInfo
		handler grpc.UnaryHandler
	}{
		{callCtx(""), &pb.KVPutRequest{Key: "a", Value: []byte("s3cret-value")}, put, ok},
		{callCtx("0"), &pb.KVPutRequest{Key: "b", Value: []byte("s3cret-value")}, put, denied},
		{callCtx(""), &pb.KVGetRequest{Key: "a"}, &grpc.UnaryServerInfo{FullMethod: "/steward.v1.KV/Get"}, ok},
		{callCtx("1"), &pb.KVPutRequest{Key: "c"}, put, ok},
		{callCtx(""), &pb.KeyringInstallRequest{}, &grpc.UnaryServerInfo{FullMethod: "/steward.v1.Keyring/Install"}, ok},
		{callCtx(""), &pb.KillRequest{Ref: &pb.ProcessRef{Pid: "n2/7"}, Reason: "because"}, &grpc.UnaryServerInfo{FullMethod: "/steward.v1.Runtime/Kill"}, ok},
	}
	for _, c := range calls {
		_, _ = l.UnaryInterceptor(c.ctx, c.req, c.info, c.handler)
	}
	raw, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cret") || strings.Contains(string(raw), "because") {
		t.Fatalf("a value or free text reached the log:\n%s", raw)
	}
	res, err := Read(l.Path(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 4 {
		t.Fatalf("%d entries, want the two puts accepted here, the keyring install and the kill:\n%s", len(res.Entries), raw)
	}
	a, b, ki, k := res.Entries[0], res.Entries[1], res.Entries[2], res.Entries[3]
	if ki.Method != "/steward.v1.Keyring/Install" || ki.Resource != "operator" || ki.Target != nil {
		t.Fatalf("the keyring install (no target: its request carries a key): %+v", ki)
	}
	if a.Method != "/steward.v1.KV/Put" || a.Resource != "kv" || a.Target["key"] != "a" || a.Result != ResultOK || a.Error != "" ||
		a.Peer != "10.0.0.7:4242" || a.Node != "n1" || a.Time.IsZero() {
		t.Fatalf("the accepted put: %+v", a)
	}
	if b.Target["key"] != "b" || b.Result != "PermissionDenied" || !strings.Contains(b.Error, "kv write") {
		t.Fatalf("the refused put: %+v", b)
	}
	if k.Method != "/steward.v1.Runtime/Kill" || k.Target["ref.pid"] != "n2/7" {
		t.Fatalf("the kill: %+v", k)
	}
}

// fakeStream is a server stream that hands out one request.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
	req *pb.KVPutRequest
}

func (s *fakeStream) Context() context.Context { return s.ctx }

func (s *fakeStream) RecvMsg(m any) error {
	if s.req == nil {
		return errors.New("EOF")
	}
	*m.(*pb.KVPutRequest) = pb.KVPutRequest{Key: s.req.Key, Value: s.req.Value}
	s.req = nil
	return nil
}

// A write stream is one entry, its target from the first message, its
// result the handler's; a read stream is not written.
func TestStreamInterceptor(t *testing.T) {
	l := openLog(t, Config{Enabled: true})
	handler := func(srv any, ss grpc.ServerStream) error {
		var m pb.KVPutRequest
		if err := ss.RecvMsg(&m); err != nil {
			return err
		}
		_ = ss.RecvMsg(&pb.KVPutRequest{})
		return status.Error(codes.InvalidArgument, "bad chunk")
	}
	ss := &fakeStream{ctx: callCtx(""), req: &pb.KVPutRequest{Key: "streamed", Value: []byte("s3cret")}}
	if err := l.StreamInterceptor(nil, ss, &grpc.StreamServerInfo{FullMethod: "/steward.v1.Operator/Restore"}, handler); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("the handler's error: %v", err)
	}
	read := &fakeStream{ctx: callCtx(""), req: &pb.KVPutRequest{Key: "x"}}
	_ = l.StreamInterceptor(nil, read, &grpc.StreamServerInfo{FullMethod: "/steward.v1.Runtime/Events"}, handler)
	res, err := Read(l.Path(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("%d entries, want the restore only: %+v", len(res.Entries), res.Entries)
	}
	e := res.Entries[0]
	if e.Method != "/steward.v1.Operator/Restore" || e.Resource != "operator" || e.Target["key"] != "streamed" ||
		e.Result != "InvalidArgument" || e.Error != "bad chunk" {
		t.Fatalf("the stream's entry: %+v", e)
	}
}
