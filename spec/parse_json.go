package spec

import (
	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/internal/strictjson"
)

var (
	treeJSONFields  = []string{"name", "node", "strategy", "max_restarts", "max_seconds", "auto_shutdown", "children"}
	childJSONFields = []string{"id", "type", "behavior", "module", "args", "name", "restart", "significant", "shutdown", "strategy", "max_restarts", "max_seconds", "auto_shutdown", "children"}
)

func treeFromJSON(r fielderr.Reporter, v *strictjson.Value) *Tree {
	t := &Tree{}
	if v.Kind != strictjson.Object {
		r.Report("", "expected a JSON object, got %s", v.Kind)
		return t
	}
	var in intensityInput
	strictjson.Fields(r, v, "", treeJSONFields, func(key, path string, val *strictjson.Value) {
		switch key {
		case "name":
			t.Name = strictjson.Str(r, path, val)
		case "node":
			t.Node = strictjson.Str(r, path, val)
		default:
			supervisorFieldFromJSON(r, &t.SupervisorSpec, &in, key, path, val)
		}
	})
	in.apply(r, "", &t.SupervisorSpec, true)
	return t
}

func childFromJSON(r fielderr.Reporter, path string, v *strictjson.Value) ChildSpec {
	var c ChildSpec
	if v.Kind != strictjson.Object {
		r.Report(path, "expected a JSON object, got %s", v.Kind)
		return c
	}
	var in intensityInput
	strictjson.Fields(r, v, path, childJSONFields, func(key, fp string, val *strictjson.Value) {
		switch key {
		case "id":
			c.ID = strictjson.Str(r, fp, val)
		case "type":
			c.Type = ChildType(strictjson.Str(r, fp, val))
		case "behavior":
			c.Behavior = strictjson.Str(r, fp, val)
		case "module":
			c.Module = strictjson.Str(r, fp, val)
		case "args":
			c.Args = strictjson.StringMap(r, fp, val)
		case "name":
			c.Name = strictjson.Str(r, fp, val)
		case "restart":
			c.Restart = Restart(strictjson.Str(r, fp, val))
		case "significant":
			c.Significant = jsonBool(r, fp, val)
		case "shutdown":
			// A number is read as its text, as HCL converts one: 0 is
			// OTP's shutdown 0; any other number lacks a unit and is
			// refused by Validate.
			if val.Kind == strictjson.Number {
				c.Shutdown = val.Text
			} else {
				c.Shutdown = strictjson.Str(r, fp, val)
			}
		default:
			supervisorFieldFromJSON(r, &c.SupervisorSpec, &in, key, fp, val)
		}
	})
	in.apply(r, path, &c.SupervisorSpec, c.Type == Supervisor)
	return c
}

func supervisorFieldFromJSON(r fielderr.Reporter, s *SupervisorSpec, in *intensityInput, key, path string, val *strictjson.Value) {
	switch key {
	case "strategy":
		s.Strategy = Strategy(strictjson.Str(r, path, val))
	case "max_restarts":
		s.MaxRestarts = strictjson.Int(r, path, val)
		in.restarts = true
	case "max_seconds":
		s.MaxSeconds = strictjson.Int(r, path, val)
		in.seconds = true
	case "auto_shutdown":
		s.AutoShutdown = AutoShutdown(strictjson.Str(r, path, val))
	case "children":
		if val.Kind != strictjson.Array {
			r.Report(path, "expected an array, got %s", val.Kind)
			return
		}
		s.Children = make([]ChildSpec, len(val.Vals))
		for i, e := range val.Vals {
			s.Children[i] = childFromJSON(r, fielderr.Index(path, i), e)
		}
	}
}

// intensityInput records which intensity fields a file spelled out, so that
// a supervisor's missing one gets its default here rather than both being
// read as "not given" by Normalize: a file saying max_restarts = 0 alone
// means no restarts (in 5 seconds), not OTP's default of 1. A spelled-out
// max_seconds = 0 is refused, never read as 5: OTP's period is a positive
// integer. Worker children are left alone: their intensity fields must
// stay zero (Validate says so), and the canonical JSON of a worker spells
// them out as zeros.
type intensityInput struct{ restarts, seconds bool }

func (in intensityInput) apply(r fielderr.Reporter, path string, s *SupervisorSpec, supervisor bool) {
	if !supervisor {
		return
	}
	if in.seconds && s.MaxSeconds == 0 {
		r.List.Add(ErrBadValue, fielderr.Join(path, "max_seconds"),
			"0 is out of range 1..%d: the restart intensity period is a positive number of seconds (leave max_seconds out for the default %d)",
			MaxIntensitySeconds, DefaultMaxSeconds)
		return
	}
	switch {
	case in.restarts && !in.seconds && s.MaxRestarts == 0:
		s.MaxSeconds = DefaultMaxSeconds
	case in.seconds && !in.restarts:
		s.MaxRestarts = DefaultMaxRestarts
	}
}

// jsonBool reads a boolean (significant).
func jsonBool(r fielderr.Reporter, path string, v *strictjson.Value) bool {
	if v.Kind != strictjson.Boolean {
		r.Report(path, "expected a boolean, got %s", v.Kind)
		return false
	}
	return v.Bool
}
