package wasmbin

import (
	"errors"
	"testing"
)

func TestReadBuildRoundTrip(t *testing.T) {
	start := uint32(1)
	m := &Module{
		Imports: []Import{{Module: "steward", Name: "log", Type: FuncType{Params: []ValType{I32, I32, I32}}}},
		Funcs:   []Func{{Type: FuncType{}}},
		Memory:  &Limits{Min: 1, Max: 2, HasMax: true},
		Exports: []Export{{Name: "memory", Kind: KindMemory}},
		Start:   &start,
		Customs: []Custom{{Name: "steward.manifest", Data: []byte("{}")}},
	}
	bin := m.Encode()
	secs, err := Read(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !Has(secs, IDStart) || Has(secs, IDData) {
		t.Fatal("sections")
	}
	if d := CustomData(secs, "steward.manifest"); len(d) != 1 || string(d[0]) != "{}" {
		t.Fatalf("custom %q", d)
	}
	ims, err := Imports(secs)
	if err != nil || len(ims) != 1 || ims[0] != (ImportEntry{Module: "steward", Name: "log", Kind: ImportFunc}) {
		t.Fatalf("imports %v %v", ims, err)
	}
	more := AppendCustom(bin, "x", []byte("y"))
	secs, _ = Read(more)
	if d := CustomData(secs, "x"); len(d) != 1 || string(d[0]) != "y" {
		t.Fatal("appended section")
	}
	for _, bad := range [][]byte{nil, []byte("\x00asm"), append([]byte("\x00asx"), Version...), append(append([]byte{}, Magic...), 2, 0, 0, 0),
		append(append(append([]byte{}, Magic...), Version...), 1, 0xff), append(append(append([]byte{}, Magic...), Version...), 1, 5, 0)} {
		if _, err := Read(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestLEB(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1<<32 - 1} {
		got, n, err := uleb32(AppendULEB(nil, v))
		if err != nil || uint64(got) != v || n != len(AppendULEB(nil, v)) {
			t.Errorf("%d: %d %d %v", v, got, n, err)
		}
	}
	if _, _, err := uleb32(AppendULEB(nil, 1<<33)); err == nil {
		t.Error("33 bits accepted")
	}
}
