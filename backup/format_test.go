package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleHeader(content []byte) Header {
	sum := sha256.Sum256(content)
	return Header{
		FormatVersion: FormatVersion, ClusterID: "c-1", RaftIndex: 42, RaftTerm: 3, RaftSnapshotVersion: 1,
		CreatedAt: time.Unix(1700000000, 0).UTC(), Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]),
		Node: "n1", StewardVersion: "test",
	}
}

func TestFileRoundTripAndDamage(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("state!"), 10000)
	path := filepath.Join(dir, "b.backup")
	if err := Write(path, sampleHeader(content), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("STEWARD-BACKUP\n{\"format_version\":1,")) {
		t.Fatalf("file starts with %q", raw[:40])
	}
	h, f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if _, err := back.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !bytes.Equal(back.Bytes(), content) || h != sampleHeader(content) {
		t.Fatalf("round trip: %+v", h)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}

	damaged := func(name string, b []byte, want string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(p)
		if !errors.Is(err, ErrInvalidBackup) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", name, err, want)
		}
	}
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-100] ^= 0xff
	damaged("flipped", flipped, "checksum mismatch")
	damaged("truncated", raw[:len(raw)-10], "truncated: the header says 60000 bytes of content, there are 59990")
	damaged("headless", raw[:20], "truncated in its header")
	damaged("extra", append(append([]byte(nil), raw...), 'x'), "data follows")
	damaged("other", []byte("hello world\n"), "not a steward backup file")
	damaged("empty", nil, "not a steward backup file")
	v2 := bytes.Replace(raw, []byte(`"format_version":1`), []byte(`"format_version":2`), 1)
	damaged("v2", v2, "format version 2, this binary reads version 1")
	big := bytes.Replace(raw, []byte(`"size":60000`), []byte(`"size":99999999999`), 1)
	damaged("big", big, "the limit is")

	// Write refuses content shorter than its header says, and leaves nothing.
	if err := Write(filepath.Join(dir, "short"), sampleHeader(content), bytes.NewReader(content[:10])); !errors.Is(err, ErrInvalidBackup) {
		t.Fatalf("short write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "short")); !os.IsNotExist(err) {
		t.Fatalf("short write left a file: %v", err)
	}
}
