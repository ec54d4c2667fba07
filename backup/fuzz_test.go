package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/steward/steward/internal/fuzzseed"
)

// seedFiles are backup files to start fuzzing from: one whose content is
// the fsm package's golden state (fsm/testdata/golden), one of no content,
// and damaged copies.
func seedFiles(tb testing.TB) [][]byte {
	tb.Helper()
	content, err := os.ReadFile(filepath.Join("..", "fsm", "testdata", "golden", "v1", "state.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	var out [][]byte
	for i, c := range [][]byte{content, {}} {
		path := filepath.Join(dir, "seed.backup")
		if err := Write(path, sampleHeader(c), bytes.NewReader(c)); err != nil {
			tb.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
		if i == 0 {
			out = append(out, b[:len(b)-1], append(append([]byte(nil), b...), '!'), b[:len(Magic)+20])
			flipped := append([]byte(nil), b...)
			flipped[len(b)-10] ^= 1
			out = append(out, flipped)
		}
	}
	return append(out, []byte(Magic), []byte{}, []byte(Magic+"{}\n"))
}

// FuzzReadHeader: ReadHeader never panics; a header it accepts passes
// Check, ends its line at the offset it returns, and reads back the same
// when written again.
func FuzzReadHeader(f *testing.F) {
	for _, s := range seedFiles(f) {
		fuzzseed.Add(f, s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, off, err := ReadHeader(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if err := h.Check(); err != nil {
			t.Fatalf("ReadHeader accepted a header that Check refuses: %v", err)
		}
		if off <= int64(len(Magic)) || off > int64(len(data)) || data[off-1] != '\n' {
			t.Fatalf("content offset %d of %d bytes is not after the header line", off, len(data))
		}
		line, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		h2, off2, err := ReadHeader(bufio.NewReader(bytes.NewReader([]byte(Magic + string(line) + "\n"))))
		if err != nil {
			t.Fatalf("a header written again does not read: %v", err)
		}
		if again, _ := json.Marshal(h2); !bytes.Equal(line, again) || off2 != int64(len(Magic)+len(line)+1) {
			t.Fatalf("write, read changes the header:\n%s\n%s", line, again)
		}
	})
}

// FuzzOpen: Open never panics; a file it accepts is left at content of
// exactly the header's size and checksum.
func FuzzOpen(f *testing.F) {
	for _, s := range seedFiles(f) {
		fuzzseed.Add(f, s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.backup")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		h, file, err := Open(path)
		if err != nil {
			if file != nil {
				t.Fatal("Open returned a file with an error")
			}
			return
		}
		defer file.Close()
		content, err := io.ReadAll(file)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		if int64(len(content)) != h.Size || hex.EncodeToString(sum[:]) != h.SHA256 {
			t.Fatalf("Open accepted %d bytes of content with SHA-256 %x; the header says %d bytes, %s", len(content), sum, h.Size, h.SHA256)
		}
	})
}
