package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// identityFile records which node and which cluster a data dir belongs to.
const identityFile = "node-identity.json"

type identity struct {
	NodeName  string `json:"node_name"`
	ClusterID string `json:"cluster_id,omitempty"`
}

// prepareDataDir creates the data dir if needed, checks that it is
// writable, and that it belongs to this node. It returns the recorded
// identity (ClusterID empty for a fresh dir).
func prepareDataDir(dir, name string) (identity, error) {
	if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o750); err != nil {
		return identity{}, fmt.Errorf("data-dir %s: cannot create: %w", dir, err)
	}
	probe := filepath.Join(dir, ".write-test")
	if err := os.WriteFile(probe, []byte("ok"), 0o600); err != nil {
		return identity{}, fmt.Errorf("data-dir %s: not writable: %w", dir, err)
	}
	_ = os.Remove(probe)

	path := filepath.Join(dir, identityFile)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		id := identity{NodeName: name}
		return id, writeIdentity(dir, id)
	case err != nil:
		return identity{}, fmt.Errorf("data-dir %s: read %s: %w", dir, identityFile, err)
	}
	var id identity
	if err := json.Unmarshal(data, &id); err != nil {
		return identity{}, fmt.Errorf("data-dir %s: %s is corrupt: %w", dir, identityFile, err)
	}
	if id.NodeName != name {
		return identity{}, fmt.Errorf("%w: data-dir %s belongs to node %q, not %q; start with --name %s or use another data dir",
			ErrDataDirOwner, dir, id.NodeName, name, id.NodeName)
	}
	return id, nil
}

func writeIdentity(dir string, id identity) error {
	data, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, identityFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("data-dir %s: write identity: %w", dir, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, identityFile)); err != nil {
		return fmt.Errorf("data-dir %s: write identity: %w", dir, err)
	}
	return nil
}
