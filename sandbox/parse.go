package sandbox

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/fielderr"
)

// file is a policy file as written: every field optional (nil: the
// default), durations as Go duration strings ("5000ms", "1s").
//
//	name             = "exp-a"
//	isolation        = "strict"         # strict | moderate | permissive
//	response         = "kill_process"   # kill_process | terminate_sandbox | log
//	monitor_interval = "5000ms"
//	trace  { messages = true  states = true }
//	limits {
//	  max_memory_bytes = 104857600      # bytes
//	  max_processes = 50  cpu_percent = 25  max_file_handles = 20
//	  message_deadline = "1s"  max_messages_per_second = 1000  max_mailbox = 1000
//	}
//	allow  { names = ["svc"]  trees = ["db"] }
//
// JSON has the same fields, blocks as objects.
type file struct {
	Name            *string     `json:"name" hcl:"name,optional"`
	Isolation       *string     `json:"isolation" hcl:"isolation,optional"`
	Response        *string     `json:"response" hcl:"response,optional"`
	MonitorInterval *string     `json:"monitor_interval" hcl:"monitor_interval,optional"`
	Trace           *traceFile  `json:"trace" hcl:"trace,block"`
	Limits          *limitsFile `json:"limits" hcl:"limits,block"`
	Allow           *allowFile  `json:"allow" hcl:"allow,block"`
}

type traceFile struct {
	Messages *bool `json:"messages" hcl:"messages,optional"`
	States   *bool `json:"states" hcl:"states,optional"`
	// HistorySamples: states kept per process (the seed's 100).
	HistorySamples *int `json:"history_samples" hcl:"history_samples,optional"`
}

type limitsFile struct {
	MaxMemoryBytes       *int64  `json:"max_memory_bytes" hcl:"max_memory_bytes,optional"`
	MaxProcesses         *int    `json:"max_processes" hcl:"max_processes,optional"`
	CPUPercent           *int    `json:"cpu_percent" hcl:"cpu_percent,optional"`
	MessageDeadline      *string `json:"message_deadline" hcl:"message_deadline,optional"`
	MaxMessagesPerSecond *int    `json:"max_messages_per_second" hcl:"max_messages_per_second,optional"`
	MaxMailbox           *int    `json:"max_mailbox" hcl:"max_mailbox,optional"`
	MaxFileHandles       *int    `json:"max_file_handles" hcl:"max_file_handles,optional"`
}

type allowFile struct {
	Names []string `json:"names" hcl:"names,optional"`
	Trees []string `json:"trees" hcl:"trees,optional"`
}

// Parse reads a policy file, HCL or JSON (by the extension .hcl or .json,
// else JSON when the first non-blank byte is '{'), fills omitted fields
// with Defaults and validates the result. Errors wrap ErrTooLarge,
// ErrSyntax or ErrInvalid; the last two are *fielderr.Error values with
// each problem at its field path (HCL syntax problems at their position).
func Parse(data []byte, filename string) (Policy, error) {
	if len(data) > MaxPolicyBytes {
		return Policy{}, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(data), MaxPolicyBytes)
	}
	var f file
	var err error
	if isJSON(data, filename) {
		err = parseJSON(data, &f)
	} else {
		err = parseHCL(data, filename, &f)
	}
	if err != nil {
		return Policy{}, err
	}
	p, err := f.policy()
	if err != nil {
		return Policy{}, err
	}
	return p, p.Validate()
}

func isJSON(data []byte, filename string) bool {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".json":
		return true
	case ".hcl":
		return false
	}
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '{'
}

func parseJSON(data []byte, f *file) error { return decodeStrict(data, f) }

func parseHCL(data []byte, filename string, f *file) error {
	hf, diags := hclsyntax.ParseConfig(data, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return reportHCL(nil, diags)
	}
	body, _ := hf.Body.(*hclsyntax.Body)
	if diags := gohcl.DecodeBody(hf.Body, nil, f); diags.HasErrors() {
		return reportHCL(body, diags)
	}
	return nil
}

// hclPath names the attribute (as "block.attr") whose range holds r, or
// else gives r's position.
func hclPath(body *hclsyntax.Body, r hcl.Range) string {
	in := func(x hcl.Range) bool { return x.ContainsOffset(r.Start.Byte) }
	if body != nil {
		for name, a := range body.Attributes {
			if in(a.SrcRange) {
				return name
			}
		}
		for _, b := range body.Blocks {
			for name, a := range b.Body.Attributes {
				if in(a.SrcRange) {
					return b.Type + "." + name
				}
			}
		}
	}
	return r.String()
}

// policy lays the file over Defaults; durations that do not parse are
// reported at their path.
func (f file) policy() (Policy, error) {
	p := Defaults()
	var ps fielderr.List
	dur := func(path string, s *string, dst *time.Duration) {
		if s == nil {
			return
		}
		d, err := time.ParseDuration(*s)
		if err != nil {
			ps.Add(ErrInvalid, path, "%q is not a duration such as \"5000ms\" or \"1s\"", *s)
			return
		}
		*dst = d
	}
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	if f.Name != nil {
		p.Name = *f.Name
	}
	if f.Isolation != nil {
		p.Isolation = actor.Isolation(*f.Isolation)
	}
	if f.Response != nil {
		p.Response = actor.Response(*f.Response)
	}
	dur("monitor_interval", f.MonitorInterval, &p.MonitorInterval)
	if t := f.Trace; t != nil {
		if t.Messages != nil {
			p.Trace.Messages = *t.Messages
		}
		if t.States != nil {
			p.Trace.States = *t.States
		}
		set(&p.Trace.HistorySamples, t.HistorySamples)
	}
	if l := f.Limits; l != nil {
		if l.MaxMemoryBytes != nil {
			p.Limits.MaxMemoryBytes = *l.MaxMemoryBytes
		}
		set(&p.Limits.MaxProcesses, l.MaxProcesses)
		set(&p.Limits.CPUPercent, l.CPUPercent)
		set(&p.Limits.MaxMessagesPerSecond, l.MaxMessagesPerSecond)
		set(&p.Limits.MaxMailbox, l.MaxMailbox)
		set(&p.Limits.MaxFileHandles, l.MaxFileHandles)
		dur("limits.message_deadline", l.MessageDeadline, &p.Limits.MessageDeadline)
	}
	if a := f.Allow; a != nil {
		p.Allow.Names = a.Names
		p.Allow.Trees = a.Trees
	}
	return p, ps.Err(ErrInvalid)
}
