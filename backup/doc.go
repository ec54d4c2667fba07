// Package backup saves the replicated state to a file and restores it, as
// Consul's `snapshot save` and `snapshot restore` do.
//
// A backup is a Raft snapshot taken on the leader (a user snapshot, after a
// barrier, so everything committed is in it), streamed in chunks to the
// client, which writes a file: a magic line, a one-line JSON header (format
// version, cluster id, Raft index and term, creation time, size, SHA-256 of
// the content), then the content — the FSM's snapshot stream (package
// state). A restore verifies the file (header, size, checksum) before
// sending anything, streams it in chunks to the leader, which verifies it
// again, decodes it as the FSM would, and only then hands it to Raft's user
// restore: the leader installs it as a snapshot past its last index and the
// followers receive it through InstallSnapshot, so every node's state is
// the backup's. A corrupt or truncated file, or one of another cluster, is
// refused with a clear error and nothing changes.
//
// After a restore every node acts on the restored desired state: each
// reconciler starts the trees the backup places on its node, stops those it
// does not, and brings the others to their restored specs; plans restored
// mid-flight continue from where the backup left them. The runtimes'
// processes are not in a backup (package snapshot captures those).
//
// This package owns the file format, the Operator gRPC service (a
// node.Plugin) and the client side of both operations. It must not change
// the replicated state except through Raft's restore.
package backup
