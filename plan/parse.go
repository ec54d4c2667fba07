package plan

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/steward/steward/internal/nesting"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

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
	paramsJSONFields      = []string{"message", "strategy", "reason", "child", "args", "child_id", "state", "name"}
)

func parseJSONPlan(data []byte) (*Plan, error) {
	if err := checkJSONNesting(data); err != nil {
		return nil, err
	}
	v, err := parseJSONValue(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	var ps problems
	p := &Plan{}
	if v.Kind != jsonObject {
		ps.add(ErrSyntax, "", "expected a JSON object, got %s", v.Kind)
		return nil, ps.err(ErrSyntax)
	}
	jsonFields(&ps, v, "", planJSONFields, func(key, path string, val *jsonValue) {
		switch key {
		case "safety_level":
			p.SafetyLevel = SafetyLevel(jsonStr(&ps, path, val))
		case "timeout":
			p.Timeout = jsonStr(&ps, path, val)
		case "group":
			p.Group = jsonStr(&ps, path, val)
		case "constraints":
			p.Constraints = constraintsFromJSON(&ps, path, val)
		case "operations":
			if val.Kind != jsonArray {
				ps.add(ErrSyntax, path, "expected an array, got %s", val.Kind)
				return
			}
			if len(val.Vals) > MaxOperations {
				ps.add(ErrLimit, path, "%d operations, more than the limit of %d", len(val.Vals), MaxOperations)
				return
			}
			p.Operations = make([]Operation, len(val.Vals))
			for i, e := range val.Vals {
				p.Operations[i] = operationFromJSON(&ps, indexPath(path, i), e)
			}
		}
	})
	if err := ps.err(ErrSyntax); err != nil {
		return nil, err
	}
	return p, nil
}

func jsonObjectAt(ps *problems, path string, v *jsonValue) bool {
	if v.Kind != jsonObject {
		ps.add(ErrSyntax, path, "expected an object, got %s", v.Kind)
		return false
	}
	return true
}

func constraintsFromJSON(ps *problems, path string, v *jsonValue) Constraints {
	var c Constraints
	if !jsonObjectAt(ps, path, v) {
		return c
	}
	jsonFields(ps, v, path, constraintsJSONFields, func(key, fp string, val *jsonValue) {
		switch key {
		case "max_parallel":
			c.MaxParallel = jsonInt(ps, fp, val)
		case "max_memory_bytes":
			c.MaxMemoryBytes = jsonInt64(ps, fp, val)
		case "max_process_count":
			c.MaxProcessCount = jsonInt(ps, fp, val)
		case "max_total_queue_length":
			c.MaxTotalQueueLength = jsonInt(ps, fp, val)
		case "window":
			if !jsonObjectAt(ps, fp, val) {
				return
			}
			w := &Window{}
			jsonFields(ps, val, fp, windowJSONFields, func(key, wp string, tv *jsonValue) {
				t := parseTime(ps, wp, jsonStr(ps, wp, tv))
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

func parseTime(ps *problems, path, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		ps.add(ErrSyntax, path, "%q is not an RFC 3339 time", s)
		return time.Time{}
	}
	return t.UTC()
}

func operationFromJSON(ps *problems, path string, v *jsonValue) Operation {
	var op Operation
	if !jsonObjectAt(ps, path, v) {
		return op
	}
	jsonFields(ps, v, path, operationJSONFields, func(key, fp string, val *jsonValue) {
		switch key {
		case "id":
			op.ID = jsonStr(ps, fp, val)
		case "type":
			op.Type = OpType(jsonStr(ps, fp, val))
		case "node":
			op.Node = jsonStr(ps, fp, val)
		case "target":
			if !jsonObjectAt(ps, fp, val) {
				return
			}
			jsonFields(ps, val, fp, targetJSONFields, func(key, tp string, tv *jsonValue) {
				s := jsonStr(ps, tp, tv)
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
			op.Params = paramsFromJSON(ps, fp, val)
		case "depends_on":
			if val.Kind != jsonArray {
				ps.add(ErrSyntax, fp, "expected an array of strings, got %s", val.Kind)
				return
			}
			for i, e := range val.Vals {
				op.DependsOn = append(op.DependsOn, jsonStr(ps, indexPath(fp, i), e))
			}
		}
	})
	return op
}

func paramsFromJSON(ps *problems, path string, v *jsonValue) Params {
	var p Params
	if !jsonObjectAt(ps, path, v) {
		return p
	}
	jsonFields(ps, v, path, paramsJSONFields, func(key, fp string, val *jsonValue) {
		switch key {
		case "message":
			p.Message = jsonStr(ps, fp, val)
		case "strategy":
			p.Strategy = spec.Strategy(jsonStr(ps, fp, val))
		case "reason":
			p.Reason = jsonStr(ps, fp, val)
		case "child_id":
			p.ChildID = jsonStr(ps, fp, val)
		case "state":
			p.State = jsonStr(ps, fp, val)
		case "name":
			p.Name = jsonStr(ps, fp, val)
		case "args":
			p.Args = jsonStringMap(ps, fp, val)
		case "child":
			var b bytes.Buffer
			val.Encode(&b)
			c, err := spec.ParseChildJSON(b.Bytes())
			mergeSpecErr(ps, fp, err)
			p.Child = &c
		}
	})
	return p
}

// mergeSpecErr adds the problems of a spec error under path, as kind.
func mergeSpecErr(ps *problems, path string, err error) {
	if err == nil {
		return
	}
	var se *spec.Error
	if !errors.As(err, &se) {
		ps.add(ErrSyntax, path, "%v", err)
		return
	}
	kind := ErrSyntax
	if errors.Is(err, spec.ErrInvalid) {
		kind = ErrBadValue
	}
	for _, p := range se.Problems {
		ps.add(kind, joinPath(path, p.Path), "%s", p.Message)
	}
	if se.Omitted > 0 {
		ps.add(kind, path, "and %d more problems", se.Omitted)
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
		Attributes: []hcl.AttributeSchema{{Name: "message"}, {Name: "strategy"}, {Name: "reason"}, {Name: "args"}, {Name: "child_id"}, {Name: "state"}, {Name: "name"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "child", LabelNames: []string{"id"}}},
	}
)

func parseHCLPlan(data []byte, filename string) (*Plan, error) {
	if err := checkHCLNesting(data, filename); err != nil {
		return nil, err
	}
	f, diags := hclsyntax.ParseConfig(data, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%w: %s", ErrSyntax, diags.Error())
	}
	var ps problems
	p := &Plan{}
	content, diags := f.Body.Content(planHCLSchema)
	addDiags(&ps, "", diags)
	for _, a := range sortedAttrs(content.Attributes) {
		switch a.Name {
		case "safety_level":
			hclDecode(&ps, a.Name, a, (*string)(&p.SafetyLevel))
		case "timeout":
			hclDecode(&ps, a.Name, a, &p.Timeout)
		case "group":
			hclDecode(&ps, a.Name, a, &p.Group)
		}
	}
	seenConstraints := false
	for _, b := range content.Blocks {
		switch b.Type {
		case "constraints":
			if seenConstraints {
				ps.add(ErrSyntax, "constraints", "%s: only one constraints block is allowed", b.DefRange)
				continue
			}
			seenConstraints = true
			p.Constraints = constraintsFromHCL(&ps, "constraints", b)
		case "operation":
			if len(p.Operations) == MaxOperations {
				ps.add(ErrLimit, "operations", "more than the limit of %d operations", MaxOperations)
				return nil, ps.err(ErrSyntax)
			}
			p.Operations = append(p.Operations, operationFromHCL(&ps, indexPath("operations", len(p.Operations)), b))
		}
	}
	if err := ps.err(ErrSyntax); err != nil {
		return nil, err
	}
	return p, nil
}

func constraintsFromHCL(ps *problems, path string, b *hcl.Block) Constraints {
	var c Constraints
	content, diags := b.Body.Content(constraintsHCLSchema)
	addDiags(ps, path, diags)
	for _, a := range sortedAttrs(content.Attributes) {
		fp := joinPath(path, a.Name)
		switch a.Name {
		case "max_parallel":
			hclDecode(ps, fp, a, &c.MaxParallel)
		case "max_memory_bytes":
			hclDecode(ps, fp, a, &c.MaxMemoryBytes)
		case "max_process_count":
			hclDecode(ps, fp, a, &c.MaxProcessCount)
		case "max_total_queue_length":
			hclDecode(ps, fp, a, &c.MaxTotalQueueLength)
		}
	}
	for i, wb := range content.Blocks {
		wp := joinPath(path, "window")
		if i > 0 {
			ps.add(ErrSyntax, wp, "%s: only one window block is allowed", wb.DefRange)
			continue
		}
		wc, diags := wb.Body.Content(windowHCLSchema)
		addDiags(ps, wp, diags)
		w := &Window{}
		for _, a := range sortedAttrs(wc.Attributes) {
			fp := joinPath(wp, a.Name)
			var s string
			hclDecode(ps, fp, a, &s)
			t := parseTime(ps, fp, s)
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

func operationFromHCL(ps *problems, path string, b *hcl.Block) Operation {
	op := Operation{ID: b.Labels[0]}
	content, diags := b.Body.Content(operationHCLSchema)
	addDiags(ps, path, diags)
	for _, a := range sortedAttrs(content.Attributes) {
		fp := joinPath(path, a.Name)
		switch a.Name {
		case "type":
			hclDecode(ps, fp, a, (*string)(&op.Type))
		case "node":
			hclDecode(ps, fp, a, &op.Node)
		case "depends_on":
			hclDecode(ps, fp, a, &op.DependsOn)
		}
	}
	seen := map[string]bool{}
	for _, blk := range content.Blocks {
		fp := joinPath(path, blk.Type)
		if seen[blk.Type] {
			ps.add(ErrSyntax, fp, "%s: only one %s block is allowed", blk.DefRange, blk.Type)
			continue
		}
		seen[blk.Type] = true
		switch blk.Type {
		case "target":
			tc, diags := blk.Body.Content(targetHCLSchema)
			addDiags(ps, fp, diags)
			for _, a := range sortedAttrs(tc.Attributes) {
				ap := joinPath(fp, a.Name)
				switch a.Name {
				case "supervisor":
					hclDecode(ps, ap, a, &op.Target.Supervisor)
				case "child_id":
					hclDecode(ps, ap, a, &op.Target.ChildID)
				case "name":
					hclDecode(ps, ap, a, &op.Target.Name)
				case "pid":
					hclDecode(ps, ap, a, &op.Target.PID)
				}
			}
		case "params":
			op.Params = paramsFromHCL(ps, fp, blk)
		}
	}
	return op
}

func paramsFromHCL(ps *problems, path string, b *hcl.Block) Params {
	var p Params
	content, diags := b.Body.Content(paramsHCLSchema)
	addDiags(ps, path, diags)
	for _, a := range sortedAttrs(content.Attributes) {
		fp := joinPath(path, a.Name)
		switch a.Name {
		case "message":
			hclDecode(ps, fp, a, &p.Message)
		case "strategy":
			hclDecode(ps, fp, a, (*string)(&p.Strategy))
		case "reason":
			hclDecode(ps, fp, a, &p.Reason)
		case "args":
			hclDecode(ps, fp, a, &p.Args)
		case "child_id":
			hclDecode(ps, fp, a, &p.ChildID)
		case "state":
			hclDecode(ps, fp, a, &p.State)
		case "name":
			hclDecode(ps, fp, a, &p.Name)
		}
	}
	for i, cb := range content.Blocks {
		fp := joinPath(path, "child")
		if i > 0 {
			ps.add(ErrSyntax, fp, "%s: only one child block is allowed", cb.DefRange)
			continue
		}
		c, err := spec.DecodeChildHCL(cb)
		mergeSpecErr(ps, fp, err)
		p.Child = &c
	}
	return p
}

func hclDecode(ps *problems, path string, a *hcl.Attribute, target any) {
	addDiags(ps, path, gohcl.DecodeExpression(a.Expr, nil, target))
}

func addDiags(ps *problems, path string, diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			msg = d.Subject.String() + ": " + msg
		}
		ps.add(ErrSyntax, path, "%s", msg)
	}
}

// sortedAttrs returns attributes in document order.
func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Range.Start.Byte < out[j-1].Range.Start.Byte; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// checkJSONNesting refuses JSON nested deeper than maxNesting brackets
// before any recursive decoding starts.
func checkJSONNesting(data []byte) error {
	if err := nesting.JSON(data, maxNesting); err != nil {
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return nil
}

// checkHCLNesting is checkJSONNesting for HCL.
func checkHCLNesting(data []byte, filename string) error {
	if err := nesting.HCL(data, filename, maxNesting); err != nil {
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return nil
}
