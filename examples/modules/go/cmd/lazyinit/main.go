// Command lazyinit makes a Go wasip1 reactor (go build -buildmode=c-shared)
// runnable as a steward module. Such a module must have its _initialize
// export called once before any other export (it starts the Go runtime
// and runs the package inits), and a steward host never calls it: module
// ABI 1 runs no code at instantiation and has no _initialize
// (docs/MODULES.md, "Exports"). So lazyinit rewrites the module:
//
//   - a new mutable i32 global, 0 at instantiation;
//   - for each of the ABI's exports (alloc, dealloc, init, handle_call,
//     handle_cast, handle_info, terminate, code_change, state_export,
//     state_import, health) a wrapper with the same type that calls
//     _initialize first when the global is 0 (setting it to 1), then the
//     original function with the same arguments; the export points at
//     the wrapper;
//   - _initialize is no longer exported (it must run only once).
//
// Nothing runs at instantiation still: the Go runtime starts on the
// instance's first callback (the host's first alloc). New functions and
// the global are appended, so no existing index moves.
//
//	go run ./cmd/lazyinit -o lazy.wasm reactor.wasm
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
)

var abi = map[string]bool{
	"alloc": true, "dealloc": true, "init": true, "handle_call": true, "handle_cast": true,
	"handle_info": true, "terminate": true, "code_change": true, "state_export": true,
	"state_import": true, "health": true,
}

const (
	secType     = 1
	secImport   = 2
	secFunction = 3
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secCode     = 10
)

func main() {
	out := flag.String("o", "", "the output module (required)")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: lazyinit -o OUT.wasm IN.wasm")
		os.Exit(2)
	}
	in, err := os.ReadFile(flag.Arg(0))
	if err == nil {
		var b []byte
		if b, err = rewrite(in); err == nil {
			err = os.WriteFile(*out, b, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lazyinit:", err)
		os.Exit(1)
	}
}

type section struct {
	id   byte
	data []byte
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errors.New("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errors.New("bad LEB128")
	return 0
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil || uint32(len(r.b)) < n {
		r.err = errors.New("truncated")
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) name() string { return string(r.bytes(r.u32())) }

func uleb(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// skipConstExpr skips an init expression up to its end (0x0b); Go emits
// only i32.const and i64.const ones.
func (r *reader) skipConstExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b:
			return
		case 0x41, 0x42: // i32.const, i64.const: a signed LEB128
			for r.byte()&0x80 != 0 && r.err == nil {
			}
		case 0x23: // global.get
			r.u32()
		default:
			r.err = fmt.Errorf("init expression opcode 0x%02x", op)
		}
	}
}

func rewrite(bin []byte) ([]byte, error) {
	if len(bin) < 8 || !bytes.Equal(bin[:8], []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a WebAssembly 1 module")
	}
	var secs []section
	r := &reader{b: bin[8:]}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		secs = append(secs, section{id, r.bytes(r.u32())})
	}
	if r.err != nil {
		return nil, r.err
	}
	find := func(id byte) *section {
		for i := range secs {
			if secs[i].id == id {
				return &secs[i]
			}
		}
		return nil
	}
	if find(secStart) != nil {
		return nil, errors.New("the module has a start section")
	}
	types, imports, funcs, globals, exports, code := find(secType), find(secImport), find(secFunction), find(secGlobal), find(secExport), find(secCode)
	if types == nil || funcs == nil || exports == nil || code == nil {
		return nil, errors.New("no type, function, export or code section")
	}

	// Parameter counts of each type (params only: any value type is one
	// local.get).
	tr := &reader{b: types.data}
	nparams := make([]uint32, tr.u32())
	for i := range nparams {
		if tr.byte() != 0x60 {
			return nil, errors.New("bad function type")
		}
		nparams[i] = tr.u32()
		tr.bytes(nparams[i])
		tr.bytes(tr.u32())
	}
	// Imported functions come first in the function index space.
	var nimportedFuncs, nimportedGlobals uint32
	if imports != nil {
		ir := &reader{b: imports.data}
		for n := ir.u32(); n > 0 && ir.err == nil; n-- {
			ir.name()
			ir.name()
			switch kind := ir.byte(); kind {
			case 0:
				ir.u32()
				nimportedFuncs++
			case 3:
				ir.byte()
				ir.byte()
				nimportedGlobals++
			default:
				return nil, fmt.Errorf("import kind %d", kind)
			}
		}
		if ir.err != nil {
			return nil, ir.err
		}
	}
	fr := &reader{b: funcs.data}
	funcTypes := make([]uint32, fr.u32())
	for i := range funcTypes {
		funcTypes[i] = fr.u32()
	}
	var nglobals uint32
	var globalEntries []byte
	if globals != nil {
		gr := &reader{b: globals.data}
		nglobals = gr.u32()
		globalEntries = gr.b
	}
	flag := nimportedGlobals + nglobals
	if tr.err != nil || fr.err != nil {
		return nil, errors.New("bad type or function section")
	}

	// Exports: find _initialize, wrap the ABI's.
	er := &reader{b: exports.data}
	type export struct {
		name string
		kind byte
		idx  uint32
	}
	var exps []export
	initialize := int64(-1)
	for n := er.u32(); n > 0 && er.err == nil; n-- {
		e := export{name: er.name(), kind: er.byte(), idx: er.u32()}
		if e.name == "_initialize" && e.kind == 0 {
			initialize = int64(e.idx)
			continue
		}
		exps = append(exps, e)
	}
	if er.err != nil {
		return nil, er.err
	}
	if initialize < 0 {
		return nil, errors.New("no _initialize export: build with -buildmode=c-shared")
	}
	next := nimportedFuncs + uint32(len(funcTypes))
	var newTypes, newBodies [][]byte
	for i, e := range exps {
		if e.kind != 0 || !abi[e.name] {
			continue
		}
		if e.idx < nimportedFuncs {
			return nil, fmt.Errorf("export %s is an import", e.name)
		}
		t := funcTypes[e.idx-nimportedFuncs]
		// (if (i32.eqz (global.get $flag))
		//   (then (global.set $flag (i32.const 1)) (call $_initialize)))
		// (call $orig (local.get 0) ... (local.get n-1))
		body := []byte{0x00} // no locals
		body = uleb(append(body, 0x23), flag)
		body = append(body, 0x45, 0x04, 0x40, 0x41, 0x01, 0x24)
		body = uleb(body, flag)
		body = uleb(append(body, 0x10), uint32(initialize))
		body = append(body, 0x0b)
		for p := uint32(0); p < nparams[t]; p++ {
			body = uleb(append(body, 0x20), p)
		}
		body = uleb(append(body, 0x10), e.idx)
		body = append(body, 0x0b)
		newTypes = append(newTypes, uleb(nil, t))
		newBodies = append(newBodies, uleb(nil, uint32(len(body))), body)
		exps[i].idx = next
		next++
	}
	if len(newTypes) == 0 {
		return nil, errors.New("no ABI export to wrap")
	}

	// Function section: the wrappers' types appended.
	fdata := uleb(nil, uint32(len(funcTypes)+len(newTypes)))
	fdata = append(fdata, funcs.data[len(uleb(nil, uint32(len(funcTypes)))):]...)
	for _, t := range newTypes {
		fdata = append(fdata, t...)
	}
	funcs.data = fdata
	// Code section: the wrappers' bodies appended.
	cr := &reader{b: code.data}
	ncode := cr.u32()
	if ncode != uint32(len(funcTypes)) || cr.err != nil {
		return nil, errors.New("code and function sections disagree")
	}
	cdata := uleb(nil, ncode+uint32(len(newTypes)))
	cdata = append(cdata, cr.b...)
	for _, b := range newBodies {
		cdata = append(cdata, b...)
	}
	code.data = cdata
	// Global section: the flag appended (mutable i32 = 0).
	gdata := uleb(nil, nglobals+1)
	gdata = append(gdata, globalEntries...)
	gdata = append(gdata, 0x7f, 0x01, 0x41, 0x00, 0x0b)
	if globals == nil {
		// sections are in id order: insert before the export section
		for i := range secs {
			if secs[i].id == secExport {
				secs = append(secs[:i], append([]section{{secGlobal, gdata}}, secs[i:]...)...)
				break
			}
		}
	} else {
		globals.data = gdata
	}
	exports = find(secExport)
	edata := uleb(nil, uint32(len(exps)))
	for _, e := range exps {
		edata = uleb(edata, uint32(len(e.name)))
		edata = append(edata, e.name...)
		edata = append(edata, e.kind)
		edata = uleb(edata, e.idx)
	}
	exports.data = edata

	out := append([]byte(nil), bin[:8]...)
	for _, s := range secs {
		out = append(out, s.id)
		out = uleb(out, uint32(len(s.data)))
		out = append(out, s.data...)
	}
	return out, nil
}
