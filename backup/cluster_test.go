package backup_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/backup"
	"github.com/steward/steward/health"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type bCluster struct {
	*testkit.Cluster
}

func newBCluster(t *testing.T) *bCluster {
	b := &bCluster{}
	b.Cluster = testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		scfg := supervision.DefaultConfig()
		scfg.ResyncInterval = 500 * time.Millisecond
		hcfg, bcfg := health.DefaultConfig(), backup.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: scfg, Health: &hcfg, Backup: &bcfg}
	}))
	return b
}

func (b *bCluster) sup(name string) *supervision.Layer {
	if s := b.Stack(name); s != nil {
		return s.Supervision
	}
	return nil
}

// fingerprint is what a node's replica holds of kv, trees and thresholds.
func fingerprint(st *state.Store) (string, error) {
	var b strings.Builder
	_, kvs, err := st.KVList(nil, "")
	if err != nil {
		return "", err
	}
	for _, r := range kvs {
		v := string(r.Value)
		if len(v) > 16 {
			v = fmt.Sprintf("%s…(%d bytes)", v[:8], len(v))
		}
		fmt.Fprintf(&b, "kv %s=%s@%d\n", r.Key, v, r.ModifyIndex)
	}
	_, trees, err := st.Trees(nil, "")
	if err != nil {
		return "", err
	}
	for _, r := range trees {
		fmt.Fprintf(&b, "tree %s on %s@%d\n", r.Name, r.Node, r.ModifyIndex)
	}
	_, th, def, err := st.Thresholds(nil)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "thresholds cpu=%v default=%v@%d\n", th.MaxCpuPercent, def, th.ModifyIndex)
	return b.String(), nil
}

// sameEverywhere waits until every live node's replica has want's
// fingerprint (or, with want empty, until they agree) and returns it.
func (b *bCluster) sameEverywhere(t *testing.T, want string) string {
	t.Helper()
	var got string
	b.Eventually(20*time.Second, func() error {
		got = ""
		for _, n := range b.Live() {
			fp, err := fingerprint(n.State())
			if err != nil {
				return err
			}
			if want != "" && fp != want {
				return fmt.Errorf("%s holds\n%s\nwant\n%s", n.Name(), fp, want)
			}
			if got != "" && fp != got {
				return fmt.Errorf("nodes disagree:\n%s\nvs\n%s", got, fp)
			}
			got = fp
		}
		return nil
	}, "the same state on every node")
	return got
}

func (b *bCluster) treeRunning(t *testing.T, nodeName, tree string, want bool) {
	t.Helper()
	b.Eventually(20*time.Second, func() error {
		ti, err := b.sup(nodeName).Runtime().Tree(tree)
		running := err == nil && ti.Status == actor.TreeRunning
		if running != want {
			return fmt.Errorf("tree %s on %s: running=%v, want %v", tree, nodeName, running, want)
		}
		return nil
	}, "tree %s on %s running=%v", tree, nodeName, want)
}

// Backup, change everything, refuse damaged backups (nothing changes),
// restore: every node holds the backup's state again and the runtimes
// follow it.
func TestBackupRestoreRoundTrip(t *testing.T) {
	b := newBCluster(t)
	ctx := testkit.Ctx(t, 90*time.Second)
	kv := b.KV(0)
	sup := pb.NewSupervisionClient(b.Conn(0))
	hc := pb.NewHealthClient(b.Conn(0))
	put := func(k, v string) {
		t.Helper()
		if _, err := kv.Put(ctx, &pb.KVPutRequest{Key: k, Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	applyTree := func(specJSON string) {
		t.Helper()
		if _, err := sup.ApplyTree(ctx, &pb.ApplyTreeRequest{Spec: []byte(specJSON), Filename: "spec.json"}); err != nil {
			t.Fatal(err)
		}
	}
	cpu := func(v float64) {
		t.Helper()
		if _, err := hc.SetThresholds(ctx, &pb.SetThresholdsRequest{MaxCpuPercent: &v}); err != nil {
			t.Fatal(err)
		}
	}

	put("app/color", "blue")
	put("app/keep", "yes")
	// Big enough that backup and restore stream several chunks, relayed
	// through a follower both ways.
	for i := range 3 {
		put(fmt.Sprintf("app/big%d", i), strings.Repeat(string(rune('a'+i)), 400<<10))
	}
	applyTree(`{"name":"web","node":"n2","children":[{"id":"c","behavior":"counter"},{"id":"e","behavior":"echo"}]}`)
	cpu(42)
	b.treeRunning(t, "n2", "web", true)
	backedUp := b.sameEverywhere(t, "")

	path := filepath.Join(t.TempDir(), "cluster.backup")
	follower := b.Index(b.Followers()[0].Name())
	h, err := backup.Save(ctx, pb.NewOperatorClient(b.Conn(follower)), path)
	if err != nil {
		t.Fatal(err)
	}
	if st := b.Node(0).Status(); h.ClusterID != st.ClusterId || h.RaftIndex == 0 || h.RaftTerm == 0 || h.Size < 3*backup.ChunkSize || h.Node != b.Leader().Name() {
		t.Fatalf("header %+v (cluster %s)", h, st.ClusterId)
	}
	if vh, err := backup.Verify(path); err != nil || vh != h {
		t.Fatalf("verify the saved file: %+v %v", vh, err)
	}

	// Change everything.
	put("app/color", "red")
	put("app/new", "x")
	if _, err := kv.Delete(ctx, &pb.KVDeleteRequest{Key: "app/keep"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sup.DeleteTree(ctx, &pb.DeleteTreeRequest{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	applyTree(`{"name":"other","node":"n1","children":[{"id":"e","behavior":"echo"}]}`)
	cpu(55)
	b.treeRunning(t, "n2", "web", false)
	b.treeRunning(t, "n1", "other", true)
	changed := b.sameEverywhere(t, "")
	if changed == backedUp {
		t.Fatal("nothing changed")
	}

	// Damaged backups are refused, by the client before sending anything
	// and by the leader when sent anyway; nothing changes.
	_, f, err := backup.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	content, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	dir := t.TempDir()
	flippedRaw := append([]byte(nil), raw...)
	flippedRaw[len(flippedRaw)-20] ^= 0x01
	for name, file := range map[string][]byte{"corrupt": flippedRaw, "truncated": raw[:len(raw)-len(content)/2]} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, file, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := backup.Restore(ctx, pb.NewOperatorClient(b.Conn(0)), p, backup.RestoreOptions{}); !errors.Is(err, backup.ErrInvalidBackup) {
			t.Fatalf("%s file restored: %v", name, err)
		}
	}
	op := pb.NewOperatorClient(b.Conn(follower))
	flipped := append([]byte(nil), content...)
	flipped[len(flipped)/2] ^= 0x01
	other := h
	other.ClusterID = "some-other-cluster"
	refusals := []struct {
		name    string
		h       backup.Header
		content []byte
		code    codes.Code
		msg     string
	}{
		{"corrupt", h, flipped, codes.InvalidArgument, "checksum mismatch"},
		{"truncated", h, content[:len(content)/2], codes.InvalidArgument, "truncated"},
		{"longer", h, append(append([]byte(nil), content...), 0), codes.InvalidArgument, "more data than"},
		{"other cluster", other, content, codes.FailedPrecondition, "taken from cluster some-other-cluster, this is cluster"},
	}
	for _, r := range refusals {
		_, err := backup.Send(ctx, op, r.h, bytes.NewReader(r.content), backup.RestoreOptions{})
		if status.Code(err) != r.code || !strings.Contains(err.Error(), r.msg) {
			t.Errorf("%s sent to the leader: got %v, want %s with %q", r.name, err, r.code, r.msg)
		}
	}
	if got := b.sameEverywhere(t, changed); got != changed {
		t.Fatal("a refused restore changed the state")
	}

	// Restore through a follower: every node holds the backup's state.
	rh, resp, err := backup.Restore(ctx, pb.NewOperatorClient(b.Conn(follower)), path, backup.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rh != h || resp.RestoredIndex != h.RaftIndex || resp.Index <= h.RaftIndex || resp.Leader != b.Leader().Name() {
		t.Fatalf("restore: %+v %+v", rh, resp)
	}
	b.sameEverywhere(t, backedUp)
	// The reconcilers follow the restored desired state.
	b.treeRunning(t, "n2", "web", true)
	b.treeRunning(t, "n1", "other", false)
	// And the cluster goes on from there.
	put("app/after", "1")
	got, err := b.KV(2).Get(ctx, &pb.KVGetRequest{Key: "app/color"})
	if err != nil || string(got.Entry.Value) != "blue" {
		t.Fatalf("after restore: %+v %v", got, err)
	}
}

// Disaster recovery: every node's data is lost, a new cluster is
// bootstrapped, and the backup of the old one is restored into it. Without
// the override the backup is refused, naming both clusters, and nothing
// changes; with it every key and tree is back and the cluster keeps its own
// id.
func TestDisasterRecoveryIntoANewCluster(t *testing.T) {
	old := newBCluster(t)
	ctx := testkit.Ctx(t, 120*time.Second)
	kv := old.KV(1)
	for i := range 20 {
		if _, err := kv.Put(ctx, &pb.KVPutRequest{Key: fmt.Sprintf("app/k%02d", i), Value: []byte(fmt.Sprintf("v%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	sup := pb.NewSupervisionClient(old.Conn(0))
	for _, spec := range []string{
		`{"name":"web","node":"n2","children":[{"id":"c","behavior":"counter"},{"id":"e","behavior":"echo"}]}`,
		`{"name":"jobs","node":"n3","children":[{"id":"k","behavior":"kv"}]}`,
	} {
		if _, err := sup.ApplyTree(ctx, &pb.ApplyTreeRequest{Spec: []byte(spec), Filename: "spec.json"}); err != nil {
			t.Fatal(err)
		}
	}
	old.treeRunning(t, "n2", "web", true)
	old.treeRunning(t, "n3", "jobs", true)
	want := old.sameEverywhere(t, "")

	path := filepath.Join(t.TempDir(), "dr.backup")
	h, err := backup.Save(ctx, pb.NewOperatorClient(old.Conn(0)), path)
	if err != nil {
		t.Fatal(err)
	}

	// Every node and every data dir is lost.
	for i := range old.Size() {
		old.Kill(i)
		if err := os.RemoveAll(old.Config(i).DataDir); err != nil {
			t.Fatal(err)
		}
	}

	// A new cluster of the same node names.
	nw := newBCluster(t)
	var newID string
	nw.Eventually(10*time.Second, func() error {
		if newID = nw.Leader().Status().ClusterId; newID == "" {
			return errors.New("no cluster id yet")
		}
		return nil
	}, "the new cluster has an id")
	if newID == h.ClusterID {
		t.Fatalf("the new cluster has the old one's id %s", newID)
	}
	empty := nw.sameEverywhere(t, "")

	op := pb.NewOperatorClient(nw.Conn(nw.Index(nw.Followers()[0].Name())))
	_, _, err = backup.Restore(ctx, op, path, backup.RestoreOptions{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), h.ClusterID) ||
		!strings.Contains(err.Error(), newID) || !strings.Contains(err.Error(), "--allow-cluster-id-change") {
		t.Fatalf("restore of the old cluster's backup without the override: %v", err)
	}
	if got := nw.sameEverywhere(t, empty); got != empty {
		t.Fatal("a refused restore changed the state")
	}

	_, resp, err := backup.Restore(ctx, op, path, backup.RestoreOptions{AllowClusterIDChange: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.RestoredIndex != h.RaftIndex || resp.Leader != nw.Leader().Name() {
		t.Fatalf("restore: %+v", resp)
	}
	// Every key and tree record is back on every node, the trees run
	// where the backup places them, and the cluster is still the new one.
	nw.sameEverywhere(t, want)
	nw.treeRunning(t, "n2", "web", true)
	nw.treeRunning(t, "n3", "jobs", true)
	for _, n := range nw.Live() {
		if id := n.State().ClusterID(); id != newID {
			t.Errorf("%s: replicated cluster id %s, want %s", n.Name(), id, newID)
		}
		if id := n.Status().ClusterId; id != newID {
			t.Errorf("%s: cluster id %s, want %s", n.Name(), id, newID)
		}
	}
	got, err := nw.KV(2).Get(ctx, &pb.KVGetRequest{Key: "app/k07"})
	if err != nil || string(got.Entry.Value) != "v7" {
		t.Fatalf("after restore: %+v %v", got, err)
	}
	if _, err := nw.KV(0).Put(ctx, &pb.KVPutRequest{Key: "app/after", Value: []byte("1")}); err != nil {
		t.Fatalf("a write after the restore: %v", err)
	}
}
