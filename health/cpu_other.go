//go:build !linux

package health

import "time"

// processCPUTime is unavailable outside Linux: there is no /proc/self/stat.
func processCPUTime() (time.Duration, bool) { return 0, false }
