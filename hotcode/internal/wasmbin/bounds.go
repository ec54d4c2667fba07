package wasmbin

import (
	"errors"
	"fmt"
)

// Limits on what a module declares, checked by CheckBounds before wazero
// decodes it.
const (
	// MaxFunctionLocals is the most locals one function may declare
	// (V8's and SpiderMonkey's limit).
	MaxFunctionLocals = 50_000
	// MaxModuleLocals is the most locals all the functions of a module
	// may declare together.
	MaxModuleLocals = 1 << 22
)

// CheckBounds checks the sizes a module declares against the bytes that
// hold them, before wazero decodes it: wazero's decoder allocates every
// vector at its declared length before reading its elements (a type
// with 2^28 parameters in a 100-byte module allocates gigabytes; a code
// section may declare 2^32 locals in a few bytes), so a hostile binary
// could exhaust the node's memory while being refused. Every vector's
// length must fit in the bytes left in its section (each element takes
// at least one), every byte vector and name in the bytes left, a
// function's locals at most MaxFunctionLocals and the module's at most
// MaxModuleLocals. It reads the sections the way the WebAssembly 2.0
// binary format lays them out; where it meets what it does not know (an
// unknown opcode in a constant expression, an unknown flag), it stops
// checking that section and leaves the refusal to wazero, which stops
// there too: what came before was checked.
func CheckBounds(sections []Section) error {
	var locals uint64
	for _, s := range sections {
		c := &bounds{r: reader{b: s.Data}}
		switch s.ID {
		case IDType:
			c.vec(c.funcType)
		case IDImport:
			c.vec(c.importEntry)
		case IDFunction:
			c.vec(func() { c.r.u32() })
		case IDTable:
			c.vec(c.tableType)
		case IDMemory:
			c.vec(c.limits)
		case IDGlobal:
			c.vec(func() { c.valType(); c.r.byte(); c.expr() })
		case IDExport:
			c.vec(func() { c.name(); c.r.byte(); c.r.u32() })
		case IDElement:
			c.vec(c.element)
		case IDCode:
			c.locals = &locals
			c.vec(c.code)
		case IDData:
			c.vec(c.data)
		case idTag:
			c.vec(func() { c.r.byte(); c.r.u32() })
		case IDCustom:
			if s.Name == "name" {
				c.nameSection()
			}
		}
		if c.err != nil {
			return fmt.Errorf("%w: %s section at offset %d: %w", ErrMalformed, sectionName(s.ID), s.Offset, c.err)
		}
	}
	return nil
}

// idTag is the exception handling proposal's tag section.
const idTag byte = 13

func sectionName(id byte) string {
	names := []string{"custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "data count", "tag"}
	if int(id) < len(names) {
		return names[id]
	}
	return fmt.Sprintf("id %d", id)
}

// errStop ends the checking of a section without refusing it: what
// follows is not something this reader knows, and wazero refuses it.
var errStop = errors.New("stop")

// bounds reads one section. err is a refusal; the reader's own error
// (truncated input, a bad LEB128) only stops the reading, as wazero
// refuses that too.
type bounds struct {
	r      reader
	err    error
	locals *uint64 // the module's locals so far (code section)
}

func (c *bounds) ok() bool { return c.err == nil && c.r.err == nil }

func (c *bounds) refuse(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
	c.r.fail(errStop)
}

// count reads a vector length and checks that that many elements of at
// least one byte each fit in what is left.
func (c *bounds) count(what string) uint32 {
	n := c.r.u32()
	if c.ok() && uint64(n) > uint64(len(c.r.b)) {
		c.refuse("%s: %d declared, only %d bytes left", what, n, len(c.r.b))
	}
	return n
}

func (c *bounds) vec(elem func()) {
	n := c.count("vector length")
	for i := uint32(0); i < n && c.ok(); i++ {
		elem()
	}
}

// skip reads a length and skips that many bytes.
func (c *bounds) skip(what string) {
	n := c.count(what)
	if c.ok() {
		c.r.b = c.r.b[n:]
	}
}

func (c *bounds) name() { c.skip("name length") }

func (c *bounds) valType() {
	switch c.r.byte() {
	case 0x63, 0x64: // (ref null ht), (ref ht)
		c.s33()
	}
}

// s33 skips a signed LEB128 of at most 33 bits (a heap type).
func (c *bounds) s33() {
	for i := 0; i < 5 && c.ok(); i++ {
		if c.r.byte()&0x80 == 0 {
			return
		}
	}
	c.r.fail(errStop)
}

// sleb skips a signed LEB128 of at most 64 bits.
func (c *bounds) sleb() {
	for i := 0; i < 10 && c.ok(); i++ {
		if c.r.byte()&0x80 == 0 {
			return
		}
	}
	c.r.fail(errStop)
}

func (c *bounds) funcType() {
	if c.r.byte() != 0x60 {
		c.r.fail(errStop)
		return
	}
	for _, what := range []string{"parameters", "results"} {
		n := c.count(what)
		for i := uint32(0); i < n && c.ok(); i++ {
			c.valType()
		}
	}
}

func (c *bounds) limits() {
	flags := c.r.byte()
	c.sleb() // min (u32 or, memory64, u64: an unsigned LEB128 skips alike)
	if flags&1 != 0 {
		c.sleb()
	}
}

func (c *bounds) tableType() {
	c.valType()
	c.limits()
}

func (c *bounds) importEntry() {
	c.name()
	c.name()
	switch c.r.byte() {
	case ImportFunc:
		c.r.u32()
	case ImportTable:
		c.tableType()
	case ImportMemory:
		c.limits()
	case ImportGlobal:
		c.valType()
		c.r.byte()
	case ImportTag:
		c.r.byte()
		c.r.u32()
	default:
		c.r.fail(errStop)
	}
}

// expr skips a constant expression up to its end opcode.
func (c *bounds) expr() {
	for c.ok() {
		switch op := c.r.byte(); op {
		case 0x0b: // end
			return
		case 0x41, 0x42: // i32.const, i64.const
			c.sleb()
		case 0x43: // f32.const
			c.bytes(4)
		case 0x44: // f64.const
			c.bytes(8)
		case 0x23, 0xd2: // global.get, ref.func
			c.r.u32()
		case 0xd0: // ref.null
			c.s33()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant arithmetic
		case 0xfd: // v128.const
			if c.r.u32() != 12 {
				c.r.fail(errStop)
				return
			}
			c.bytes(16)
		default:
			c.r.fail(errStop)
		}
	}
}

func (c *bounds) bytes(n int) {
	if len(c.r.b) < n {
		c.r.fail(errStop)
		return
	}
	c.r.b = c.r.b[n:]
}

func (c *bounds) element() {
	flags := c.r.u32()
	if !c.ok() || flags > 7 {
		c.r.fail(errStop)
		return
	}
	if flags&2 != 0 && flags&1 == 0 { // an explicit table index
		c.r.u32()
	}
	if flags&1 == 0 { // active: an offset
		c.expr()
	}
	if flags&3 != 0 { // an element kind or a reference type
		if flags&4 != 0 {
			c.valType()
		} else {
			c.r.byte()
		}
	}
	if flags&4 != 0 {
		c.vec(c.expr)
	} else {
		c.vec(func() { c.r.u32() })
	}
}

func (c *bounds) code() {
	size := c.count("function body size")
	if !c.ok() {
		return
	}
	body := &bounds{r: reader{b: c.r.b[:size]}}
	c.r.b = c.r.b[size:]
	groups := body.count("local declarations")
	var n uint64
	for i := uint32(0); i < groups && body.ok(); i++ {
		n += uint64(body.r.u32())
		body.valType()
		if n > MaxFunctionLocals {
			body.refuse("a function declares %d locals or more, over the limit of %d", n, MaxFunctionLocals)
		}
	}
	*c.locals += n
	if body.err == nil && *c.locals > MaxModuleLocals {
		body.refuse("the functions declare %d locals or more, over the module's limit of %d", *c.locals, MaxModuleLocals)
	}
	if body.err != nil {
		c.refuse("%w", body.err)
	}
}

func (c *bounds) data() {
	switch c.r.u32() {
	case 0:
		c.expr()
	case 1:
	case 2:
		c.r.u32()
		c.expr()
	default:
		c.r.fail(errStop)
		return
	}
	c.skip("data bytes")
}

// nameSection checks the "name" custom section, which wazero decodes:
// subsection 0 the module name, 1 function names, 2 local names.
func (c *bounds) nameSection() {
	for len(c.r.b) > 0 && c.ok() {
		id := c.r.byte()
		size := c.count("name subsection size")
		if !c.ok() {
			return
		}
		sub := &bounds{r: reader{b: c.r.b[:size]}}
		c.r.b = c.r.b[size:]
		nameMap := func() { sub.vec(func() { sub.r.u32(); sub.name() }) }
		switch id {
		case 0:
			sub.name()
		case 1:
			nameMap()
		case 2:
			sub.vec(func() { sub.r.u32(); nameMap() })
		}
		if sub.err != nil {
			c.refuse("%w", sub.err)
		}
	}
}
