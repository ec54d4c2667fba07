package snapshot

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/steward/steward/state"
)

// A file an import could not complete is refused when read, before
// anything is committed: a node listed twice would leave the import
// waiting forever for the part its chunks never fill.
func TestReadFileRefusesHeadersAnImportCannotComplete(t *testing.T) {
	good := func() FileHeader {
		return FileHeader{ID: "snap-1", Status: state.SnapshotPartial,
			Parts: []FilePartMD{{Node: "n1", Status: state.PartMissing}, {Node: "n2", Status: state.PartMissing}}}
	}
	write := func(h FileHeader) []byte {
		t.Helper()
		var buf bytes.Buffer
		if err := WriteFile(&buf, h, nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if _, _, err := ReadFile(write(good())); err != nil {
		t.Fatalf("a good file: %v", err)
	}
	for name, tc := range map[string]struct {
		edit func(h *FileHeader)
		want string
	}{
		"node twice":        {func(h *FileHeader) { h.Parts[1].Node = "n1" }, "node n1 has two parts"},
		"part without node": {func(h *FileHeader) { h.Parts[0].Node = "" }, "part 0 has no node"},
		"part status":       {func(h *FileHeader) { h.Parts[0].Status = "pending" }, `status "pending", not complete or missing`},
		"snapshot status":   {func(h *FileHeader) { h.Status = state.SnapshotCapturing }, `status "capturing" is not complete or partial`},
		"no parts":          {func(h *FileHeader) { h.Parts = nil }, "lists no part"},
		"no id":             {func(h *FileHeader) { h.ID = "" }, "no snapshot id"},
	} {
		h := good()
		tc.edit(&h)
		_, _, err := ReadFile(write(h))
		if !errors.Is(err, ErrCorruptFile) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	// Another format.
	b := write(good())
	if i := bytes.Index(b, []byte(fileFormat)); i < 0 {
		t.Fatal("no format in the header")
	}
	other := bytes.Replace(b[:len(b)-sha256.Size], []byte(fileFormat), []byte("steward-snapshot/9"), 1)
	sum := sha256.Sum256(other)
	if _, _, err := ReadFile(append(other, sum[:]...)); !errors.Is(err, ErrCorruptFile) || !strings.Contains(err.Error(), `format "steward-snapshot/9"`) {
		t.Errorf("another format: %v", err)
	}
}

// A stored part is decompressed no further than the limit: a small part
// that inflates past it is refused, not read into memory.
func TestDecodePartBoundsDecompression(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(bytes.Repeat([]byte(" "), 1<<20)); err != nil {
		t.Fatal(err)
	}
	_ = zw.Close()
	if buf.Len() > 8<<10 {
		t.Fatalf("the bomb is %d bytes compressed", buf.Len())
	}
	if _, err := decodePart(buf.Bytes(), 64<<10); err == nil || !strings.Contains(err.Error(), "more than 65536 bytes once decompressed") {
		t.Fatalf("a part inflating past the limit: %v", err)
	}
	p := &Part{Node: "n1"}
	stored, _, err := encodePart(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodePart(stored); err != nil || got.Node != "n1" {
		t.Fatalf("a part within the limit: %+v %v", got, err)
	}
}
