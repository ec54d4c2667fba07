package state

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// The resource thresholds every node samples itself against: one record,
// set by THRESHOLDS_SET. While none was ever committed the defaults apply
// (the seed's: 1 GB of memory, 10,000 processes, 1,000 queued messages in
// one mailbox, 80% CPU). A limit of 0 turns that metric's check off.

const tableThresholds = "thresholds"

// ThresholdsID is the id of the one thresholds record.
const ThresholdsID = "cluster"

// Default thresholds (the seed's default_thresholds).
const (
	DefaultMaxMemoryBytes        int64   = 1_000_000_000
	DefaultMaxProcessCount       int64   = 10_000
	DefaultMaxMessageQueueLength int64   = 1_000
	DefaultMaxCPUPercent         float64 = 80.0
)

// Upper bounds of the thresholds, beyond which a value is refused as a
// mistake (a unit typo) rather than taken as "no limit" (use 0 for that).
const (
	// MaxThresholdMemoryBytes is 1 PiB.
	MaxThresholdMemoryBytes int64 = 1 << 50
	// MaxThresholdProcessCount is 100 million processes.
	MaxThresholdProcessCount int64 = 100_000_000
	// MaxThresholdQueueLength is a billion messages.
	MaxThresholdQueueLength int64 = 1_000_000_000
	// MaxThresholdCPUPercent: CPU use is a percentage of all cores.
	MaxThresholdCPUPercent float64 = 100
)

// ErrInvalidThresholds is returned for thresholds out of their bounds; the
// message names every offending field. It is an ErrInvalidRecord.
var ErrInvalidThresholds = fmt.Errorf("%w: thresholds", ErrInvalidRecord)

func init() {
	registerTable(tableDef{
		tag: 8,
		schema: &memdb.TableSchema{
			Name: tableThresholds,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Id"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.ThresholdsRecord) },
	})
}

// DefaultThresholds returns the thresholds in force while none were
// committed (indexes 0).
func DefaultThresholds() *pb.ThresholdsRecord {
	return &pb.ThresholdsRecord{
		Id:                    ThresholdsID,
		MaxMemoryBytes:        DefaultMaxMemoryBytes,
		MaxProcessCount:       DefaultMaxProcessCount,
		MaxMessageQueueLength: DefaultMaxMessageQueueLength,
		MaxCpuPercent:         DefaultMaxCPUPercent,
	}
}

// ValidateThresholds checks every limit against its bounds and reports all
// problems at once, each with its field name.
func ValidateThresholds(t *pb.ThresholdsRecord) error {
	if t == nil {
		return fmt.Errorf("%w: no thresholds given", ErrInvalidThresholds)
	}
	var problems []string
	intField := func(name string, v, max int64) {
		switch {
		case v < 0:
			problems = append(problems, fmt.Sprintf("%s: %d is negative", name, v))
		case v > max:
			problems = append(problems, fmt.Sprintf("%s: %d is over the bound of %d", name, v, max))
		}
	}
	intField("max_memory_bytes", t.MaxMemoryBytes, MaxThresholdMemoryBytes)
	intField("max_process_count", t.MaxProcessCount, MaxThresholdProcessCount)
	intField("max_message_queue_length", t.MaxMessageQueueLength, MaxThresholdQueueLength)
	if c := t.MaxCpuPercent; math.IsNaN(c) || c < 0 || c > MaxThresholdCPUPercent {
		problems = append(problems, fmt.Sprintf("max_cpu_percent: %v is not a percentage in 0..100", c))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidThresholds, strings.Join(problems, "; "))
	}
	return nil
}

// ThresholdsSet commits the thresholds. cas, when set, must equal the
// record's modify index (0: never set). Setting the values in force keeps
// the record (and its index) as it is.
func (s *Store) ThresholdsSet(idx uint64, rec *pb.ThresholdsRecord, cas *uint64) (*pb.ThresholdsRecord, error) {
	if err := ValidateThresholds(rec); err != nil {
		return nil, err
	}
	var out *pb.ThresholdsRecord
	err := s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableThresholds, "id", ThresholdsID)
		if err != nil {
			return err
		}
		var old *pb.ThresholdsRecord
		if raw != nil {
			old = raw.(*pb.ThresholdsRecord)
		}
		if cas != nil {
			var cur uint64
			if old != nil {
				cur = old.ModifyIndex
			}
			if cur != *cas {
				return fmt.Errorf("%w: thresholds are at modify index %d, not %d", ErrCASConflict, cur, *cas)
			}
		}
		n := proto.Clone(rec).(*pb.ThresholdsRecord)
		n.Id = ThresholdsID
		n.CreateIndex, n.ModifyIndex = idx, idx
		if old != nil {
			n.CreateIndex = old.CreateIndex
			if sameLimits(old, n) {
				out = old
				return nil
			}
		}
		if err := txn.Insert(tableThresholds, n); err != nil {
			return err
		}
		out = n
		return bumpIndex(txn, tableThresholds, idx)
	})
	return out, err
}

func sameLimits(a, b *pb.ThresholdsRecord) bool {
	return a.MaxMemoryBytes == b.MaxMemoryBytes && a.MaxProcessCount == b.MaxProcessCount &&
		a.MaxMessageQueueLength == b.MaxMessageQueueLength && a.MaxCpuPercent == b.MaxCpuPercent
}

// Thresholds returns the committed thresholds, or the defaults (isDefault)
// while none were committed, and the table's index. ws, when not nil, is
// woken by the next change.
func (s *Store) Thresholds(ws memdb.WatchSet) (idx uint64, rec *pb.ThresholdsRecord, isDefault bool, err error) {
	txn := s.read()
	defer txn.Abort()
	idx = maxIndex(txn, tableThresholds)
	ch, raw, err := txn.FirstWatch(tableThresholds, "id", ThresholdsID)
	if err != nil {
		return 0, nil, false, err
	}
	ws.Add(ch)
	if raw == nil {
		return idx, DefaultThresholds(), true, nil
	}
	r, ok := raw.(*pb.ThresholdsRecord)
	if !ok {
		return 0, nil, false, errors.New("thresholds: unexpected record type")
	}
	return idx, r, false, nil
}
