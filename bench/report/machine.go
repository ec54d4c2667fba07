package report

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machine describes where a run was made.
type Machine struct {
	CPUModel   string `json:"cpu_model"`
	Cores      int    `json:"cores"`
	MemoryMiB  int    `json:"memory_mib"`
	Kernel     string `json:"kernel"`
	Hostname   string `json:"hostname,omitempty"`
	DataDir    string `json:"data_dir"`
	Device     string `json:"device"`
	Filesystem string `json:"filesystem"`
	MountOpts  string `json:"mount_options,omitempty"`
	// Rotational is the block device's queue/rotational flag: "0" (SSD or
	// virtual disk), "1" (spinning), or "" when unknown.
	Rotational string `json:"rotational,omitempty"`
	GoVersion  string `json:"go_version"`
	// StewardGo is the Go version the steward binary was built with.
	StewardGo     string `json:"steward_go,omitempty"`
	StewardCommit string `json:"steward_commit"`
	EtcdVersion   string `json:"etcd_version"`
	EtcdGo        string `json:"etcd_go,omitempty"`
	// EtcdClient is the etcd Go client module version the load generator
	// uses.
	EtcdClient string `json:"etcd_client,omitempty"`
}

// DescribeMachine gathers what it can; missing facts stay empty rather
// than failing the run.
func DescribeMachine(ctx context.Context, dataDir, stewardBin, etcdBin, repoDir string) Machine {
	m := Machine{
		Cores:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		DataDir:   dataDir,
	}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		if n, err := strconv.Atoi(strings.Fields(kb)[0]); err == nil {
			m.MemoryMiB = n / 1024
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Hostname, _ = os.Hostname()
	m.Device, m.Filesystem, m.MountOpts = mountOf(dataDir)
	m.Rotational = rotational(m.Device)
	if stewardBin != "" {
		if out := command(ctx, "go", "version", stewardBin); out != "" {
			if f := strings.Fields(out); len(f) >= 2 {
				m.StewardGo = f[len(f)-1]
			}
		}
	}
	if repoDir != "" {
		m.StewardCommit = command(ctx, "git", "-C", repoDir, "rev-parse", "HEAD")
		if st := command(ctx, "git", "-C", repoDir, "status", "--porcelain", "--untracked-files=no"); st != "" {
			m.StewardCommit += "+dirty"
		}
	}
	if etcdBin != "" {
		out := command(ctx, etcdBin, "--version")
		for _, line := range strings.Split(out, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "etcd Version":
				m.EtcdVersion = strings.TrimSpace(v)
			case "Go Version":
				m.EtcdGo = strings.TrimSpace(v)
			}
		}
	}
	return m
}

func command(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// procField returns the value of the first "key: value" line of a /proc
// file whose key is key.
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// mountOf finds the mount holding dir: the longest mount point that is a
// prefix of its absolute path.
func mountOf(dir string) (device, fstype, opts string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", ""
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "", "", ""
	}
	best := -1
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		mp := f[1]
		if abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/") || mp == "/" {
			if len(mp) > best {
				best = len(mp)
				device, fstype, opts = f[0], f[2], f[3]
			}
		}
	}
	var st syscall.Statfs_t
	if fstype == "" && syscall.Statfs(abs, &st) == nil {
		fstype = "0x" + strconv.FormatInt(int64(st.Type), 16)
	}
	return device, fstype, opts
}

func rotational(device string) string {
	name := filepath.Base(device)
	if name == "" || name == "." {
		return ""
	}
	for _, p := range []string{"/sys/block/" + name + "/queue/rotational", "/sys/class/block/" + name + "/../queue/rotational"} {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}

// LoadAvg is /proc/loadavg, "" when it cannot be read: other work on the
// machine skews the figures, so reports record it at start and end.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
