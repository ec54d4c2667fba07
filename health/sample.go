package health

import (
	goruntime "runtime"
	"sync"
	"time"

	"github.com/steward/steward/actor"
)

// Sample is one measurement of a node's resource use.
type Sample struct {
	Time time.Time
	// MemoryBytes is HeapBytes + StackBytes: what the agent's Go runtime
	// holds live, which includes every process's mailbox, state and stack.
	MemoryBytes int64
	// HeapBytes is the Go heap in use (actor.MemStats.HeapInuse).
	HeapBytes int64
	// StackBytes is the goroutine stacks in use (MemStats.StackInuse).
	StackBytes int64
	// RuntimeBytes is the process runtime's own estimate of its processes'
	// memory (actor.Stats.MemoryBytes): part of MemoryBytes, reported
	// beside it, never added to it.
	RuntimeBytes int64
	// ProcessCount is the number of live processes.
	ProcessCount int64
	// QueueTotal is the messages queued in every mailbox; QueueMax the
	// longest single mailbox.
	QueueTotal int64
	QueueMax   int64
	// CPUPercent is the agent process's CPU use since the previous sample,
	// in percent of all the node's cores; valid only when CPUAvailable.
	CPUPercent   float64
	CPUAvailable bool
}

// Sampler measures a node. Sample is called from one goroutine at a time.
type Sampler interface {
	Sample() Sample
}

// SamplerFunc adapts a function to a Sampler.
type SamplerFunc func() Sample

// Sample implements Sampler.
func (f SamplerFunc) Sample() Sample { return f() }

// systemSampler measures the agent process and its runtime.
type systemSampler struct {
	rt  *actor.Runtime
	now func() time.Time
	cpu *cpuMeter
}

// NewSystemSampler measures the running agent: Go memory statistics, the
// runtime's processes and mailboxes, and the process's CPU time from
// /proc/self/stat (Linux only; CPUAvailable is false elsewhere).
func NewSystemSampler(rt *actor.Runtime, now func() time.Time) Sampler {
	if now == nil {
		now = time.Now
	}
	s := &systemSampler{rt: rt, now: now, cpu: &cpuMeter{read: processCPUTime, cores: goruntime.NumCPU()}}
	s.cpu.percent(now()) // the baseline the first sample's CPU use is measured from
	return s
}

func (s *systemSampler) Sample() Sample {
	now := s.now()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	out := Sample{
		Time:       now,
		HeapBytes:  int64(ms.HeapInuse),
		StackBytes: int64(ms.StackInuse),
	}
	out.MemoryBytes = out.HeapBytes + out.StackBytes
	for _, p := range s.rt.Processes() {
		out.ProcessCount++
		out.RuntimeBytes += p.MemoryBytes
		q := int64(p.QueueLen)
		out.QueueTotal += q
		if q > out.QueueMax {
			out.QueueMax = q
		}
	}
	out.CPUPercent, out.CPUAvailable = s.cpu.percent(now)
	return out
}

// cpuMeter turns the process's cumulative CPU time into a percentage of
// all cores over the wall time between two readings.
type cpuMeter struct {
	// read returns the process's CPU time (user + system) so far, or
	// false where it cannot be read.
	read  func() (time.Duration, bool)
	cores int

	mu       sync.Mutex
	lastCPU  time.Duration
	lastWall time.Time
	primed   bool
	// last is the latest percentage computed, and whether there is one.
	last     float64
	haveLast bool
}

// minCPUWindow is the least wall time a CPU percentage is taken over: the
// kernel counts CPU time in ticks of 10 ms, so over a shorter window one
// tick more or less is a swing of more than 100% (a reading over 0.2 ms
// once gave 2067%). Readings closer together than this report the last
// percentage and keep the window open.
const minCPUWindow = 100 * time.Millisecond

// percent reads the CPU time and returns the use since the window began
// (the previous reading at least minCPUWindow earlier), within 0..100;
// false on the first call, before the first window closes, or when the CPU
// time is unavailable.
func (m *cpuMeter) percent(now time.Time) (float64, bool) {
	cpu, ok := m.read()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !ok {
		m.primed, m.haveLast = false, false
		return 0, false
	}
	if !m.primed || cpu < m.lastCPU || now.Before(m.lastWall) || m.cores <= 0 {
		m.lastCPU, m.lastWall, m.primed, m.haveLast = cpu, now, true, false
		return 0, false
	}
	wall := now.Sub(m.lastWall)
	if wall < minCPUWindow {
		return m.last, m.haveLast
	}
	pct := float64(cpu-m.lastCPU) / float64(wall) / float64(m.cores) * 100
	pct = min(max(pct, 0), 100)
	m.lastCPU, m.lastWall = cpu, now
	m.last, m.haveLast = pct, true
	return pct, true
}
