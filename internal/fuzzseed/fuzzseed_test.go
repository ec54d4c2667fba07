package fuzzseed

import (
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	got, err := Encode([]byte("a\x00\"b\n"), "n\u00e9", true, int32(-5), uint8(3), uint64(7))
	if err != nil {
		t.Fatal(err)
	}
	want := "go test fuzz v1\n[]byte(\"a\\x00\\\"b\\n\")\nstring(\"né\")\nbool(true)\nint32(-5)\nuint8(3)\nuint64(7)\n"
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := Encode(1.5); err == nil || !strings.Contains(err.Error(), "float64") {
		t.Fatalf("a float: %v, want an error naming its type", err)
	}
}
