//go:build linux

package health

import (
	"runtime"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := []byte("4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 0 0 20 0 12 0 99 1000 200 18446744073709551615\n")
	ticks, err := parseStatCPU(line)
	if err != nil || ticks != 175 {
		t.Fatalf("got %d %v, want 175", ticks, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("a short line parsed")
	}
	if _, err := parseStatCPU([]byte("garbage")); err == nil {
		t.Fatal("garbage parsed")
	}
}

// The agent's own CPU time is read for real and grows while it works.
func TestProcessCPUTimeIsReal(t *testing.T) {
	before, ok := processCPUTime()
	if !ok {
		t.Fatal("/proc/self/stat unreadable on Linux")
	}
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for time.Now().Before(deadline) {
		for i := 0; i < 1_000_000; i++ {
			x += i
		}
		if after, _ := processCPUTime(); after > before {
			runtime.KeepAlive(x)
			return
		}
	}
	t.Fatal("CPU time did not grow while spinning")
}
