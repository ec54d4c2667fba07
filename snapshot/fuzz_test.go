package snapshot

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"

	"github.com/steward/steward/internal/fuzzseed"
)

// goldenPart is a node's part as committed in the fsm package's golden
// logs (fsm/testdata/golden/*/entries.bin): its chunks put together, and
// what the part commands say about it.
type goldenPart struct {
	snapshot, node string
	stored         []byte
	cmd            *pb.SnapshotPartCommand // the first chunk's command
}

// goldenParts reassembles every part of the golden logs whose chunks are
// all there and match their checksum.
func goldenParts(tb testing.TB) []goldenPart {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "fsm", "testdata", "golden", "v*", "entries.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no golden log in ../fsm/testdata/golden")
	}
	type key struct{ version, snapshot, node string }
	chunks := map[key]map[uint32]*pb.SnapshotPartCommand{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		for len(b) > 0 {
			n, k := binary.Uvarint(b)
			if k <= 0 || n > uint64(len(b)-k) {
				tb.Fatalf("%s: bad entry length", p)
			}
			data := b[k : k+int(n)]
			b = b[k+int(n):]
			var e pb.LogEntry
			if err := proto.Unmarshal(data, &e); err != nil || e.Type != pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART {
				continue
			}
			var c pb.SnapshotPartCommand
			if err := proto.Unmarshal(e.Payload, &c); err != nil || len(c.Data) == 0 {
				continue
			}
			kk := key{p, c.SnapshotId, c.Node}
			if chunks[kk] == nil {
				chunks[kk] = map[uint32]*pb.SnapshotPartCommand{}
			}
			chunks[kk][c.Index] = &c
		}
	}
	var out []goldenPart
	for k, cs := range chunks {
		first := cs[0]
		if first == nil || len(cs) != int(first.Total) {
			continue
		}
		var stored []byte
		for i := uint32(0); i < first.Total; i++ {
			stored = append(stored, cs[i].Data...)
		}
		if sum := sha256.Sum256(stored); !bytes.Equal(sum[:], first.Sha256) {
			continue // the golden log's corrupt part
		}
		out = append(out, goldenPart{snapshot: k.snapshot, node: k.node, stored: stored, cmd: first})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].snapshot+"/"+out[i].node < out[j].snapshot+"/"+out[j].node
	})
	if len(out) == 0 {
		tb.Fatal("no complete part in the golden logs")
	}
	return out
}

// The parts of the golden logs, built by the fsm package's mirror of Part,
// read back with DecodePart as what the commands say: node, counts, size.
func TestGoldenPartsDecode(t *testing.T) {
	for _, g := range goldenParts(t) {
		p, err := DecodePart(g.stored)
		if err != nil {
			t.Fatalf("%s/%s: %v", g.snapshot, g.node, err)
		}
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if p.Node != g.node || len(p.Processes) != int(g.cmd.Processes) || len(p.Trees) != int(g.cmd.Trees) ||
			uint64(len(js)) != g.cmd.RawBytes || p.CapturedAt.UnixNano() != g.cmd.CapturedAtUnixNano {
			t.Errorf("%s/%s decodes as node %s, %d processes, %d trees, %d bytes of JSON, captured %s; the commands say %s, %d, %d, %d, %d",
				g.snapshot, g.node, p.Node, len(p.Processes), len(p.Trees), len(js), p.CapturedAt,
				g.node, g.cmd.Processes, g.cmd.Trees, g.cmd.RawBytes, g.cmd.CapturedAtUnixNano)
		}
		for _, tr := range p.Trees {
			if err := spec.Validate(&tr.Spec, spec.ValidateOptions{}); err != nil {
				t.Errorf("%s/%s: tree %s: %v", g.snapshot, g.node, tr.Name, err)
			}
		}
	}
}

func samplePart() *Part {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &Part{Node: "n1", CapturedAt: at, Options: Options{State: true, Links: true},
		Trees: []Tree{{Name: "web", Status: "running", Root: "n1/2", SpecIndex: 7,
			Spec:     spec.Tree{Name: "web", SupervisorSpec: spec.SupervisorSpec{Strategy: spec.OneForOne, MaxRestarts: 3, MaxSeconds: 5}},
			Children: []Child{{Path: "c1", PID: "n1/3", Type: "worker", Behavior: "counter", State: "running", Restart: "permanent"}}}},
		Processes: []Process{{PID: "n1/3", Tree: "web", ChildID: "c1", Parent: "n1/2", Behavior: "counter", Status: "running",
			StartedAt: at, State: []byte("7"), Queue: []Message{{Kind: "cast", From: "n2/4", Body: []byte("inc")}}, Links: []string{"n1/2"}}},
		Names:  []Name{{Name: "hits", PID: "n1/3"}},
		System: System{HeapBytes: 1 << 20, Goroutines: 12, Processes: 1},
	}
}

// FuzzDecodePart: DecodePart never panics, accepts and decodes exactly as
// encoding/json does (it decodes with go-json-experiment's v1 package),
// and a part it reads encodes and decodes back to the same part. With gzipIt the input is the part's
// JSON and is compressed first, so that the fuzzer explores the JSON
// rather than trip on gzip's checksum.
func FuzzDecodePart(f *testing.F) {
	stored, _, err := encodePart(samplePart())
	if err != nil {
		f.Fatal(err)
	}
	js, err := json.Marshal(samplePart())
	if err != nil {
		f.Fatal(err)
	}
	fuzzseed.Add(f, stored, false)
	fuzzseed.Add(f, stored[:len(stored)/2], false)
	fuzzseed.Add(f, []byte{}, false)
	fuzzseed.Add(f, js, true)
	fuzzseed.Add(f, []byte(`{"node":"n1","trees":null,"processes":[{"pid":"n1/1","state":"AAEC"}]}`), true)
	for _, g := range goldenParts(f) {
		fuzzseed.Add(f, g.stored, false)
		if p, err := DecodePart(g.stored); err == nil {
			if b, err := json.Marshal(p); err == nil {
				fuzzseed.Add(f, b, true)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, gzipIt bool) {
		if gzipIt {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			data = buf.Bytes()
		}
		p, err := DecodePart(data)
		if std, stdErr := decodePartWith(data, MaxPartRawBytes, json.Unmarshal); (err == nil) != (stdErr == nil) {
			t.Fatalf("DecodePart: %v; with encoding/json: %v", err, stdErr)
		} else if err == nil && !reflect.DeepEqual(p, std) {
			t.Fatalf("DecodePart and encoding/json decode differently:\n%+v\n%+v", p, std)
		}
		if err != nil {
			return
		}
		first, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("a decoded part does not encode: %v", err)
		}
		again, _, err := encodePart(p)
		if err != nil {
			return // over the size limit
		}
		q, err := DecodePart(again)
		if err != nil {
			t.Fatalf("an encoded part does not decode: %v", err)
		}
		if second, _ := json.Marshal(q); !bytes.Equal(first, second) {
			t.Fatalf("decode, encode, decode changes the part:\n%s\n%s", first, second)
		}
	})
}

// sampleFile is an export of a snapshot with a golden part for n1 and n2
// missing, as Export writes it.
func sampleFile(tb testing.TB) []byte {
	tb.Helper()
	g := goldenParts(tb)[0]
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := FileHeader{ID: g.snapshot, Status: state.SnapshotPartial, Options: Options{State: true},
		CreatedAt: at, FinishedAt: at.Add(time.Second), ExportedAt: at.Add(time.Hour), ClusterID: "c-1",
		Parts: []FilePartMD{
			{Node: g.node, Status: state.PartComplete, RawBytes: g.cmd.RawBytes, Bytes: uint64(len(g.stored)), Processes: g.cmd.Processes,
				Trees: g.cmd.Trees, SHA256: hex.EncodeToString(g.cmd.Sha256), CapturedAt: time.Unix(0, g.cmd.CapturedAtUnixNano).UTC()},
			{Node: "n2", Status: state.PartMissing},
		}}
	var buf bytes.Buffer
	if err := WriteFile(&buf, h, map[string][]byte{g.node: g.stored}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzReadFile: ReadFile never panics; a file it accepts is written back
// by WriteFile as a file that reads as the same header and parts. With
// seal the input is a file without its trailing SHA-256, which is
// appended first, so that the fuzzer explores the header and the parts
// rather than trip on the checksum.
func FuzzReadFile(f *testing.F) {
	file := sampleFile(f)
	body := file[:len(file)-sha256.Size]
	fuzzseed.Add(f, file, false)
	fuzzseed.Add(f, file[:len(file)-1], false)
	fuzzseed.Add(f, []byte{}, false)
	fuzzseed.Add(f, body, true)
	fuzzseed.Add(f, body[:len(fileMagic)+1], true)
	altered := append([]byte(nil), body...)
	altered[len(fileMagic)+3] ^= 1
	fuzzseed.Add(f, altered, true)
	f.Fuzz(func(t *testing.T, data []byte, seal bool) {
		if seal {
			sum := sha256.Sum256(data)
			data = append(append([]byte(nil), data...), sum[:]...)
		}
		h, parts, err := ReadFile(data)
		if err != nil {
			return
		}
		complete := map[string]bool{}
		for _, p := range h.Parts {
			if p.Status == state.PartComplete {
				if complete[p.Node] {
					// Two complete parts of one node: parts keeps the
					// last, so the file cannot be written back as read.
					return
				}
				complete[p.Node] = true
			}
		}
		var buf bytes.Buffer
		if err := WriteFile(&buf, *h, parts); err != nil {
			t.Fatalf("an accepted file does not write back: %v", err)
		}
		h2, parts2, err := ReadFile(buf.Bytes())
		if err != nil {
			t.Fatalf("a written-back file does not read: %v", err)
		}
		h.Format = h2.Format // WriteFile sets it
		a, _ := json.Marshal(h)
		b, _ := json.Marshal(h2)
		if !bytes.Equal(a, b) || !reflect.DeepEqual(parts, parts2) {
			t.Fatalf("read, write, read changes the file:\n%s\n%s", a, b)
		}
	})
}
