package hotcode

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/steward/steward/actor"
)

// wasiConfig gives an instance of a module allowed WASI what the
// capability rule permits: no args, no environment, no network (the
// validator refuses sock_*), real clocks and randomness, output discarded,
// and, with an fs_dir, one preopened directory per process.
func (m *Module) wasiConfig(cfg wazero.ModuleConfig, in *instance) (wazero.ModuleConfig, *wasiFS) {
	cfg = cfg.WithSysWalltime().WithSysNanotime().
		WithStdout(io.Discard).WithStderr(io.Discard)
	if m.wasi.FSDir == "" {
		return cfg, nil
	}
	f := &wasiFS{
		base:     filepath.Join(m.host.cfg.WASIDir, m.man.Name),
		writable: m.wasi.FSWritable,
		max:      int32(m.wasi.MaxFileHandles),
	}
	fc := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(f, m.wasi.FSDir)
	return cfg.WithFSConfig(fc), f
}

// wasiFS is the preopened directory of one process: WASIDir/<module>/
// <node>_<seq>, known once the instance serves a process (bind); until
// then (a code change runs before any process callback) every operation
// fails with EACCES. It counts open files against max_file_handles (the
// preopen itself counts as one); opens past it fail with EAGAIN (WASI
// preview 1 has no EMFILE). It must not reference its instance, so that a
// dropped instance can be collected.
type wasiFS struct {
	base     string
	writable bool
	max      int32
	open     atomic.Int32
	inner    atomic.Pointer[experimentalsys.FS]
}

// bind fixes the directory to pid's, creating it.
func (f *wasiFS) bind(pid actor.PID) {
	if f.inner.Load() != nil {
		return
	}
	dir := filepath.Join(f.base, pid.Node+"_"+strconv.FormatUint(pid.Seq, 10))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	var inner experimentalsys.FS = sysfs.DirFS(dir)
	if !f.writable {
		inner = &sysfs.ReadFS{FS: inner}
	}
	f.inner.CompareAndSwap(nil, &inner)
}

func (f *wasiFS) fs() (experimentalsys.FS, experimentalsys.Errno) {
	p := f.inner.Load()
	if p == nil {
		return nil, experimentalsys.EACCES
	}
	return *p, 0
}

func (f *wasiFS) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	inner, e := f.fs()
	if e != 0 {
		return nil, e
	}
	if f.open.Add(1) > f.max {
		f.open.Add(-1)
		return nil, experimentalsys.EAGAIN
	}
	file, e := inner.OpenFile(path, flag, perm)
	if e != 0 {
		f.open.Add(-1)
		return nil, e
	}
	return &countedFile{File: file, open: &f.open}, 0
}

// countedFile gives its handle back on Close.
type countedFile struct {
	experimentalsys.File
	open   *atomic.Int32
	closed bool
}

func (c *countedFile) Close() experimentalsys.Errno {
	if !c.closed {
		c.closed = true
		c.open.Add(-1)
	}
	return c.File.Close()
}

func (f *wasiFS) Lstat(path string) (s wsys.Stat_t, e experimentalsys.Errno) {
	inner, e := f.fs()
	if e != 0 {
		return s, e
	}
	return inner.Lstat(path)
}

func (f *wasiFS) Stat(path string) (s wsys.Stat_t, e experimentalsys.Errno) {
	inner, e := f.fs()
	if e != 0 {
		return s, e
	}
	return inner.Stat(path)
}

func (f *wasiFS) Mkdir(path string, perm fs.FileMode) experimentalsys.Errno {
	return f.do(func(i experimentalsys.FS) experimentalsys.Errno { return i.Mkdir(path, perm) })
}

func (f *wasiFS) Chmod(path string, perm fs.FileMode) experimentalsys.Errno {
	return f.do(func(i experimentalsys.FS) experimentalsys.Errno { return i.Chmod(path, perm) })
}

func (f *wasiFS) Rename(from, to string) experimentalsys.Errno {
	return f.do(func(i experimentalsys.FS) experimentalsys.Errno { return i.Rename(from, to) })
}

func (f *wasiFS) Rmdir(path string) experimentalsys.Errno {
	return f.do(func(i experimentalsys.FS) experimentalsys.Errno { return i.Rmdir(path) })
}

func (f *wasiFS) Unlink(path string) experimentalsys.Errno {
	return f.do(func(i experimentalsys.FS) experimentalsys.Errno { return i.Unlink(path) })
}

// Link and Symlink could point out of the directory: refused (the
// validator refuses path_link and path_symlink too).
func (f *wasiFS) Link(_, _ string) experimentalsys.Errno    { return experimentalsys.EPERM }
func (f *wasiFS) Symlink(_, _ string) experimentalsys.Errno { return experimentalsys.EPERM }

func (f *wasiFS) Readlink(path string) (string, experimentalsys.Errno) {
	inner, e := f.fs()
	if e != 0 {
		return "", e
	}
	return inner.Readlink(path)
}

func (f *wasiFS) Utimens(path string, atim, mtim int64) experimentalsys.Errno {
	return f.do(func(i experimentalsys.FS) experimentalsys.Errno { return i.Utimens(path, atim, mtim) })
}

func (f *wasiFS) do(op func(experimentalsys.FS) experimentalsys.Errno) experimentalsys.Errno {
	inner, e := f.fs()
	if e != 0 {
		return e
	}
	return op(inner)
}
