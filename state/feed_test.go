package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"testing"

	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// feedTree is a tree on node with the smallest spec TreeApply takes.
func feedTree(name, node string) *pb.TreeRecord {
	return &pb.TreeRecord{Name: name, Node: node, SpecJson: []byte(`{"name":"` + name + `"}`)}
}

func commitIndexes(cs []Commit) []uint64 {
	out := []uint64{}
	for _, c := range cs {
		out = append(out, c.Index)
	}
	return out
}

// mustSince is Since for an index the store still holds the commits after.
func mustSince(t *testing.T, s *Store, after uint64) []Commit {
	t.Helper()
	cs, _, ok := s.Since(after)
	if !ok {
		t.Fatalf("Since(%d): the changes are no longer held", after)
	}
	return cs
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// decodeChange decodes a change as a client's store would.
func decodeChange(t *testing.T, rc *pb.RecordChange) (string, proto.Message) {
	t.Helper()
	name, def, ok := tableByTag(byte(rc.Tag))
	if !ok {
		t.Fatalf("change with unknown tag %d", rc.Tag)
	}
	rec := def.newRecord()
	if err := proto.Unmarshal(rc.Record, rec); err != nil {
		t.Fatalf("change of %s: %v", name, err)
	}
	return name, rec
}

// viewOf is the view of s for node (View), as sorted "tag/record" strings.
func viewOf(t *testing.T, s *Store, node string) []string {
	t.Helper()
	_, recs, err := s.View(node)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, rc := range recs {
		if rc.Delete {
			t.Fatalf("view of %s holds a delete", node)
		}
		out = append(out, fmt.Sprintf("%d/%x", rc.Tag, rc.Record))
	}
	sort.Strings(out)
	return out
}

// placedOn lists the trees and sandboxes of node in s (every node's
// when node is ""), with their versions.
func placedOn(t *testing.T, s *Store, node string) []string {
	t.Helper()
	_, trees, err := s.Trees(nil, node)
	if err != nil {
		t.Fatal(err)
	}
	_, sbs, err := s.Sandboxes(nil, node)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range trees {
		out = append(out, fmt.Sprintf("tree %s@%s:%d/%d", r.Name, r.Node, r.CreateIndex, r.ModifyIndex))
	}
	for _, r := range sbs {
		out = append(out, fmt.Sprintf("sandbox %s@%s:%d/%d %s", r.Name, r.Node, r.CreateIndex, r.ModifyIndex, r.Status))
	}
	return out
}

// Every committed write is one commit at its index, in order, holding its
// records' changes and not the index table's; a refused command, or a
// write that changes nothing, publishes nothing. A kv write is a commit
// without changes: kv records reach no client, so the feed holds none.
func TestFeedCommitPerWrite(t *testing.T) {
	s := mustStore(t)
	if cs := mustSince(t, s, 0); len(cs) != 0 {
		t.Fatalf("an empty store has commits %v", commitIndexes(cs))
	}
	if _, err := s.KVSet(3, "a", []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TreeApply(5, feedTree("web", "n1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TreeApply(6, feedTree("web", "n1"), nil); err != nil { // unchanged
		t.Fatal(err)
	}
	if err := s.NodeUpsert(7, nodeRec("n1", NodeAlive)); err != nil {
		t.Fatal(err)
	}
	if err := s.TreeDelete(8, "web"); err != nil {
		t.Fatal(err)
	}
	_, wake, _ := s.Since(8)
	refused := map[string]error{}
	_, refused["bad key"] = s.KVSet(9, "/a", nil, nil)
	_, refused["cas"] = s.KVSet(9, "a", []byte("2"), u64(1))
	refused["delete unknown"] = s.TreeDelete(9, "web")
	refused["bad node"] = s.NodeUpsert(9, nodeRec("n1", "sleepy"))
	for name, err := range refused {
		if !IsDomainError(err) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
	if closed(wake) {
		t.Fatal("a refused command woke the feed")
	}

	cs := mustSince(t, s, 0)
	if got := commitIndexes(cs); !reflect.DeepEqual(got, []uint64{3, 5, 7, 8}) {
		t.Fatalf("commits %v, want [3 5 7 8]", got)
	}
	want := []struct {
		table         string
		before, after bool
	}{{}, {tableTrees, false, true}, {tableNodes, false, true}, {tableTrees, true, false}}
	for i, c := range cs {
		if i == 0 {
			if len(c.Changes) != 0 {
				t.Fatalf("the kv commit %d holds changes: %+v", c.Index, c.Changes)
			}
			continue
		}
		if len(c.Changes) != 1 {
			t.Fatalf("commit %d has %d changes: %+v", c.Index, len(c.Changes), c.Changes)
		}
		ch := c.Changes[0]
		if ch.Table != want[i].table || (ch.Before != nil) != want[i].before || (ch.After != nil) != want[i].after {
			t.Errorf("commit %d: change %s before=%v after=%v, want %+v", c.Index, ch.Table, ch.Before != nil, ch.After != nil, want[i])
		}
	}
	if r, ok := cs[1].Changes[0].After.(*pb.TreeRecord); !ok || r.Name != "web" || r.ModifyIndex != 5 {
		t.Errorf("tree change holds %v", cs[1].Changes[0].After)
	}
}

// A batch is one commit at its highest index, holding each record's net
// change; a batch that changes nothing, or breaks, publishes nothing.
func TestFeedBatchIsOneCommit(t *testing.T) {
	s := mustStore(t)
	if _, err := s.TreeApply(2, feedTree("web", "n1"), nil); err != nil {
		t.Fatal(err)
	}
	_, wake, _ := s.Since(2)
	s.BeginBatch()
	if _, err := s.KVSet(10, "b", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TreeApply(11, feedTree("api", "n1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TreeApply(12, feedTree("api", "n2"), u64(11)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TreeApply(13, feedTree("web", "n3"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KVSet(14, "b", []byte("y"), u64(0)); !errors.Is(err, ErrCASConflict) {
		t.Fatalf("cas in a batch: %v", err)
	}
	if closed(wake) || len(mustSince(t, s, 2)) != 0 {
		t.Fatal("a batch published before it committed")
	}
	if !s.EndBatch() {
		t.Fatal("batch broken")
	}
	if !closed(wake) {
		t.Fatal("the batch's commit did not wake the feed")
	}
	cs := mustSince(t, s, 2)
	if len(cs) != 1 || cs[0].Index != 13 {
		t.Fatalf("batch published commits %v, want one at 13", commitIndexes(cs))
	}
	byRecord := map[string]Change{}
	for _, ch := range cs[0].Changes {
		if ch.Table == tableIndex {
			t.Fatal("a commit holds an index-table change")
		}
		var key string
		switch r := ch.After.(type) {
		case *pb.TreeRecord:
			key = "tree " + r.Name
		default:
			t.Fatalf("unexpected change %+v", ch)
		}
		if _, dup := byRecord[key]; dup {
			t.Fatalf("%s changes twice in one commit", key)
		}
		byRecord[key] = ch
	}
	if len(byRecord) != 2 {
		t.Fatalf("batch changes %v, want tree api, tree web (kv b is in no feed)", byRecord)
	}
	// api was created and moved inside the batch: one insert at n2.
	if api := byRecord["tree api"]; api.Before != nil || api.After.(*pb.TreeRecord).Node != "n2" {
		t.Errorf("tree api: %+v", api)
	}
	if web := byRecord["tree web"]; web.Before.(*pb.TreeRecord).Node != "n1" || web.After.(*pb.TreeRecord).Node != "n3" {
		t.Errorf("tree web: %+v", web)
	}

	s.BeginBatch()
	if err := s.TreeDelete(15, "ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if !s.EndBatch() {
		t.Fatal("a batch of refusals broke")
	}
	s.BeginBatch()
	if _, err := s.KVSet(16, "c", nil, nil); err != nil {
		t.Fatal(err)
	}
	s.batchBroken = true // as a failed write leaves it
	if s.EndBatch() {
		t.Fatal("a broken batch committed")
	}
	if cs := mustSince(t, s, 13); len(cs) != 0 {
		t.Fatalf("refused or broken batches published %v", commitIndexes(cs))
	}
	if _, err := s.KVSet(16, "c", nil, nil); err != nil { // the entry again, alone
		t.Fatal(err)
	}
	if got := commitIndexes(mustSince(t, s, 0)); !reflect.DeepEqual(got, []uint64{2, 13, 16}) {
		t.Fatalf("commits %v, want [2 13 16]", got)
	}
}

// Since returns exactly the commits after an index: a reader that resumes
// where it stopped sees every commit once, in order; the wake channel
// closes at the next commit and not before.
func TestFeedSinceResumes(t *testing.T) {
	s := mustStore(t)
	var written, read []uint64
	idx, after := uint64(0), uint64(0)
	for i := 0; i < 60; i++ {
		idx += uint64(1 + i%3)
		if _, err := s.KVSet(idx, fmt.Sprintf("k%d", i%7), []byte{byte(i)}, nil); err != nil {
			t.Fatal(err)
		}
		written = append(written, idx)
		if i%4 == 0 || i%5 == 0 {
			cs, wake, ok := s.Since(after)
			if !ok {
				t.Fatalf("Since(%d) not ok", after)
			}
			read = append(read, commitIndexes(cs)...)
			after = cs[len(cs)-1].Index
			if closed(wake) {
				t.Fatal("wake closed with no commit after the read")
			}
		}
	}
	read = append(read, commitIndexes(mustSince(t, s, after))...)
	if !reflect.DeepEqual(read, written) {
		t.Fatalf("resuming reader saw %v, want %v", read, written)
	}
	for after := uint64(0); after <= idx+2; after++ {
		want := []uint64{}
		for _, w := range written {
			if w > after {
				want = append(want, w)
			}
		}
		if got := commitIndexes(mustSince(t, s, after)); !reflect.DeepEqual(got, want) {
			t.Fatalf("Since(%d) = %v, want %v", after, got, want)
		}
	}

	cs, wake, ok := s.Since(idx)
	if !ok || len(cs) != 0 || closed(wake) {
		t.Fatalf("Since(last): %v ok=%v closed=%v", commitIndexes(cs), ok, closed(wake))
	}
	// A key/value write concerns no client: it wakes no stream (streams
	// report its index with their heartbeat).
	if _, err := s.KVSet(idx+1, "k0", nil, nil); err != nil {
		t.Fatal(err)
	}
	if closed(wake) {
		t.Fatal("a kv write woke the streams")
	}
	if err := s.NodeUpsert(idx+2, nodeRec("n9", NodeAlive)); err != nil {
		t.Fatal(err)
	}
	if !closed(wake) {
		t.Fatal("wake did not close at the next commit that may concern a client")
	}
	if _, next, _ := s.Since(idx + 2); closed(next) {
		t.Fatal("the next wake channel is closed already")
	}
}

// The feed keeps the last MaxFeedCommits commits: a reader from before
// them is told so.
func TestFeedTrimmed(t *testing.T) {
	s := mustStore(t)
	n := uint64(MaxFeedCommits + 10)
	for i := uint64(1); i <= n; i++ {
		if _, err := s.KVSet(i, fmt.Sprintf("k%d", i%16), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, after := range []uint64{0, 1, 9} {
		if cs, wake, ok := s.Since(after); ok || cs != nil || wake == nil {
			t.Fatalf("Since(%d) after trimming: %d commits ok=%v wake=%v", after, len(cs), ok, wake)
		}
	}
	cs := mustSince(t, s, 10)
	if len(cs) != MaxFeedCommits || cs[0].Index != 11 || cs[len(cs)-1].Index != n {
		t.Fatalf("Since(10): %d commits from %d to %d", len(cs), cs[0].Index, cs[len(cs)-1].Index)
	}
	if cs := mustSince(t, s, n-1); len(cs) != 1 || cs[0].Index != n {
		t.Fatalf("Since(n-1) = %v", commitIndexes(cs))
	}
	if cs := mustSince(t, s, n); len(cs) != 0 {
		t.Fatalf("Since(n) = %v", commitIndexes(cs))
	}
}

// A restored store holds no commits from before its snapshot: a reader
// below it is told so; one at it resumes with the next commit.
func TestFeedAfterRestore(t *testing.T) {
	s := mustStore(t)
	if _, err := s.KVSet(3, "a", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TreeApply(5, feedTree("web", "n1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.NodeUpsert(9, nodeRec("n1", NodeAlive)); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(bytes.NewReader(persistBytes(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	for _, after := range []uint64{0, 5, 8} {
		if _, _, ok := r.Since(after); ok {
			t.Fatalf("restored at 9, Since(%d) ok", after)
		}
	}
	cs, wake, ok := r.Since(9)
	if !ok || len(cs) != 0 {
		t.Fatalf("Since(9) at the snapshot: %v ok=%v", commitIndexes(cs), ok)
	}
	if err := r.NodeUpsert(10, nodeRec("b", NodeAlive)); err != nil {
		t.Fatal(err)
	}
	if !closed(wake) {
		t.Fatal("the first commit after restore did not wake")
	}
	if got := commitIndexes(mustSince(t, r, 9)); !reflect.DeepEqual(got, []uint64{10}) {
		t.Fatalf("Since(9) = %v, want [10]", got)
	}
	if _, _, ok := r.Since(8); ok {
		t.Fatal("a commit after restore brought back what came before it")
	}
	if got := commitIndexes(mustSince(t, s, 0)); !reflect.DeepEqual(got, []uint64{3, 5, 9}) {
		t.Fatalf("the original store's feed changed: %v", got)
	}
}

func TestConcerns(t *testing.T) {
	for _, c := range []struct {
		table string
		rec   proto.Message
		want  bool
	}{
		{tableTrees, feedTree("web", "n1"), true},
		{tableTrees, feedTree("web", "n2"), false},
		{tableTrees, sbRecord("web", "n1"), false}, // not a tree record
		{tableTrees, nil, false},
		{tableSandboxes, sbRecord("s", "n1"), true},
		{tableSandboxes, sbRecord("s", "n2"), false},
		{tableSnapshotChunks, &pb.SnapshotChunk{SnapshotId: "x", Node: "n1"}, true},
		{tableSnapshotChunks, &pb.SnapshotChunk{SnapshotId: "x", Node: "n2"}, false},
		{tableKV, &pb.KVRecord{Key: "a"}, false},
		{tableIndex, &pb.IndexRecord{Table: tableTrees, Index: 3}, false},
		{tableNodes, nodeRec("n2", NodeAlive), true},
		{tableSnapshots, &pb.SnapshotRecord{Id: "x"}, true},
		{tableExperiments, &pb.ExperimentRecord{Id: "x"}, true},
		{"no_such_table", &pb.KVRecord{Key: "a"}, false},
	} {
		if got := Concerns("n1", c.table, c.rec); got != c.want {
			t.Errorf("Concerns(n1, %s, %v) = %v, want %v", c.table, c.rec, got, c.want)
		}
	}
}

// A tree goes to its node only; moved, it goes to the new node and is
// deleted, in its old version, at the old one; kv goes to no node; the
// node registry to every node.
func TestChangesFor(t *testing.T) {
	s := mustStore(t)
	if _, err := s.TreeApply(3, feedTree("web", "n1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TreeApply(4, feedTree("web", "n2"), u64(3)); err != nil {
		t.Fatal(err)
	}
	if err := s.TreeDelete(5, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KVSet(6, "a", []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.NodeUpsert(7, nodeRec("n3", NodeAlive)); err != nil {
		t.Fatal(err)
	}
	cs := mustSince(t, s, 0)
	if len(cs) != 5 {
		t.Fatalf("commits %v", commitIndexes(cs))
	}
	type want struct {
		table  string
		name   string // the record's name
		node   string // a tree's node
		modify uint64
		del    bool
	}
	cases := []struct {
		node   string
		commit int
		want   []want
	}{
		{"n1", 0, []want{{tableTrees, "web", "n1", 3, false}}},
		{"n2", 0, nil},
		{"n1", 1, []want{{tableTrees, "web", "n1", 3, true}}},
		{"n2", 1, []want{{tableTrees, "web", "n2", 4, false}}},
		{"n3", 1, nil},
		{"n1", 2, nil},
		{"n2", 2, []want{{tableTrees, "web", "n2", 4, true}}},
		{"n1", 3, nil},
		{"n2", 3, nil},
		{"n1", 4, []want{{tableNodes, "n3", "", 7, false}}},
		{"n2", 4, []want{{tableNodes, "n3", "", 7, false}}},
		{"n3", 4, []want{{tableNodes, "n3", "", 7, false}}},
	}
	for _, c := range cases {
		got, err := ChangesFor(c.node, cs[c.commit:c.commit+1])
		if err != nil {
			t.Fatal(err)
		}
		var gotw []want
		for _, rc := range got {
			table, rec := decodeChange(t, rc)
			w := want{table: table, del: rc.Delete}
			switch r := rec.(type) {
			case *pb.TreeRecord:
				w.name, w.node, w.modify = r.Name, r.Node, r.ModifyIndex
			case *pb.NodeRecord:
				w.name, w.modify = r.Name, r.ModifyIndex
			default:
				t.Fatalf("%s at %d: unexpected %s record", c.node, cs[c.commit].Index, table)
			}
			gotw = append(gotw, w)
		}
		if !reflect.DeepEqual(gotw, c.want) {
			t.Errorf("%s at %d: %+v, want %+v", c.node, cs[c.commit].Index, gotw, c.want)
		}
	}
	// All the commits at once: the same changes, in order.
	all, err := ChangesFor("n2", cs)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Delete || !all[1].Delete || all[2].Delete {
		t.Fatalf("n2, all commits: %v", all)
	}
}

// feedClient is a client agent's store fed from a server's commits.
type feedClient struct {
	node  string
	store *Store
	after uint64
}

// catchUp applies the server's commits after the client's progress: one
// ApplyRemote per commit, or one for all of them.
func (c *feedClient) catchUp(t *testing.T, server *Store, perCommit bool) {
	t.Helper()
	cs := mustSince(t, server, c.after)
	if len(cs) == 0 {
		return
	}
	batches := [][]Commit{cs}
	if perCommit {
		batches = nil
		for i := range cs {
			batches = append(batches, cs[i:i+1])
		}
	}
	for _, b := range batches {
		changes, err := ChangesFor(c.node, b)
		if err != nil {
			t.Fatal(err)
		}
		idx := b[len(b)-1].Index
		if err := c.store.ApplyRemote(idx, changes); err != nil {
			t.Fatalf("%s: apply %d: %v", c.node, idx, err)
		}
		c.after = idx
	}
}

// feedRoundTrip runs the writes ops describe (pairs of an operation and
// its argument) on a server store and checks that each node's client,
// fed commit by commit as the writes happen, or all at once at the end,
// holds what a fresh view holds, and what the server holds for it. It
// returns how many of each operation the server accepted.
func feedRoundTrip(t *testing.T, ops []byte) map[byte]int {
	server := mustStore(t)
	nodes := []string{"n1", "n2", "n3"}
	var steady, lagging []*feedClient
	for _, n := range append(nodes, "n4") {
		steady = append(steady, &feedClient{node: n, store: mustStore(t)})
		lagging = append(lagging, &feedClient{node: n, store: mustStore(t)})
	}
	idx := uint64(0)
	inBatch := false
	accepted := map[byte]int{}
	for i := 0; i+1 < len(ops); i += 2 {
		op, arg := ops[i], ops[i+1]
		idx++
		tree, sb := fmt.Sprintf("t%d", arg%4), fmt.Sprintf("s%d", arg%3)
		node := nodes[int(arg/4)%len(nodes)]
		var err error
		switch op % 9 {
		case 0, 1:
			_, err = server.TreeApply(idx, feedTree(tree, node), nil)
		case 2:
			err = server.TreeDelete(idx, tree)
		case 3:
			_, err = server.KVSet(idx, tree, []byte{arg}, nil)
		case 4:
			status := NodeAlive
			if arg&1 == 1 {
				status = NodeLeft
			}
			err = server.NodeUpsert(idx, nodeRec(node, status))
		case 5:
			_, err = server.ExperimentCreate(idx, int64(idx), groupCmd(fmt.Sprintf("x%d", idx), true, sbRecord(sb, node)))
		case 6:
			var cas uint64
			if r, _ := server.Sandbox(sb); r != nil {
				cas = r.ModifyIndex
			}
			_, err = server.SandboxPlace(idx, &pb.SandboxPlaceCommand{Name: sb, Node: node, Cas: cas})
		case 7:
			if r, _ := server.Sandbox(sb); r != nil {
				_, err = server.ExperimentAbort(idx, int64(idx), &pb.ExperimentAbortCommand{Id: r.Experiment, Reason: "test"})
			} else {
				err = fmt.Errorf("%w: sandbox %s", ErrNotFound, sb)
			}
		case 8:
			if inBatch && !server.EndBatch() {
				t.Fatal("batch broken")
			} else if !inBatch {
				server.BeginBatch()
			}
			inBatch = !inBatch
		}
		if err != nil && !IsDomainError(err) {
			t.Fatalf("op %d (%d %d) at %d: %v", i/2, op%9, arg, idx, err)
		}
		if err == nil {
			accepted[op%9]++
		}
		if !inBatch {
			for _, c := range steady {
				c.catchUp(t, server, true)
			}
		}
	}
	if inBatch && !server.EndBatch() {
		t.Fatal("batch broken")
	}
	for i, n := range append(nodes, "n4") {
		steady[i].catchUp(t, server, true)
		lagging[i].catchUp(t, server, false)
		idx, recs, err := server.View(n)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := NewView(idx, recs)
		if err != nil {
			t.Fatal(err)
		}
		want, wantView := placedOn(t, server, n), viewOf(t, server, n)
		for name, c := range map[string]*Store{"steady": steady[i].store, "lagging": lagging[i].store, "fresh": fresh} {
			if got := placedOn(t, c, ""); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s client holds %v, the server %v", n, name, got, want)
			}
			if got := viewOf(t, c, n); !reflect.DeepEqual(got, wantView) {
				t.Errorf("%s %s client's view differs from the server's:\n%v\n%v", n, name, got, wantView)
			}
			if c.LatestIndex() != server.LatestIndex() {
				t.Errorf("%s %s client at %d, the server at %d", n, name, c.LatestIndex(), server.LatestIndex())
			}
			if _, kv, _ := c.KVList(nil, ""); len(kv) != 0 {
				t.Errorf("%s %s client holds kv %v", n, name, kv)
			}
		}
	}
	return accepted
}

func feedOps(seed int64, n int) []byte {
	r := rand.New(rand.NewSource(seed))
	ops := make([]byte, 2*n)
	r.Read(ops)
	return ops
}

func TestFeedRoundTrip(t *testing.T) {
	// Create, move away and back, delete; a sandbox placed and moved; all
	// inside a batch, then outside.
	fixed := []byte{0, 0, 0, 4, 0, 0, 5, 0, 6, 4, 8, 0, 0, 8, 6, 8, 2, 0, 8, 0, 3, 1, 4, 5, 7, 4}
	accepted := feedRoundTrip(t, fixed)
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			for op, n := range feedRoundTrip(t, feedOps(seed, 150)) {
				accepted[op] += n
			}
		})
	}
	// Every kind of write took effect somewhere (a sandbox moved, a group
	// aborted...), so the comparisons above covered it.
	for op := byte(0); op < 9; op++ {
		if accepted[op] == 0 {
			t.Errorf("no operation %d was accepted", op)
		}
	}
	t.Logf("accepted operations: %v", accepted)
}

func FuzzFeedRoundTrip(f *testing.F) {
	f.Add([]byte{0, 0, 0, 4, 2, 0})
	f.Add(feedOps(42, 40))
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 600 {
			ops = ops[:600]
		}
		feedRoundTrip(t, ops)
	})
}

// ApplyRemote refuses changes at or below what the client holds, and a
// change it cannot apply, leaving the store as it was.
func TestApplyRemoteRefuses(t *testing.T) {
	server := mustStore(t)
	if _, err := server.TreeApply(3, feedTree("a", "n1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := server.TreeApply(4, feedTree("b", "n1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := server.NodeUpsert(5, nodeRec("n1", NodeAlive)); err != nil {
		t.Fatal(err)
	}
	idx, recs, err := server.View("n1")
	if err != nil || idx != 5 {
		t.Fatalf("view at %d: %v", idx, err)
	}
	client, err := NewView(idx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.TreeApply(6, feedTree("a", "n2"), u64(3)); err != nil {
		t.Fatal(err)
	}
	moved, err := ChangesFor("n1", mustSince(t, server, 5))
	if err != nil || len(moved) != 1 || !moved[0].Delete {
		t.Fatalf("changes for n1 at 6: %v %v", moved, err)
	}
	treeTag := uint32(tables[tableTrees].tag)
	noName, _ := proto.Marshal(&pb.TreeRecord{Node: "n1"})
	before := persistBytes(t, client)
	for _, c := range []struct {
		name    string
		index   uint64
		changes []*pb.RecordChange
		invalid bool // refused as ErrInvalidRecord
	}{
		{"older index", 4, nil, true},
		{"older index with changes", 4, moved, true},
		{"same index with changes", 5, moved, true},
		{"malformed record", 6, append(append([]*pb.RecordChange(nil), moved...), &pb.RecordChange{Tag: treeTag, Record: []byte{0xff}}), true},
		{"unknown tag", 6, append(append([]*pb.RecordChange(nil), moved...), &pb.RecordChange{Tag: 200}), true},
		{"tag zero", 6, []*pb.RecordChange{{Tag: 0}}, true},
		{"tag past a byte", 6, []*pb.RecordChange{{Tag: treeTag + 256, Record: moved[0].Record}}, true},
		{"record without its id", 6, append(append([]*pb.RecordChange(nil), moved...), &pb.RecordChange{Tag: treeTag, Record: noName}), false},
	} {
		err := client.ApplyRemote(c.index, c.changes)
		if err == nil || (c.invalid && !errors.Is(err, ErrInvalidRecord)) {
			t.Errorf("%s: %v", c.name, err)
		}
		if client.LatestIndex() != 5 || !bytes.Equal(persistBytes(t, client), before) {
			t.Fatalf("%s: a refused apply changed the store (at %d)", c.name, client.LatestIndex())
		}
	}
	if err := client.ApplyRemote(5, nil); err != nil {
		t.Fatalf("progress at the same index: %v", err)
	}
	if !bytes.Equal(persistBytes(t, client), before) {
		t.Fatal("progress at the same index changed the store")
	}
	if err := client.ApplyRemote(6, moved); err != nil {
		t.Fatal(err)
	}
	if got, want := placedOn(t, client, ""), placedOn(t, server, "n1"); client.LatestIndex() != 6 || !reflect.DeepEqual(got, want) {
		t.Fatalf("client at %d holds %v, the server %v", client.LatestIndex(), got, want)
	}
	// The tables changed move to the batch's index; the others stay.
	if client.TableIndex(tableTrees) != 6 || client.TableIndex(tableNodes) != 5 {
		t.Fatalf("client's table indexes: trees %d, nodes %d", client.TableIndex(tableTrees), client.TableIndex(tableNodes))
	}
	if err := client.ApplyRemote(6, moved); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("the same changes twice: %v", err)
	}
}

// The view of every node of a real state (the fsm golden states, with
// every table) builds a client store that holds that view and nothing
// else: no kv, no other node's records.
func TestViewOfGoldenStates(t *testing.T) {
	for _, g := range goldenStates(t) {
		server, err := Restore(bytes.NewReader(g))
		if err != nil {
			t.Fatal(err)
		}
		nodes := map[string]bool{"nobody": true}
		_, ns, _ := server.Nodes(nil)
		for _, n := range ns {
			nodes[n.Name] = true
		}
		_, trees, _ := server.Trees(nil, "")
		for _, r := range trees {
			nodes[r.Node] = true
		}
		_, sbs, _ := server.Sandboxes(nil, "")
		for _, r := range sbs {
			nodes[r.Node] = true
		}
		for n := range nodes {
			idx, recs, err := server.View(n)
			if err != nil {
				t.Fatal(err)
			}
			if idx != server.LatestIndex() {
				t.Fatalf("view of %s at %d, the store at %d", n, idx, server.LatestIndex())
			}
			for _, rc := range recs {
				if table, rec := decodeChange(t, rc); !Concerns(n, table, rec) {
					t.Fatalf("view of %s holds a %s record that does not concern it", n, table)
				}
			}
			client, err := NewView(idx, recs)
			if err != nil {
				t.Fatalf("view of %s: %v", n, err)
			}
			if got, want := viewOf(t, client, n), viewOf(t, server, n); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: the client's view differs from the server's", n)
			}
			if got, want := placedOn(t, client, ""), placedOn(t, server, n); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: client holds %v, the server %v", n, got, want)
			}
			if _, kv, _ := client.KVList(nil, ""); len(kv) != 0 || client.LatestIndex() != idx {
				t.Errorf("%s: client holds %d kv records, at %d", n, len(kv), client.LatestIndex())
			}
		}
	}
}
