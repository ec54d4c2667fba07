package node

// The audit log (package audit): every write this node accepts from a
// caller, appended to <data_dir>/audit/audit.log (Config.Audit). Its
// interceptors are the server's outermost, before the TLS role check and
// the ACL check, so that a call either refuses is written with its code.

import (
	"github.com/steward/steward/audit"
	"google.golang.org/grpc"
)

// setupAudit opens the audit log when Config.Audit enables it.
func (n *Node) setupAudit() error {
	if !n.cfg.Audit.Enabled {
		return nil
	}
	l, err := audit.Open(n.cfg.Audit, n.cfg.DataDir, n.cfg.Name, n.logger)
	if err != nil {
		return err
	}
	n.audit = l
	n.logger.Info("audit log enabled", "path", l.Path())
	return nil
}

// auditServerOptions are the audit interceptors (none with the log off).
func (n *Node) auditServerOptions() []grpc.ServerOption {
	if n.audit == nil {
		return nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(n.audit.UnaryInterceptor),
		grpc.ChainStreamInterceptor(n.audit.StreamInterceptor),
	}
}

// registerAudit registers the Audit service (answering that the log is
// off when it is).
func (n *Node) registerAudit() {
	audit.RegisterService(n.server.GRPC(), n.audit, n)
}

// closeAudit closes the log once the server no longer serves.
func (n *Node) closeAudit() {
	if n.audit != nil {
		_ = n.audit.Close()
	}
}

// AuditStats are the audit log's counters (ok false with the log off).
func (n *Node) AuditStats() (audit.Stats, bool) {
	if n.audit == nil {
		return audit.Stats{}, false
	}
	return n.audit.Stats(), true
}
