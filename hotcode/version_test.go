package hotcode_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/steward/steward/hotcode"
)

func TestVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1", "2", -1}, {"2", "1", 1}, {"1.2", "1.2.0", 0}, {"1.10", "1.9", 1}, {"3", "3", 0}, {"0.1.2.3", "0.1.2.4", -1},
	} {
		got, err := hotcode.CompareVersions(tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("compare %s %s = %d %v, want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "v1", "1.", "01", "1.2.3.4.5", "1..2", "-1", "1.x"} {
		if _, err := hotcode.CompareVersions(bad, "1"); err == nil {
			t.Errorf("version %q accepted", bad)
		}
	}
	for _, tc := range []struct {
		rng, v string
		want   bool
	}{
		{"*", "7", true}, {"3", "3", true}, {"3", "3.1", false}, {">=1.2, <2", "1.5", true}, {">=1.2, <2", "2", false},
		{">1", "1", false}, {"<=2", "2.0", true}, {"=1.0", "1", true},
	} {
		got, err := hotcode.MatchRange(tc.rng, tc.v)
		if err != nil || got != tc.want {
			t.Errorf("%q matches %s = %t %v, want %t", tc.rng, tc.v, got, err, tc.want)
		}
	}
	if _, err := hotcode.MatchRange(">=x", "1"); err == nil {
		t.Error("a bad range accepted")
	}
}

func TestParseManifest(t *testing.T) {
	good := `{"name":"m","version":"1.2","abi":1,"supports_downgrade":true,"dependencies":[{"name":"lib","version_range":">=1"}],` +
		`"host_functions":["send","log"],"capabilities":[{"name":"wasi","fs_dir":"/data","fs_writable":true}],"args":["a"]}`
	m, err := hotcode.ParseManifest([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := m.WASI(); !ok || c.MaxFileHandles != hotcode.DefaultMaxFileHandles || !c.FSWritable {
		t.Fatalf("wasi %+v", c)
	}
	for _, tc := range []struct{ json, text string }{
		{`{"name":"","version":"1","abi":1}`, `name ""`},
		{`{"name":"a@b","version":"1","abi":1}`, `name "a@b"`},
		{`{"name":"m","version":"1","abi":1,"dependencies":[{"name":"m","version_range":"1"}]}`, "depends on itself"},
		{`{"name":"m","version":"1","abi":1,"dependencies":[{"name":"x","version_range":"~1"}]}`, "version range"},
		{`{"name":"m","version":"1","abi":1,"host_functions":["fork"]}`, `"fork" is not a steward host function`},
		{`{"name":"m","version":"1","abi":1,"host_functions":["log","log"]}`, "listed twice"},
		{`{"name":"m","version":"1","abi":1,"capabilities":[{"name":"network"}]}`, `"network": the only capability is "wasi"`},
		{`{"name":"m","version":"1","abi":1,"capabilities":[{"name":"wasi","fs_writable":true}]}`, "need fs_dir"},
		{`{"name":"m","version":"1","abi":1,"capabilities":[{"name":"wasi","fs_dir":"data"}]}`, "absolute guest path"},
		{`{"name":"m","version":"1","abi":1,"capabilities":[{"name":"wasi","fs_dir":"/d","max_file_handles":5000}]}`, "max_file_handles 5000"},
		{`{"name":"m","version":"1","abi":1} {}`, "data after the object"},
	} {
		_, err := hotcode.ParseManifest([]byte(tc.json))
		if !errors.Is(err, hotcode.ErrBadManifest) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v, want %q", tc.json, err, tc.text)
		}
	}
}

func TestAddManifest(t *testing.T) {
	if _, err := hotcode.AddManifest(counterV1(t), hotcode.Manifest{Name: "x", Version: "1", ABI: 1}); !errors.Is(err, hotcode.ErrBadManifest) {
		t.Fatalf("a second manifest: %v", err)
	}
	if _, err := hotcode.AddManifest([]byte("not wasm"), hotcode.Manifest{Name: "x", Version: "1", ABI: 1}); !errors.Is(err, hotcode.ErrBadBinary) {
		t.Fatalf("not wasm: %v", err)
	}
	if _, err := hotcode.AddManifest(newFixture("m").bytes()[:8], hotcode.Manifest{Name: "x", ABI: 1}); !errors.Is(err, hotcode.ErrBadManifest) {
		t.Fatalf("an invalid manifest: %v", err)
	}
}
