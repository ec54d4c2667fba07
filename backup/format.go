package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
)

// File format, version 1:
//
//	STEWARD-BACKUP\n
//	{"format_version":1,"cluster_id":…,"raft_index":…,…,"size":N,"sha256":…}\n
//	N bytes of content: the FSM's snapshot stream
//
// and nothing after. The header is one line of JSON, so `head -2 FILE`
// shows what a backup is.
const (
	// Magic is the first line of every backup file.
	Magic = "STEWARD-BACKUP\n"
	// FormatVersion is the version this binary writes and reads.
	FormatVersion = 1
	// MaxHeaderBytes bounds the header line.
	MaxHeaderBytes = 64 << 10
	// MaxBytes bounds a backup's content (1 GiB): the replicated state
	// lives in memory, so anything larger is not a backup of it.
	MaxBytes = 1 << 30
	// ChunkSize is the data carried by one stream message (256 KiB), far
	// below the gRPC message limit.
	ChunkSize = 256 << 10
)

// Header describes a backup.
type Header struct {
	FormatVersion int    `json:"format_version"`
	ClusterID     string `json:"cluster_id"`
	// RaftIndex and RaftTerm are those of the last entry in the snapshot.
	RaftIndex uint64 `json:"raft_index"`
	RaftTerm  uint64 `json:"raft_term"`
	// RaftSnapshotVersion is hashicorp/raft's snapshot format version.
	RaftSnapshotVersion int       `json:"raft_snapshot_version"`
	CreatedAt           time.Time `json:"created_at"`
	// Size is the content's length in bytes, SHA256 its hex SHA-256.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Node is the leader that took it, StewardVersion its version.
	Node           string `json:"node"`
	StewardVersion string `json:"steward_version"`
}

// Check checks a header's fields (not the content).
func (h Header) Check() error {
	switch {
	case h.FormatVersion != FormatVersion:
		return fmt.Errorf("%w: format version %d, this binary reads version %d", ErrInvalidBackup, h.FormatVersion, FormatVersion)
	case h.ClusterID == "":
		return fmt.Errorf("%w: the header has no cluster id", ErrInvalidBackup)
	case h.Size < 0 || h.Size > MaxBytes:
		return fmt.Errorf("%w: the header says %d bytes, the limit is %d", ErrInvalidBackup, h.Size, MaxBytes)
	case h.RaftSnapshotVersion < int(raft.SnapshotVersionMin) || h.RaftSnapshotVersion > int(raft.SnapshotVersionMax):
		return fmt.Errorf("%w: Raft snapshot version %d is not supported", ErrInvalidBackup, h.RaftSnapshotVersion)
	}
	if b, err := hex.DecodeString(h.SHA256); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("%w: the header's sha256 %q is not a hex SHA-256", ErrInvalidBackup, h.SHA256)
	}
	return nil
}

// ToPB converts a header for the wire.
func (h Header) ToPB() *pb.BackupHeader {
	return &pb.BackupHeader{
		FormatVersion: uint32(h.FormatVersion), ClusterId: h.ClusterID, RaftIndex: h.RaftIndex, RaftTerm: h.RaftTerm,
		RaftSnapshotVersion: uint32(h.RaftSnapshotVersion), CreatedAtUnixNano: h.CreatedAt.UnixNano(), Size: h.Size,
		Sha256: h.SHA256, Node: h.Node, StewardVersion: h.StewardVersion,
	}
}

// HeaderFromPB converts a header from the wire.
func HeaderFromPB(p *pb.BackupHeader) Header {
	return Header{
		FormatVersion: int(p.FormatVersion), ClusterID: p.ClusterId, RaftIndex: p.RaftIndex, RaftTerm: p.RaftTerm,
		RaftSnapshotVersion: int(p.RaftSnapshotVersion), CreatedAt: time.Unix(0, p.CreatedAtUnixNano).UTC(), Size: p.Size,
		SHA256: p.Sha256, Node: p.Node, StewardVersion: p.StewardVersion,
	}
}

// Write writes a backup file: the magic, the header, then exactly
// h.Size bytes of content. It writes to a temporary file beside path,
// syncs it and renames it into place, so a failed write leaves no partial
// backup behind.
func Write(path string, h Header, content io.Reader) (err error) {
	if err := h.Check(); err != nil {
		return err
	}
	line, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 64<<10)
	if _, err := w.WriteString(Magic); err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	if _, err := w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	n, err := io.Copy(w, io.LimitReader(content, h.Size+1))
	if err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	if n != h.Size {
		return fmt.Errorf("%w: %d bytes of content, the header says %d", ErrInvalidBackup, n, h.Size)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	return nil
}

// ReadHeader reads the magic and the header, leaving r at the content. It
// returns the content's offset from the start.
func ReadHeader(r *bufio.Reader) (Header, int64, error) {
	var h Header
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != Magic {
		return h, 0, fmt.Errorf("%w: not a steward backup file (no %q line)", ErrInvalidBackup, bytes.TrimSpace([]byte(Magic)))
	}
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxHeaderBytes {
			return h, 0, fmt.Errorf("%w: header longer than %d bytes", ErrInvalidBackup, MaxHeaderBytes)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return h, 0, fmt.Errorf("%w: truncated in its header", ErrInvalidBackup)
		}
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, 0, fmt.Errorf("%w: header: %v", ErrInvalidBackup, err)
	}
	if err := h.Check(); err != nil {
		return h, 0, err
	}
	return h, int64(len(Magic) + len(line)), nil
}

// VerifyContent reads exactly h.Size bytes of content from r, checks that
// nothing follows and that their SHA-256 is the header's, and writes them
// to w when w is not nil.
func VerifyContent(h Header, r io.Reader, w io.Writer) error {
	sum := sha256.New()
	dst := io.Writer(sum)
	if w != nil {
		dst = io.MultiWriter(sum, w)
	}
	n, err := io.Copy(dst, io.LimitReader(r, h.Size))
	if err != nil {
		return fmt.Errorf("backup content: %w", err)
	}
	if n < h.Size {
		return fmt.Errorf("%w: truncated: the header says %d bytes of content, there are %d", ErrInvalidBackup, h.Size, n)
	}
	var extra [1]byte
	if m, _ := io.ReadFull(r, extra[:]); m > 0 {
		return fmt.Errorf("%w: data follows the %d bytes of content the header announces", ErrInvalidBackup, h.Size)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.SHA256 {
		return fmt.Errorf("%w: checksum mismatch: the content's SHA-256 is %s, the header says %s; the file is corrupt", ErrInvalidBackup, got, h.SHA256)
	}
	return nil
}

// Verify checks a whole backup file: header, size and checksum.
func Verify(path string) (Header, error) {
	h, f, err := Open(path)
	if f != nil {
		_ = f.Close()
	}
	return h, err
}

// Open verifies a backup file (header, size, checksum) and returns its
// header and the file positioned at the content; the caller closes it.
func Open(path string) (Header, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, nil, fmt.Errorf("backup file: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	h, off, err := ReadHeader(br)
	if err == nil {
		err = VerifyContent(h, br, nil)
	}
	if err == nil {
		_, err = f.Seek(off, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		return h, nil, err
	}
	return h, f, nil
}
