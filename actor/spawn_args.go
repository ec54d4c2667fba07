package actor

import "maps"

// SpawnArgs returns the args a live local process was spawned with
// (SpawnOptions.Args; nil for none). Cluster snapshots record them for
// unsupervised processes so that a restore can spawn them again alike.
func (rt *Runtime) SpawnArgs(pid PID) (map[string]string, error) {
	p, err := rt.local(pid)
	if err != nil {
		return nil, err
	}
	return maps.Clone(p.args), nil
}
