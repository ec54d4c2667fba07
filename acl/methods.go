package acl

// Resources a policy grants access to. A gRPC method needs read or write on
// one of them (MethodAccess); the name the rule is matched against (a kv
// key, a tree, a node, ...) comes from the request.
const (
	// ResourceKV is the key/value store, matched by key prefix.
	ResourceKV = "kv"
	// ResourceTree is a supervision tree's desired spec, by tree name.
	ResourceTree = "tree"
	// ResourceProcess is the live runtime of a node (processes, supervisors,
	// events), by node name: a process lives on a node.
	ResourceProcess = "process"
	// ResourcePlan is coordinated operation plans.
	ResourcePlan = "plan"
	// ResourceSnapshot is cluster snapshots (captured runtimes).
	ResourceSnapshot = "snapshot"
	// ResourceModule is WebAssembly modules, their trusted keys and the
	// code checkpoints that record module versions.
	ResourceModule = "module"
	// ResourceDeployment is phased module rollouts.
	ResourceDeployment = "deployment"
	// ResourceSandbox is sandboxes and experiments, by sandbox name.
	ResourceSandbox = "sandbox"
	// ResourceNode is node-local views (status, members, health), by node
	// name.
	ResourceNode = "node"
	// ResourceOperator is cluster operations: Raft peers, leadership,
	// health thresholds, backup and restore, the gossip keyring.
	ResourceOperator = "operator"
	// ResourceACL is the ACL system itself (policies and tokens): write is
	// management.
	ResourceACL = "acl"
	// ResourceNone marks a method that needs no token: the node-to-node
	// Internal service (authenticated by certificate role), gRPC health and
	// reflection.
	ResourceNone = ""
)

type access struct {
	resource string
	write    bool
}

func r(res string) access { return access{res, false} }
func w(res string) access { return access{res, true} }

// methods maps every gRPC method a node serves to the access it needs.
// TestMethodTableCoversServer fails when a registered method is missing.
var methods = map[string]access{
	// KV
	"/steward.v1.KV/Put":    w(ResourceKV),
	"/steward.v1.KV/Get":    r(ResourceKV),
	"/steward.v1.KV/Delete": w(ResourceKV),
	"/steward.v1.KV/List":   r(ResourceKV),

	// Cluster
	// Status needs no token, as Consul's /v1/status endpoints: peers
	// read it to bootstrap before any token exists.
	"/steward.v1.Cluster/Status":         r(ResourceNone),
	"/steward.v1.Cluster/Members":        r(ResourceNode),
	"/steward.v1.Cluster/Nodes":          r(ResourceNode),
	"/steward.v1.Cluster/RaftPeers":      r(ResourceOperator),
	"/steward.v1.Cluster/TransferLeader": w(ResourceOperator),
	"/steward.v1.Cluster/RemovePeer":     w(ResourceOperator),
	"/steward.v1.Cluster/Leave":          w(ResourceOperator),

	// Checkpoints record module versions: module access.
	"/steward.v1.Checkpoints/Create":   w(ResourceModule),
	"/steward.v1.Checkpoints/List":     r(ResourceModule),
	"/steward.v1.Checkpoints/Inspect":  r(ResourceModule),
	"/steward.v1.Checkpoints/Delete":   w(ResourceModule),
	"/steward.v1.Checkpoints/Rollback": w(ResourceModule),

	// Coordination (plans)
	"/steward.v1.Coordination/DryRun": r(ResourcePlan),
	"/steward.v1.Coordination/Apply":  w(ResourcePlan),
	"/steward.v1.Coordination/List":   r(ResourcePlan),
	"/steward.v1.Coordination/Get":    r(ResourcePlan),
	"/steward.v1.Coordination/Watch":  r(ResourcePlan),
	"/steward.v1.Coordination/Cancel": w(ResourcePlan),

	// Deployments
	"/steward.v1.Deployments/Submit":  w(ResourceDeployment),
	"/steward.v1.Deployments/Get":     r(ResourceDeployment),
	"/steward.v1.Deployments/List":    r(ResourceDeployment),
	"/steward.v1.Deployments/Watch":   r(ResourceDeployment),
	"/steward.v1.Deployments/Control": w(ResourceDeployment),
	"/steward.v1.Deployments/Verify":  r(ResourceDeployment),

	// Health
	"/steward.v1.Health/Validate":      r(ResourceTree),
	"/steward.v1.Health/GetThresholds": r(ResourceOperator),
	"/steward.v1.Health/SetThresholds": w(ResourceOperator),
	"/steward.v1.Health/NodeHealth":    r(ResourceNode),

	// Modules
	"/steward.v1.Modules/Push":        w(ResourceModule),
	"/steward.v1.Modules/List":        r(ResourceModule),
	"/steward.v1.Modules/History":     r(ResourceModule),
	"/steward.v1.Modules/Inspect":     r(ResourceModule),
	"/steward.v1.Modules/Delete":      w(ResourceModule),
	"/steward.v1.Modules/TrustAdd":    w(ResourceModule),
	"/steward.v1.Modules/TrustList":   r(ResourceModule),
	"/steward.v1.Modules/TrustRemove": w(ResourceModule),

	// Operator: a backup holds the whole replicated state (ACL tables
	// included), so it needs operator write like a restore (Consul: a
	// snapshot save needs management).
	"/steward.v1.Operator/Backup":  w(ResourceOperator),
	"/steward.v1.Operator/Restore": w(ResourceOperator),

	// Runtime: process access on the node that runs the process.
	"/steward.v1.Runtime/ListProcesses":     r(ResourceProcess),
	"/steward.v1.Runtime/GetProcess":        r(ResourceProcess),
	"/steward.v1.Runtime/GetState":          r(ResourceProcess),
	"/steward.v1.Runtime/Kill":              w(ResourceProcess),
	"/steward.v1.Runtime/Send":              w(ResourceProcess),
	"/steward.v1.Runtime/Suspend":           w(ResourceProcess),
	"/steward.v1.Runtime/Resume":            w(ResourceProcess),
	"/steward.v1.Runtime/RestartSupervisor": w(ResourceProcess),
	"/steward.v1.Runtime/TreeView":          r(ResourceProcess),
	"/steward.v1.Runtime/Events":            r(ResourceProcess),
	"/steward.v1.Runtime/SetTracing":        w(ResourceProcess),
	"/steward.v1.Runtime/Flow":              r(ResourceProcess),
	"/steward.v1.Runtime/History":           r(ResourceProcess),
	"/steward.v1.Runtime/Stats":             r(ResourceProcess),
	"/steward.v1.Runtime/WhichChildren":     r(ResourceProcess),
	"/steward.v1.Runtime/CountChildren":     r(ResourceProcess),
	"/steward.v1.Runtime/GetChildSpec":      r(ResourceProcess),

	// Sandboxes and experiments
	"/steward.v1.Sandboxes/Create":       w(ResourceSandbox),
	"/steward.v1.Sandboxes/List":         r(ResourceSandbox),
	"/steward.v1.Sandboxes/Get":          r(ResourceSandbox),
	"/steward.v1.Sandboxes/Destroy":      w(ResourceSandbox),
	"/steward.v1.Sandboxes/Inspect":      r(ResourceSandbox),
	"/steward.v1.Sandboxes/Violations":   r(ResourceSandbox),
	"/steward.v1.Sandboxes/Interactions": r(ResourceSandbox),
	"/steward.v1.Sandboxes/Trace":        r(ResourceSandbox),
	"/steward.v1.Sandboxes/Verify":       r(ResourceSandbox),
	"/steward.v1.Experiments/Create":     w(ResourceSandbox),
	"/steward.v1.Experiments/List":       r(ResourceSandbox),
	"/steward.v1.Experiments/Status":     r(ResourceSandbox),
	"/steward.v1.Experiments/Watch":      r(ResourceSandbox),
	"/steward.v1.Experiments/Compare":    r(ResourceSandbox),
	"/steward.v1.Experiments/Destroy":    w(ResourceSandbox),

	// Snapshots
	"/steward.v1.Snapshots/Capture": w(ResourceSnapshot),
	"/steward.v1.Snapshots/List":    r(ResourceSnapshot),
	"/steward.v1.Snapshots/Get":     r(ResourceSnapshot),
	"/steward.v1.Snapshots/Delete":  w(ResourceSnapshot),
	"/steward.v1.Snapshots/Export":  r(ResourceSnapshot),
	"/steward.v1.Snapshots/Import":  w(ResourceSnapshot),
	"/steward.v1.Snapshots/Restore": w(ResourceSnapshot),

	// Supervision (desired tree specs)
	"/steward.v1.Supervision/ApplyTree":   w(ResourceTree),
	"/steward.v1.Supervision/DeleteTree":  w(ResourceTree),
	"/steward.v1.Supervision/ListTrees":   r(ResourceTree),
	"/steward.v1.Supervision/SetStrategy": w(ResourceTree),

	// Keyring (gossip encryption keys)
	"/steward.v1.Keyring/List":    r(ResourceOperator),
	"/steward.v1.Keyring/Install": w(ResourceOperator),
	"/steward.v1.Keyring/Use":     w(ResourceOperator),
	"/steward.v1.Keyring/Remove":  w(ResourceOperator),

	// Audit (the audit log, package audit)
	"/steward.v1.Audit/Read": r(ResourceOperator),

	// ACL management: read and write of the acl resource; only a
	// management token (or a policy with acl = "write") holds write.
	"/steward.v1.ACL/Bootstrap":    w(ResourceACL),
	"/steward.v1.ACL/PolicyUpsert": w(ResourceACL),
	"/steward.v1.ACL/PolicyDelete": w(ResourceACL),
	"/steward.v1.ACL/PolicyList":   r(ResourceACL),
	"/steward.v1.ACL/PolicyRead":   r(ResourceACL),
	"/steward.v1.ACL/TokenCreate":  w(ResourceACL),
	"/steward.v1.ACL/TokenDelete":  w(ResourceACL),
	"/steward.v1.ACL/TokenList":    r(ResourceACL),
	"/steward.v1.ACL/TokenRead":    r(ResourceACL),
	// TokenSelf reads the caller's own token: any valid token may.
	"/steward.v1.ACL/TokenSelf": r(ResourceNone),
}

// exemptServices need no ACL token: the node-to-node Internal service is
// authenticated by certificate role, health and reflection are public.
var exemptServices = []string{
	"/steward.v1.Internal/",
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// MethodAccess tells what a gRPC method (its full name,
// "/steward.v1.KV/Put") needs: read or write on resource. known is false
// for a method not in the table, which an enforcing node refuses (default
// deny). A method that needs no token (the Internal service, gRPC health,
// reflection) is known with resource ResourceNone and write false.
//
// Bootstrap is listed as acl write for the audit log's sake; the server
// lets an anonymous caller bootstrap once, since no token exists before it.
func MethodAccess(fullMethod string) (resource string, write bool, known bool) {
	if a, ok := methods[fullMethod]; ok {
		return a.resource, a.write, true
	}
	for _, p := range exemptServices {
		if len(fullMethod) > len(p) && fullMethod[:len(p)] == p {
			return ResourceNone, false, true
		}
	}
	return "", false, false
}
