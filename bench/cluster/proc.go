package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one server process started by the harness.
type Proc struct {
	Name    string
	bin     string
	args    []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// checkRunning is nil while p runs, else ErrExited naming p with the end
// of its log.
func (p *Proc) checkRunning() error {
	if p.Running() {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrExited, p.Name, p.LogTail(5))
}

// NewProc describes a process; Start runs it (again).
func NewProc(name, bin string, args []string, logPath string) *Proc {
	return &Proc{Name: name, bin: bin, args: args, logPath: logPath}
}

// Start starts the process, appending its output to its log file.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !p.exitedLocked() {
		return fmt.Errorf("%s: already running", p.Name)
	}
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout = log
	cmd.Stderr = log
	// Its own process group, so that a Ctrl-C at the terminal reaches the
	// harness only, and the harness stops the servers in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("%s: start %s: %w", p.Name, p.bin, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.err = cmd, done, nil
	go func() {
		err := cmd.Wait()
		log.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func (p *Proc) exitedLocked() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !p.exitedLocked()
}

// Pid is the process id, 0 when not running.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.exitedLocked() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%s: kill: %w", p.Name, err)
	}
	<-done
	return nil
}

// Stop sends SIGTERM, waits up to grace, then kills.
func (p *Proc) Stop(grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = p.Kill()
	}
}

// Exited returns a channel closed when the process has exited, and its
// error afterwards.
func (p *Proc) Exited() (<-chan struct{}, func() error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := p.done
	return done, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	}
}

// LogTail returns the last n lines of the process's log, for errors.
func (p *Proc) LogTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Usage is what a set of processes consumed: CPU time and bytes written to
// the block layer.
type Usage struct {
	CPU        time.Duration
	WriteBytes int64
}

// Sub is u - o.
func (u Usage) Sub(o Usage) Usage {
	return Usage{CPU: u.CPU - o.CPU, WriteBytes: u.WriteBytes - o.WriteBytes}
}

// ProcUsage reads /proc/<pid>/stat and /proc/<pid>/io for the given pids
// (0s are skipped) and sums them. Missing files count as zero.
func ProcUsage(pids []int) Usage {
	var u Usage
	tick := clockTick()
	for _, pid := range pids {
		if pid == 0 {
			continue
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			// Fields after the command name, which is in parentheses and
			// may hold spaces: state is field 3, utime 14, stime 15.
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i >= 0 {
				f := strings.Fields(s[i+1:])
				if len(f) > 12 {
					ut, _ := strconv.ParseInt(f[11], 10, 64)
					st, _ := strconv.ParseInt(f[12], 10, 64)
					u.CPU += time.Duration(ut+st) * tick
				}
			}
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io"); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					u.WriteBytes += n
				}
			}
		}
	}
	return u
}

// clockTick is the length of one USER_HZ tick; Linux fixes USER_HZ at 100
// for user space on every architecture Go supports.
func clockTick() time.Duration { return 10 * time.Millisecond }

// FreePorts reserves n distinct loopback TCP ports by binding them, then
// releases them for the servers to bind. (Another process could take one in
// between; the harness then fails to start and says which port.)
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// MachineBusy is the CPU time all processors have spent busy since boot
// (/proc/stat: user, nice, system, irq, softirq, steal), for telling how
// much of a run's CPU went to processes other than the harness's.
func MachineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * clockTick()
}
