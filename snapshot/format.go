package snapshot

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/steward/steward/state"
)

// Export file format, version 1:
//
//	"STEWSNAP" | version byte
//	uvarint length | header (JSON of FileHeader)
//	for each part the header lists as complete, in order: uvarint length | stored part (gzip JSON)
//	SHA-256 of everything above (32 bytes)
//
// Each part's own SHA-256 is in the header too, so a file is checked as a
// whole and part by part before anything is committed.
const (
	fileMagic   = "STEWSNAP"
	fileVersion = 1
	// MaxFileBytes bounds an import (bytes).
	MaxFileBytes = state.MaxSnapshotBytes + 1<<20
)

// ErrCorruptFile: an import file fails its checks.
var ErrCorruptFile = errors.New("corrupt snapshot file")

// FileHeader describes an exported snapshot.
type FileHeader struct {
	Format     string       `json:"format"`
	ID         string       `json:"id"`
	Status     string       `json:"status"`
	Options    Options      `json:"options"`
	CreatedAt  time.Time    `json:"created_at"`
	FinishedAt time.Time    `json:"finished_at"`
	ExportedAt time.Time    `json:"exported_at"`
	ClusterID  string       `json:"cluster_id,omitempty"`
	Parts      []FilePartMD `json:"parts"`
}

// fileFormat names the header's format.
const fileFormat = "steward-snapshot/1"

// FilePartMD describes one part in a file.
type FilePartMD struct {
	Node       string    `json:"node"`
	Status     string    `json:"status"`
	RawBytes   uint64    `json:"raw_bytes"`
	Bytes      uint64    `json:"bytes"`
	Processes  uint32    `json:"processes"`
	Trees      uint32    `json:"trees"`
	SHA256     string    `json:"sha256"`
	CapturedAt time.Time `json:"captured_at"`
}

// WriteFile writes a snapshot file; parts holds the stored bytes of each
// complete part, by node.
func WriteFile(w io.Writer, h FileHeader, parts map[string][]byte) error {
	h.Format = fileFormat
	sum := sha256.New()
	bw := bufio.NewWriter(io.MultiWriter(w, sum))
	hdr, err := json.Marshal(h)
	if err != nil {
		return err
	}
	bw.WriteString(fileMagic)
	bw.WriteByte(fileVersion)
	writeBlock(bw, hdr)
	for _, p := range h.Parts {
		if p.Status != state.PartComplete {
			continue
		}
		data, ok := parts[p.Node]
		if !ok {
			return fmt.Errorf("part of %s is missing", p.Node)
		}
		writeBlock(bw, data)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(sum.Sum(nil))
	return err
}

func writeBlock(w *bufio.Writer, b []byte) {
	var n [binary.MaxVarintLen64]byte
	w.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	w.Write(b)
}

// ReadFile checks and reads a snapshot file: the whole file's checksum,
// then each part's against the header.
func ReadFile(data []byte) (*FileHeader, map[string][]byte, error) {
	if len(data) > MaxFileBytes {
		return nil, nil, fmt.Errorf("%w: %d bytes, more than the %d limit", ErrCorruptFile, len(data), MaxFileBytes)
	}
	if len(data) < len(fileMagic)+1+sha256.Size {
		return nil, nil, fmt.Errorf("%w: %d bytes is too short (truncated?)", ErrCorruptFile, len(data))
	}
	body, trailer := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	sum := sha256.Sum256(body)
	if !bytes.Equal(sum[:], trailer) {
		return nil, nil, fmt.Errorf("%w: checksum mismatch (truncated or altered)", ErrCorruptFile)
	}
	if string(body[:len(fileMagic)]) != fileMagic {
		return nil, nil, fmt.Errorf("%w: not a steward snapshot file", ErrCorruptFile)
	}
	if body[len(fileMagic)] != fileVersion {
		return nil, nil, fmt.Errorf("%w: format version %d, this binary reads %d", ErrCorruptFile, body[len(fileMagic)], fileVersion)
	}
	r := bytes.NewReader(body[len(fileMagic)+1:])
	hdr, err := readBlock(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: header: %v", ErrCorruptFile, err)
	}
	var h FileHeader
	if err := json.Unmarshal(hdr, &h); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %v", ErrCorruptFile, err)
	}
	if err := h.check(); err != nil {
		return nil, nil, err
	}
	parts := map[string][]byte{}
	for _, p := range h.Parts {
		if p.Status != state.PartComplete {
			continue
		}
		b, err := readBlock(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: part %s: %v", ErrCorruptFile, p.Node, err)
		}
		if hex.EncodeToString(checksum(b)) != p.SHA256 {
			return nil, nil, fmt.Errorf("%w: part %s fails its checksum", ErrCorruptFile, p.Node)
		}
		parts[p.Node] = b
	}
	if r.Len() != 0 {
		return nil, nil, fmt.Errorf("%w: %d unexpected bytes after the parts", ErrCorruptFile, r.Len())
	}
	return &h, parts, nil
}

// check refuses a header an import could not complete: another format, a
// status that is not final, a part with no node, of an unknown status, or
// one node twice (its chunks would fill one part and leave the other
// waiting forever).
func (h *FileHeader) check() error {
	if h.Format != fileFormat {
		return fmt.Errorf("%w: header format %q, this binary reads %q", ErrCorruptFile, h.Format, fileFormat)
	}
	if h.ID == "" {
		return fmt.Errorf("%w: the header has no snapshot id", ErrCorruptFile)
	}
	if h.Status != state.SnapshotComplete && h.Status != state.SnapshotPartial {
		return fmt.Errorf("%w: snapshot status %q is not complete or partial", ErrCorruptFile, h.Status)
	}
	if len(h.Parts) == 0 {
		return fmt.Errorf("%w: the header lists no part", ErrCorruptFile)
	}
	seen := map[string]bool{}
	for i, p := range h.Parts {
		switch {
		case p.Node == "":
			return fmt.Errorf("%w: part %d has no node", ErrCorruptFile, i)
		case seen[p.Node]:
			return fmt.Errorf("%w: node %s has two parts", ErrCorruptFile, p.Node)
		case p.Status != state.PartComplete && p.Status != state.PartMissing:
			return fmt.Errorf("%w: part %s has status %q, not complete or missing", ErrCorruptFile, p.Node, p.Status)
		}
		seen[p.Node] = true
	}
	return nil
}

func readBlock(r *bytes.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(r.Len()) {
		return nil, fmt.Errorf("block of %d bytes, only %d left", n, r.Len())
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}
