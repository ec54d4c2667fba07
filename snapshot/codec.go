package snapshot

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"

	"github.com/steward/steward/state"
)

// encodePart compresses a part as stored: gzip of its JSON.
func encodePart(p *Part) (stored []byte, raw int, err error) {
	js, err := json.Marshal(p)
	if err != nil {
		return nil, 0, err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := zw.Write(js); err != nil {
		return nil, 0, err
	}
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	if buf.Len() > state.MaxSnapshotPartBytes {
		return nil, 0, fmt.Errorf("%w: the part of %s is %d bytes compressed, the limit is %d", state.ErrLimit, p.Node, buf.Len(), state.MaxSnapshotPartBytes)
	}
	return buf.Bytes(), len(js), nil
}

// DecodePart reads a stored part.
func DecodePart(stored []byte) (*Part, error) {
	zr, err := gzip.NewReader(bytes.NewReader(stored))
	if err != nil {
		return nil, fmt.Errorf("part: %w", err)
	}
	js, err := io.ReadAll(io.LimitReader(zr, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("part: %w", err)
	}
	var p Part
	if err := json.Unmarshal(js, &p); err != nil {
		return nil, fmt.Errorf("part: %w", err)
	}
	return &p, nil
}

// chunks splits stored bytes into pieces of at most MaxSnapshotChunkBytes.
func chunks(stored []byte) [][]byte {
	var out [][]byte
	for len(stored) > 0 {
		n := min(len(stored), state.MaxSnapshotChunkBytes)
		out = append(out, stored[:n])
		stored = stored[n:]
	}
	return out
}

func checksum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
