package backup

import (
	"errors"

	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
)

var (
	// ErrInvalidBackup: the file or stream is not a valid backup (not a
	// backup at all, an unknown format version, truncated, a checksum
	// mismatch, content that does not decode, over the size limit).
	ErrInvalidBackup = errors.New("invalid backup")
	// ErrOtherCluster: the backup was taken from another cluster.
	ErrOtherCluster = errors.New("backup of another cluster")
	// ErrRestoreInProgress: another restore is running on the leader.
	ErrRestoreInProgress = errors.New("a restore is already in progress")
)

func init() {
	transport.RegisterCode("backup.invalid", ErrInvalidBackup, codes.InvalidArgument)
	transport.RegisterCode("backup.other_cluster", ErrOtherCluster, codes.FailedPrecondition)
	transport.RegisterCode("backup.restore_in_progress", ErrRestoreInProgress, codes.FailedPrecondition)
}
