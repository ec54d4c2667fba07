package node

import "errors"

var (
	// ErrDataDirOwner: the data dir was created by a node with another name.
	ErrDataDirOwner = errors.New("data dir belongs to another node")
	// ErrOtherCluster: a peer or the data dir belongs to another cluster.
	ErrOtherCluster = errors.New("belongs to another cluster")
	// ErrNameConflict: another live member uses this node's name.
	ErrNameConflict = errors.New("node name already in use")
	// ErrJoin: none of the join addresses could be reached.
	ErrJoin = errors.New("join failed")
)
