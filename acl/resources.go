package acl

import (
	"strings"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/spec"
)

// Need is one permission a request needs: read or write on resource's
// Name, or, when Under is set, on every name that starts with Name (a
// list, a prefix delete, or a request over every node).
type Need struct {
	Resource string
	Name     string
	Write    bool
	Under    bool
}

func (n Need) String() string {
	op := "read"
	if n.Write {
		op = "write"
	}
	switch {
	case !prefixResources[n.Resource]:
		return n.Resource + " " + op
	case n.Under && n.Name == "":
		return n.Resource + " " + op + " on every name"
	case n.Under:
		return n.Resource + " " + op + " on every name under \"" + n.Name + "\""
	}
	return n.Resource + " " + op + " on \"" + n.Name + "\""
}

// Lookup answers what a request does not say: the node that runs a tree.
type Lookup interface {
	// LocalNode is the name of the node answering.
	LocalNode() string
	// TreeNode is the node a tree is placed on, "" if unknown here.
	TreeNode(tree string) string
}

// Needs lists the permissions a request of method needs. The method's
// resource and read/write come from MethodAccess; the names from the
// request: the kv key, the tree, the node running the process (its PID's
// node, the node given, or the tree's), the sandbox. What a request does
// not pin to one name (every node, every tree, a file that does not
// parse) needs the permission on every name. nil for a method that needs
// nothing.
func Needs(fullMethod string, req any, l Lookup) []Need {
	res, write, known := MethodAccess(fullMethod)
	if !known || res == ResourceNone {
		return nil
	}
	one := func(name string) []Need { return []Need{{Resource: res, Name: name, Write: write}} }
	all := []Need{{Resource: res, Write: write, Under: true}}
	onNode := func(node string) []Need {
		if node == "" {
			return all
		}
		return one(node)
	}
	switch r := req.(type) {
	// kv
	case *pb.KVPutRequest:
		return one(r.Key)
	case *pb.KVGetRequest:
		return one(r.Key)
	case *pb.KVDeleteRequest:
		if r.Prefix {
			return []Need{{Resource: res, Name: r.Key, Write: true, Under: true}}
		}
		return one(r.Key)
	case *pb.KVListRequest:
		return []Need{{Resource: res, Name: r.Prefix, Write: false, Under: true}}

	// node-local views
	case *pb.MembersRequest, *pb.NodesRequest:
		if res == ResourceNode {
			return all
		}
	case *pb.NodeHealthRequest:
		if r.Node == "" {
			return one(l.LocalNode())
		}
		return one(r.Node)

	// processes, by node
	case *pb.ProcessRequest:
		return onNode(refNode(r.Ref, l))
	case *pb.KillRequest:
		return onNode(refNode(r.Ref, l))
	case *pb.SendRequest:
		return onNode(refNode(r.Ref, l))
	case *pb.SupervisorRequest:
		return onNode(supervisorNode(r, l))
	case *pb.ChildSpecRequest:
		return onNode(supervisorNode(r.Supervisor, l))
	case *pb.ListProcessesRequest:
		return onNode(r.Node)
	case *pb.EventsRequest:
		return onNode(r.Node)
	case *pb.StatsRequest:
		if r.Node == "" {
			return one(l.LocalNode())
		}
		return one(r.Node)
	case *pb.SetTracingRequest:
		return onNode(l.TreeNode(r.Tree))

	// trees
	case *pb.ApplyTreeRequest:
		t, err := spec.Parse(r.Spec, r.Filename)
		if err != nil || t.Name == "" {
			return all
		}
		return one(t.Name)
	case *pb.DeleteTreeRequest:
		return one(r.Name)
	case *pb.SetStrategyRequest:
		return one(r.Tree)
	case *pb.ListTreesRequest:
		if r.Name != "" {
			return one(r.Name)
		}
		return all

	// sandboxes (and experiments, by their sandboxes)
	case *pb.CreateSandboxRequest:
		d, err := sandbox.ParseDefinition(r.File, r.Filename)
		if err != nil || d.Name == "" {
			return all
		}
		return one(d.Name)
	case *pb.GetSandboxRequest:
		return one(r.Name)
	case *pb.DestroySandboxRequest:
		return one(r.Name)
	case *pb.SandboxLiveRequest:
		return one(r.Name)
	case *pb.CreateExperimentRequest:
		e, err := sandbox.ParseExperiment(r.File, r.Filename)
		if err != nil || len(e.Sandboxes) == 0 {
			return all
		}
		var out []Need
		for _, d := range e.Sandboxes {
			if d.Name == "" {
				return all
			}
			out = append(out, Need{Resource: res, Name: d.Name, Write: write})
		}
		return out
	}
	if prefixResources[res] {
		// A request of a named resource that names nothing: every name.
		return all
	}
	return one("")
}

// refNode is the node of a process reference: the node given, the PID's
// node ("node/seq"), or the node of the tree it names.
func refNode(ref *pb.ProcessRef, l Lookup) string {
	if ref == nil {
		return ""
	}
	if ref.Node != "" {
		return ref.Node
	}
	if i := strings.LastIndexByte(ref.Pid, '/'); i > 0 {
		return ref.Pid[:i]
	}
	if ref.Tree != "" {
		return l.TreeNode(ref.Tree)
	}
	return ""
}

func supervisorNode(r *pb.SupervisorRequest, l Lookup) string {
	if r == nil {
		return ""
	}
	if r.Node != "" {
		return r.Node
	}
	return l.TreeNode(r.Tree)
}
