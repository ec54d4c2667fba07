package wasmbin

import "fmt"

// MemoryMin returns the declared minimum (64 KiB pages) of the module's
// memory, defined in the memory section or imported; ok is false when the
// module has none. A module with several memories gives the largest
// minimum.
func MemoryMin(sections []Section) (min uint32, ok bool, err error) {
	for _, s := range sections {
		switch s.ID {
		case IDMemory:
			r := reader{b: s.Data}
			n := r.u32()
			for i := uint32(0); i < n && r.err == nil; i++ {
				m := r.memLimits()
				if r.err == nil {
					min, ok = max(min, m), true
				}
			}
			if r.err != nil {
				return 0, false, fmt.Errorf("%w: memory section: %w", ErrMalformed, r.err)
			}
		case IDImport:
			r := reader{b: s.Data}
			n := r.u32()
			for i := uint32(0); i < n && r.err == nil; i++ {
				r.name()
				r.name()
				switch kind := r.byte(); kind {
				case ImportFunc:
					r.u32()
				case ImportTable:
					r.byte()
					r.limits()
				case ImportMemory:
					m := r.memLimits()
					if r.err == nil {
						min, ok = max(min, m), true
					}
				case ImportGlobal:
					r.byte()
					r.byte()
				case ImportTag:
					r.byte()
					r.u32()
				default:
					r.fail(fmt.Errorf("import %d: unknown kind %d", i, kind))
				}
			}
			if r.err != nil {
				return 0, false, fmt.Errorf("%w: import section: %w", ErrMalformed, r.err)
			}
		}
	}
	return min, ok, nil
}

// memLimits reads a memory's limits and returns its minimum.
func (r *reader) memLimits() uint32 {
	flags := r.byte()
	if flags&^0x03 != 0 {
		r.fail(fmt.Errorf("memory limits flags %#x: only 32-bit memories are read", flags))
		return 0
	}
	min := r.u32()
	if flags&1 != 0 {
		r.u32()
	}
	return min
}
