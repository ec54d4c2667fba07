// Package wasmbin reads and writes the outer layer of a WebAssembly binary:
// the header and the section list. It decodes no section's contents except
// a custom section's name, which is what the validator needs beyond what
// wazero exposes (wazero does not say whether a module has a start
// section, and reads custom sections only when asked). Build is a small
// encoder for test modules.
package wasmbin

import (
	"bytes"
	"errors"
	"fmt"
)

// Section ids of the WebAssembly core specification (2.0).
const (
	IDCustom    byte = 0
	IDType      byte = 1
	IDImport    byte = 2
	IDFunction  byte = 3
	IDTable     byte = 4
	IDMemory    byte = 5
	IDGlobal    byte = 6
	IDExport    byte = 7
	IDStart     byte = 8
	IDElement   byte = 9
	IDCode      byte = 10
	IDData      byte = 11
	IDDataCount byte = 12
)

// Magic is the 4-byte preamble of every module; Version follows it.
var (
	Magic   = []byte{0x00, 'a', 's', 'm'}
	Version = []byte{0x01, 0x00, 0x00, 0x00}
)

// ErrMalformed wraps every reason Read refuses a binary.
var ErrMalformed = errors.New("malformed wasm binary")

// Section is one section of a module.
type Section struct {
	ID byte
	// Offset is where the section's id byte sits in the binary.
	Offset int
	// Name is a custom section's name ("" for the others).
	Name string
	// Data is the section's payload (for a custom section, what follows
	// its name). It aliases the binary.
	Data []byte
}

// Read checks the header and splits bin into its sections, in order.
func Read(bin []byte) ([]Section, error) {
	if len(bin) < 8 {
		return nil, fmt.Errorf("%w: %d bytes: shorter than the 8-byte header", ErrMalformed, len(bin))
	}
	if !bytes.Equal(bin[:4], Magic) {
		return nil, fmt.Errorf("%w: bad magic number % x (want 00 61 73 6d, \"\\0asm\")", ErrMalformed, bin[:4])
	}
	if !bytes.Equal(bin[4:8], Version) {
		return nil, fmt.Errorf("%w: binary format version % x (want 01 00 00 00)", ErrMalformed, bin[4:8])
	}
	var out []Section
	for off := 8; off < len(bin); {
		id := bin[off]
		size, n, err := uleb32(bin[off+1:])
		if err != nil {
			return nil, fmt.Errorf("%w: section id %d at offset %d: size: %w", ErrMalformed, id, off, err)
		}
		start := off + 1 + n
		if uint64(size) > uint64(len(bin)-start) {
			return nil, fmt.Errorf("%w: section id %d at offset %d: %d bytes declared, %d left", ErrMalformed, id, off, size, len(bin)-start)
		}
		s := Section{ID: id, Offset: off, Data: bin[start : start+int(size)]}
		if id == IDCustom {
			nl, k, err := uleb32(s.Data)
			if err != nil || uint64(nl) > uint64(len(s.Data)-k) {
				return nil, fmt.Errorf("%w: custom section at offset %d: bad name", ErrMalformed, off)
			}
			s.Name = string(s.Data[k : k+int(nl)])
			s.Data = s.Data[k+int(nl):]
		}
		out = append(out, s)
		off = start + int(size)
	}
	return out, nil
}

// CustomData returns the payloads of the custom sections named name, in order.
func CustomData(sections []Section, name string) [][]byte {
	var out [][]byte
	for _, s := range sections {
		if s.ID == IDCustom && s.Name == name {
			out = append(out, s.Data)
		}
	}
	return out
}

// Has reports whether a section with that id is present.
func Has(sections []Section, id byte) bool {
	for _, s := range sections {
		if s.ID == id {
			return true
		}
	}
	return false
}

// AppendCustom returns bin with a custom section named name appended (the
// specification allows custom sections anywhere).
func AppendCustom(bin []byte, name string, data []byte) []byte {
	payload := appendName(nil, name)
	payload = append(payload, data...)
	out := append(bytes.Clone(bin), IDCustom)
	out = AppendULEB(out, uint64(len(payload)))
	return append(out, payload...)
}

// uleb32 decodes an unsigned LEB128 value of at most 32 bits.
func uleb32(b []byte) (uint32, int, error) {
	var v uint64
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, errors.New("truncated LEB128")
		}
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if v > 0xffffffff {
				return 0, 0, errors.New("LEB128 over 32 bits")
			}
			return uint32(v), i + 1, nil
		}
	}
	return 0, 0, errors.New("LEB128 longer than 5 bytes")
}

// AppendULEB appends v as unsigned LEB128.
func AppendULEB(b []byte, v uint64) []byte {
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

// AppendSLEB appends v as signed LEB128.
func AppendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = AppendULEB(b, uint64(len(s)))
	return append(b, s...)
}

// Import kinds (the import descriptor's first byte).
const (
	ImportFunc   byte = 0
	ImportTable  byte = 1
	ImportMemory byte = 2
	ImportGlobal byte = 3
	ImportTag    byte = 4
)

// ImportEntry is one import of the import section.
type ImportEntry struct {
	Module, Name string
	Kind         byte
}

// Imports lists the import section's entries (wazero lists only imported
// functions and memories).
func Imports(sections []Section) ([]ImportEntry, error) {
	var data []byte
	for _, s := range sections {
		if s.ID == IDImport {
			data = s.Data
		}
	}
	if data == nil {
		return nil, nil
	}
	r := reader{b: data}
	n := r.u32()
	var out []ImportEntry
	for i := uint32(0); i < n && r.err == nil; i++ {
		e := ImportEntry{Module: r.name(), Name: r.name(), Kind: r.byte()}
		switch e.Kind {
		case ImportFunc:
			r.u32()
		case ImportTable:
			r.byte()
			r.limits()
		case ImportMemory:
			r.limits()
		case ImportGlobal:
			r.byte()
			r.byte()
		case ImportTag:
			r.byte()
			r.u32()
		default:
			r.fail(fmt.Errorf("import %d: unknown kind %d", i, e.Kind))
		}
		out = append(out, e)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: import section: %w", ErrMalformed, r.err)
	}
	return out, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail(errors.New("truncated"))
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u32() uint32 {
	v, n, err := uleb32(r.b)
	if err != nil {
		r.fail(err)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) name() string {
	n := r.u32()
	if uint64(n) > uint64(len(r.b)) {
		r.fail(errors.New("truncated name"))
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}
