package spec

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseLargeTree parses a tree of 4,000 children as a cluster
// snapshot's restore commits them (docs/PERFORMANCE.md, "Restore at 10,000
// processes per node"): every reader of a committed tree parses its JSON.
func BenchmarkParseLargeTree(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"name":"big","strategy":"one_for_one","max_restarts":10,"max_seconds":5,"children":[`)
	for i := range 4000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"c%d","behavior":"counter","restart":"permanent","shutdown":"5s","args":{"start":"%d"}}`, i, i)
	}
	sb.WriteString(`]}`)
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		t, err := Parse(data, "big.json")
		if err != nil {
			b.Fatal(err)
		}
		if len(t.Children) != 4000 {
			b.Fatalf("%d children", len(t.Children))
		}
	}
}
