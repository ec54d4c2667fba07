package wasmbin

import "slices"

// ValType is a value type's encoding.
type ValType byte

const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
)

// FuncType is a function signature.
type FuncType struct{ Params, Results []ValType }

// Import is an imported function.
type Import struct {
	Module, Name string
	Type         FuncType
}

// Func is a defined function; Body is its instructions without the final
// end (Encode adds it).
type Func struct {
	Type   FuncType
	Locals []ValType
	Body   []byte
}

// Export kinds.
const (
	KindFunc   byte = 0
	KindMemory byte = 2
)

// Export names a function (by index in the function space: imports first)
// or the memory.
type Export struct {
	Name  string
	Kind  byte
	Index uint32
}

// Limits is a memory's size in 64 KiB pages.
type Limits struct {
	Min    uint32
	Max    uint32
	HasMax bool
}

// Data is an active data segment for memory 0.
type Data struct {
	Offset uint32
	Bytes  []byte
}

// Module is a module to encode; sections come out in the order the
// specification requires.
type Module struct {
	Imports []Import
	Funcs   []Func
	Memory  *Limits
	// ImportMemory, when set, imports the memory from that module/name
	// instead of defining it.
	ImportMemory *[2]string
	Globals      []Global
	Exports      []Export
	Start        *uint32
	Data         []Data
	Customs      []Custom
}

// Global is a global with a constant initial value.
type Global struct {
	Type    ValType
	Mutable bool
	Init    int64
}

// Custom is a custom section to append.
type Custom struct {
	Name string
	Data []byte
}

// Encode returns the binary.
func (m *Module) Encode() []byte {
	var types []FuncType
	typeIdx := func(t FuncType) uint64 {
		for i, u := range types {
			if slices.Equal(u.Params, t.Params) && slices.Equal(u.Results, t.Results) {
				return uint64(i)
			}
		}
		types = append(types, t)
		return uint64(len(types) - 1)
	}
	var imports, funcs []byte
	for _, im := range m.Imports {
		imports = appendName(imports, im.Module)
		imports = appendName(imports, im.Name)
		imports = append(imports, 0x00)
		imports = AppendULEB(imports, typeIdx(im.Type))
	}
	nImports := len(m.Imports)
	if m.ImportMemory != nil {
		imports = appendName(imports, m.ImportMemory[0])
		imports = appendName(imports, m.ImportMemory[1])
		imports = append(imports, 0x02)
		imports = appendLimits(imports, m.Memory)
		nImports++
	}
	for _, f := range m.Funcs {
		funcs = AppendULEB(funcs, typeIdx(f.Type))
	}
	var typeSec []byte
	for _, t := range types {
		typeSec = append(typeSec, 0x60)
		typeSec = appendValTypes(typeSec, t.Params)
		typeSec = appendValTypes(typeSec, t.Results)
	}

	out := slices.Concat(Magic, Version)
	out = appendSection(out, IDType, len(types), typeSec)
	out = appendSection(out, IDImport, nImports, imports)
	out = appendSection(out, IDFunction, len(m.Funcs), funcs)
	if m.Memory != nil && m.ImportMemory == nil {
		out = appendSection(out, IDMemory, 1, appendLimits(nil, m.Memory))
	}
	var globals []byte
	for _, g := range m.Globals {
		mut := byte(0)
		if g.Mutable {
			mut = 1
		}
		globals = append(globals, byte(g.Type), mut)
		if g.Type == I64 {
			globals = append(globals, 0x42)
		} else {
			globals = append(globals, 0x41)
		}
		globals = AppendSLEB(globals, g.Init)
		globals = append(globals, 0x0b)
	}
	out = appendSection(out, IDGlobal, len(m.Globals), globals)
	var exports []byte
	for _, e := range m.Exports {
		exports = appendName(exports, e.Name)
		exports = append(exports, e.Kind)
		exports = AppendULEB(exports, uint64(e.Index))
	}
	out = appendSection(out, IDExport, len(m.Exports), exports)
	if m.Start != nil {
		out = append(out, IDStart)
		s := AppendULEB(nil, uint64(*m.Start))
		out = AppendULEB(out, uint64(len(s)))
		out = append(out, s...)
	}
	var code []byte
	for _, f := range m.Funcs {
		var body []byte
		body = AppendULEB(body, uint64(len(f.Locals)))
		for _, l := range f.Locals {
			body = append(body, 1, byte(l))
		}
		body = append(body, f.Body...)
		body = append(body, 0x0b)
		code = AppendULEB(code, uint64(len(body)))
		code = append(code, body...)
	}
	out = appendSection(out, IDCode, len(m.Funcs), code)
	var data []byte
	for _, d := range m.Data {
		data = append(data, 0x00, 0x41)
		data = AppendSLEB(data, int64(int32(d.Offset)))
		data = append(data, 0x0b)
		data = AppendULEB(data, uint64(len(d.Bytes)))
		data = append(data, d.Bytes...)
	}
	out = appendSection(out, IDData, len(m.Data), data)
	for _, c := range m.Customs {
		out = AppendCustom(out, c.Name, c.Data)
	}
	return out
}

func appendSection(out []byte, id byte, count int, body []byte) []byte {
	if count == 0 {
		return out
	}
	payload := AppendULEB(nil, uint64(count))
	payload = append(payload, body...)
	out = append(out, id)
	out = AppendULEB(out, uint64(len(payload)))
	return append(out, payload...)
}

func appendValTypes(b []byte, vs []ValType) []byte {
	b = AppendULEB(b, uint64(len(vs)))
	for _, v := range vs {
		b = append(b, byte(v))
	}
	return b
}

func appendLimits(b []byte, l *Limits) []byte {
	if l.HasMax {
		b = append(b, 0x01)
		b = AppendULEB(b, uint64(l.Min))
		return AppendULEB(b, uint64(l.Max))
	}
	b = append(b, 0x00)
	return AppendULEB(b, uint64(l.Min))
}
