package spec

var (
	treeJSONFields  = []string{"name", "node", "strategy", "max_restarts", "max_seconds", "children"}
	childJSONFields = []string{"id", "type", "behavior", "args", "name", "restart", "shutdown", "strategy", "max_restarts", "max_seconds", "children"}
)

func treeFromJSON(ps *problems, v *jsonValue) *Tree {
	t := &Tree{}
	if v.Kind != jsonObject {
		ps.add(ErrSyntax, "", "expected a JSON object, got %s", v.Kind)
		return t
	}
	var in intensityInput
	jsonFields(ps, v, "", treeJSONFields, func(key, path string, val *jsonValue) {
		switch key {
		case "name":
			t.Name = jsonStr(ps, path, val)
		case "node":
			t.Node = jsonStr(ps, path, val)
		default:
			supervisorFieldFromJSON(ps, &t.SupervisorSpec, &in, key, path, val)
		}
	})
	in.apply(&t.SupervisorSpec, true)
	return t
}

func childFromJSON(ps *problems, path string, v *jsonValue) ChildSpec {
	var c ChildSpec
	if v.Kind != jsonObject {
		ps.add(ErrSyntax, path, "expected a JSON object, got %s", v.Kind)
		return c
	}
	var in intensityInput
	jsonFields(ps, v, path, childJSONFields, func(key, fp string, val *jsonValue) {
		switch key {
		case "id":
			c.ID = jsonStr(ps, fp, val)
		case "type":
			c.Type = ChildType(jsonStr(ps, fp, val))
		case "behavior":
			c.Behavior = jsonStr(ps, fp, val)
		case "args":
			c.Args = jsonStringMap(ps, fp, val)
		case "name":
			c.Name = jsonStr(ps, fp, val)
		case "restart":
			c.Restart = Restart(jsonStr(ps, fp, val))
		case "shutdown":
			c.Shutdown = jsonStr(ps, fp, val)
		default:
			supervisorFieldFromJSON(ps, &c.SupervisorSpec, &in, key, fp, val)
		}
	})
	in.apply(&c.SupervisorSpec, c.Type == Supervisor)
	return c
}

func supervisorFieldFromJSON(ps *problems, s *SupervisorSpec, in *intensityInput, key, path string, val *jsonValue) {
	switch key {
	case "strategy":
		s.Strategy = Strategy(jsonStr(ps, path, val))
	case "max_restarts":
		s.MaxRestarts = jsonInt(ps, path, val)
		in.restarts = true
	case "max_seconds":
		s.MaxSeconds = jsonInt(ps, path, val)
		in.seconds = true
	case "children":
		if val.Kind != jsonArray {
			ps.add(ErrSyntax, path, "expected an array, got %s", val.Kind)
			return
		}
		s.Children = make([]ChildSpec, len(val.Vals))
		for i, e := range val.Vals {
			s.Children[i] = childFromJSON(ps, indexPath(path, "", i), e)
		}
	}
}

// intensityInput records which intensity fields a file spelled out, so that
// a supervisor's missing one gets its default here rather than both being
// read as "not given" by Normalize: a file saying max_restarts = 0 alone
// means no restarts (in 5 seconds), not OTP's default 3. A max_seconds of 0
// reads as not given, as in Normalize, so that encoding/json's output of a
// Tree (which spells out zeros) reads back as the same tree. Worker children
// are left alone: their intensity fields must stay zero.
type intensityInput struct{ restarts, seconds bool }

func (in intensityInput) apply(s *SupervisorSpec, supervisor bool) {
	if !supervisor {
		return
	}
	switch {
	case in.restarts && !in.seconds && s.MaxRestarts == 0:
		s.MaxSeconds = DefaultMaxSeconds
	case in.seconds && !in.restarts && s.MaxSeconds != 0:
		s.MaxRestarts = DefaultMaxRestarts
	}
}
