package actor

import "maps"

// InstanceArgs returns the args each simple_one_for_one instance of sup
// was started with (the template's merged with the extra args of its
// start_child), by the instance's id ("<template id>-<n>"), as the
// supervisor last published them. Cluster snapshots record them so that a
// restore can start the instances again. A supervisor that is not
// simple_one_for_one has no instances: the map is empty.
func (rt *Runtime) InstanceArgs(sup PID) (map[string]map[string]string, error) {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, c := range p.sup.snapshot().children.all() {
		if c.dynamic {
			out[c.spec.id] = maps.Clone(c.spec.args)
		}
	}
	return out, nil
}
