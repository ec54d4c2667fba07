package plan

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/internal/hcldoc"
	"github.com/steward/steward/internal/strictjson"
	"github.com/steward/steward/spec"
)

// Parse reads a plan from an HCL or JSON file (see the package
// documentation for both forms); the format comes from spec.DetectFormat.
// The plan is returned as written: call Validate or Build next. Errors wrap
// ErrTooLarge or ErrSyntax; an ErrSyntax error is an *Error when the
// problems could be placed at field paths.
func Parse(data []byte, filename string) (*Plan, error) {
	if len(data) > MaxPlanBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrTooLarge, len(data), MaxPlanBytes)
	}
	if spec.DetectFormat(data, filename) == spec.FormatJSON {
		return parseJSONPlan(data)
	}
	return parseHCLPlan(data, filename)
}

// ---- JSON ----

var (
	planJSONFields        = []string{"safety_level", "timeout", "group", "constraints", "operations"}
	constraintsJSONFields = []string{"max_parallel", "max_memory_bytes", "max_process_count", "max_total_queue_length", "window"}
	windowJSONFields      = []string{"not_before", "not_after"}
	operationJSONFields   = []string{"id", "type", "node", "target", "params", "depends_on"}
	targetJSONFields      = []string{"supervisor", "child_id", "name", "pid"}
	paramsJSONFields      = []string{"message", "kind", "strategy", "reason", "child", "args", "child_id", "state", "name", "behavior", "states"}
)

func parseJSONPlan(data []byte) (*Plan, error) {
	v, err := strictjson.Parse(data, maxNesting)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	var ps fielderr.List
	r := fielderr.Reporter{List: &ps, Kind: ErrSyntax}
	p := &Plan{}
	if v.Kind != strictjson.Object {
		r.Report("", "expected a JSON object, got %s", v.Kind)
		return nil, ps.Err(ErrSyntax)
	}
	strictjson.Fields(r, v, "", planJSONFields, func(key, path string, val *strictjson.Value) {
		switch key {
		case "safety_level":
			p.SafetyLevel = SafetyLevel(strictjson.Str(r, path, val))
		case "timeout":
			p.Timeout = strictjson.Str(r, path, val)
		case "group":
			p.Group = strictjson.Str(r, path, val)
		case "constraints":
			p.Constraints = constraintsFromJSON(r, path, val)
		case "operations":
			if val.Kind != strictjson.Array {
				r.Report(path, "expected an array, got %s", val.Kind)
				return
			}
			if len(val.Vals) > MaxOperations {
				ps.Add(ErrLimit, path, "%d operations, more than the limit of %d", len(val.Vals), MaxOperations)
				return
			}
			p.Operations = make([]Operation, len(val.Vals))
			for i, e := range val.Vals {
				p.Operations[i] = operationFromJSON(r, fielderr.Index(path, i), e)
			}
		}
	})
	if err := ps.Err(ErrSyntax); err != nil {
		return nil, err
	}
	return p, nil
}

func jsonObjectAt(r fielderr.Reporter, path string, v *strictjson.Value) bool {
	if v.Kind != strictjson.Object {
		r.Report(path, "expected an object, got %s", v.Kind)
		return false
	}
	return true
}

func constraintsFromJSON(r fielderr.Reporter, path string, v *strictjson.Value) Constraints {
	var c Constraints
	if !jsonObjectAt(r, path, v) {
		return c
	}
	strictjson.Fields(r, v, path, constraintsJSONFields, func(key, fp string, val *strictjson.Value) {
		switch key {
		case "max_parallel":
			c.MaxParallel = strictjson.Int(r, fp, val)
		case "max_memory_bytes":
			c.MaxMemoryBytes = strictjson.Int64(r, fp, val)
		case "max_process_count":
			c.MaxProcessCount = strictjson.Int(r, fp, val)
		case "max_total_queue_length":
			c.MaxTotalQueueLength = strictjson.Int(r, fp, val)
		case "window":
			if !jsonObjectAt(r, fp, val) {
				return
			}
			w := &Window{}
			strictjson.Fields(r, val, fp, windowJSONFields, func(key, wp string, tv *strictjson.Value) {
				t := parseTime(r, wp, strictjson.Str(r, wp, tv))
				if key == "not_before" {
					w.NotBefore = t
				} else {
					w.NotAfter = t
				}
			})
			c.Window = w
		}
	})
	return c
}

func parseTime(r fielderr.Reporter, path, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		r.Report(path, "%q is not an RFC 3339 time", s)
		return time.Time{}
	}
	return t.UTC()
}

func operationFromJSON(r fielderr.Reporter, path string, v *strictjson.Value) Operation {
	var op Operation
	if !jsonObjectAt(r, path, v) {
		return op
	}
	strictjson.Fields(r, v, path, operationJSONFields, func(key, fp string, val *strictjson.Value) {
		switch key {
		case "id":
			op.ID = strictjson.Str(r, fp, val)
		case "type":
			op.Type = OpType(strictjson.Str(r, fp, val))
		case "node":
			op.Node = strictjson.Str(r, fp, val)
		case "target":
			if !jsonObjectAt(r, fp, val) {
				return
			}
			strictjson.Fields(r, val, fp, targetJSONFields, func(key, tp string, tv *strictjson.Value) {
				s := strictjson.Str(r, tp, tv)
				switch key {
				case "supervisor":
					op.Target.Supervisor = s
				case "child_id":
					op.Target.ChildID = s
				case "name":
					op.Target.Name = s
				case "pid":
					op.Target.PID = s
				}
			})
		case "params":
			op.Params = paramsFromJSON(r, fp, val)
		case "depends_on":
			if val.Kind != strictjson.Array {
				r.Report(fp, "expected an array of strings, got %s", val.Kind)
				return
			}
			for i, e := range val.Vals {
				op.DependsOn = append(op.DependsOn, strictjson.Str(r, fielderr.Index(fp, i), e))
			}
		}
	})
	return op
}

func paramsFromJSON(r fielderr.Reporter, path string, v *strictjson.Value) Params {
	var p Params
	if !jsonObjectAt(r, path, v) {
		return p
	}
	strictjson.Fields(r, v, path, paramsJSONFields, func(key, fp string, val *strictjson.Value) {
		switch key {
		case "message":
			p.Message = strictjson.Str(r, fp, val)
		case "kind":
			p.Kind = strictjson.Str(r, fp, val)
		case "strategy":
			p.Strategy = spec.Strategy(strictjson.Str(r, fp, val))
		case "reason":
			p.Reason = strictjson.Str(r, fp, val)
		case "child_id":
			p.ChildID = strictjson.Str(r, fp, val)
		case "state":
			p.State = strictjson.Str(r, fp, val)
		case "name":
			p.Name = strictjson.Str(r, fp, val)
		case "behavior":
			p.Behavior = strictjson.Str(r, fp, val)
		case "args":
			p.Args = strictjson.StringMap(r, fp, val)
		case "states":
			p.States = statesFromJSON(r, fp, val)
		case "child":
			var b bytes.Buffer
			val.Encode(&b)
			c, err := spec.ParseChildJSON(b.Bytes())
			mergeSpecErr(r.List, fp, err)
			p.Child = &c
		}
	})
	return p
}

// mergeSpecErr adds the problems of a spec error under path: an invalid
// child's as ErrBadValue, any other as ErrSyntax.
func mergeSpecErr(ps *fielderr.List, path string, err error) {
	if err == nil {
		return
	}
	var se *spec.Error
	if !errors.As(err, &se) {
		ps.Add(ErrSyntax, path, "%v", err)
		return
	}
	kind := ErrSyntax
	if errors.Is(err, spec.ErrInvalid) {
		kind = ErrBadValue
	}
	for _, p := range se.Problems {
		ps.Add(kind, fielderr.Join(path, p.Path), "%s", p.Message)
	}
	if se.Omitted > 0 {
		ps.Add(kind, path, "and %d more problems", se.Omitted)
	}
}

// ---- HCL ----

var (
	planHCLSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "safety_level"}, {Name: "timeout"}, {Name: "group"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "constraints"},
			{Type: "operation", LabelNames: []string{"id"}},
		},
	}
	constraintsHCLSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "max_parallel"}, {Name: "max_memory_bytes"}, {Name: "max_process_count"}, {Name: "max_total_queue_length"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "window"}},
	}
	windowHCLSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "not_before"}, {Name: "not_after"}},
	}
	operationHCLSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "node"}, {Name: "depends_on"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "target"}, {Type: "params"}},
	}
	targetHCLSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "supervisor"}, {Name: "child_id"}, {Name: "name"}, {Name: "pid"}},
	}
	paramsHCLSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "message"}, {Name: "kind"}, {Name: "strategy"}, {Name: "reason"}, {Name: "args"}, {Name: "child_id"}, {Name: "state"}, {Name: "name"}, {Name: "behavior"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "child", LabelNames: []string{"id"}}},
	}
)

func parseHCLPlan(data []byte, filename string) (*Plan, error) {
	body, err := hcldoc.Parse(data, filename, maxNesting)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	var ps fielderr.List
	r := fielderr.Reporter{List: &ps, Kind: ErrSyntax}
	p := &Plan{}
	content := hcldoc.Content(r, "", body, planHCLSchema)
	for _, a := range hcldoc.Attrs(content.Attributes) {
		switch a.Name {
		case "safety_level":
			hcldoc.Decode(r, a.Name, a, (*string)(&p.SafetyLevel))
		case "timeout":
			hcldoc.Decode(r, a.Name, a, &p.Timeout)
		case "group":
			hcldoc.Decode(r, a.Name, a, &p.Group)
		}
	}
	seenConstraints := false
	for _, b := range content.Blocks {
		switch b.Type {
		case "constraints":
			if seenConstraints {
				r.Report("constraints", "%s: only one constraints block is allowed", b.DefRange)
				continue
			}
			seenConstraints = true
			p.Constraints = constraintsFromHCL(r, "constraints", b)
		case "operation":
			if len(p.Operations) == MaxOperations {
				ps.Add(ErrLimit, "operations", "more than the limit of %d operations", MaxOperations)
				return nil, ps.Err(ErrSyntax)
			}
			p.Operations = append(p.Operations, operationFromHCL(r, fielderr.Index("operations", len(p.Operations)), b))
		}
	}
	if err := ps.Err(ErrSyntax); err != nil {
		return nil, err
	}
	return p, nil
}

func constraintsFromHCL(r fielderr.Reporter, path string, b *hcl.Block) Constraints {
	var c Constraints
	content := hcldoc.Content(r, path, b.Body, constraintsHCLSchema)
	for _, a := range hcldoc.Attrs(content.Attributes) {
		fp := fielderr.Join(path, a.Name)
		switch a.Name {
		case "max_parallel":
			hcldoc.Decode(r, fp, a, &c.MaxParallel)
		case "max_memory_bytes":
			hcldoc.Decode(r, fp, a, &c.MaxMemoryBytes)
		case "max_process_count":
			hcldoc.Decode(r, fp, a, &c.MaxProcessCount)
		case "max_total_queue_length":
			hcldoc.Decode(r, fp, a, &c.MaxTotalQueueLength)
		}
	}
	for i, wb := range content.Blocks {
		wp := fielderr.Join(path, "window")
		if i > 0 {
			r.Report(wp, "%s: only one window block is allowed", wb.DefRange)
			continue
		}
		wc := hcldoc.Content(r, wp, wb.Body, windowHCLSchema)
		w := &Window{}
		for _, a := range hcldoc.Attrs(wc.Attributes) {
			fp := fielderr.Join(wp, a.Name)
			var s string
			hcldoc.Decode(r, fp, a, &s)
			t := parseTime(r, fp, s)
			if a.Name == "not_before" {
				w.NotBefore = t
			} else {
				w.NotAfter = t
			}
		}
		c.Window = w
	}
	return c
}

func operationFromHCL(r fielderr.Reporter, path string, b *hcl.Block) Operation {
	op := Operation{ID: b.Labels[0]}
	content := hcldoc.Content(r, path, b.Body, operationHCLSchema)
	for _, a := range hcldoc.Attrs(content.Attributes) {
		fp := fielderr.Join(path, a.Name)
		switch a.Name {
		case "type":
			hcldoc.Decode(r, fp, a, (*string)(&op.Type))
		case "node":
			hcldoc.Decode(r, fp, a, &op.Node)
		case "depends_on":
			hcldoc.Decode(r, fp, a, &op.DependsOn)
		}
	}
	seen := map[string]bool{}
	for _, blk := range content.Blocks {
		fp := fielderr.Join(path, blk.Type)
		if seen[blk.Type] {
			r.Report(fp, "%s: only one %s block is allowed", blk.DefRange, blk.Type)
			continue
		}
		seen[blk.Type] = true
		switch blk.Type {
		case "target":
			tc := hcldoc.Content(r, fp, blk.Body, targetHCLSchema)
			for _, a := range hcldoc.Attrs(tc.Attributes) {
				ap := fielderr.Join(fp, a.Name)
				switch a.Name {
				case "supervisor":
					hcldoc.Decode(r, ap, a, &op.Target.Supervisor)
				case "child_id":
					hcldoc.Decode(r, ap, a, &op.Target.ChildID)
				case "name":
					hcldoc.Decode(r, ap, a, &op.Target.Name)
				case "pid":
					hcldoc.Decode(r, ap, a, &op.Target.PID)
				}
			}
		case "params":
			op.Params = paramsFromHCL(r, fp, blk)
		}
	}
	return op
}

func paramsFromHCL(r fielderr.Reporter, path string, b *hcl.Block) Params {
	var p Params
	content := hcldoc.Content(r, path, b.Body, paramsHCLSchema)
	for _, a := range hcldoc.Attrs(content.Attributes) {
		fp := fielderr.Join(path, a.Name)
		switch a.Name {
		case "message":
			hcldoc.Decode(r, fp, a, &p.Message)
		case "kind":
			hcldoc.Decode(r, fp, a, &p.Kind)
		case "strategy":
			hcldoc.Decode(r, fp, a, (*string)(&p.Strategy))
		case "reason":
			hcldoc.Decode(r, fp, a, &p.Reason)
		case "args":
			hcldoc.Decode(r, fp, a, &p.Args)
		case "child_id":
			hcldoc.Decode(r, fp, a, &p.ChildID)
		case "state":
			hcldoc.Decode(r, fp, a, &p.State)
		case "name":
			hcldoc.Decode(r, fp, a, &p.Name)
		case "behavior":
			hcldoc.Decode(r, fp, a, &p.Behavior)
		}
	}
	for i, cb := range content.Blocks {
		fp := fielderr.Join(path, "child")
		if i > 0 {
			r.Report(fp, "%s: only one child block is allowed", cb.DefRange)
			continue
		}
		c, err := spec.DecodeChildHCL(cb)
		mergeSpecErr(r.List, fp, err)
		p.Child = &c
	}
	return p
}
