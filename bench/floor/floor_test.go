package floor

import (
	"context"
	"testing"
	"time"
)

func TestDiskFloor(t *testing.T) {
	dir := t.TempDir()
	fd, err := Fdatasync(dir, 20, 512)
	if err != nil {
		t.Fatal(err)
	}
	ap, err := AppendFsync(dir, 20, 512)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := BoltCommit(dir, 20, 300)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]struct {
		count    int
		min, max time.Duration
	}{"fdatasync": {fd.Count, fd.Min, fd.Max}, "append": {ap.Count, ap.Min, ap.Max}, "bolt": {bc.Count, bc.Min, bc.Max}} {
		if s.count != 20 || s.min <= 0 || s.max < s.min {
			t.Errorf("%s: %+v", name, s)
		}
	}
}

func TestLoopbackFloor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tcp, err := TCPRTT(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	g, err := GRPCRTT(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	if tcp.Count != 50 || g.Count != 50 || tcp.P50 <= 0 || g.P50 <= 0 {
		t.Fatalf("tcp %+v grpc %+v", tcp, g)
	}
}
