package hotcode

import (
	"fmt"
	"slices"
	"strings"
)

// Level is a safety level for validation: the checks grow from permissive
// to strict, and so does what a module may import (docs/MODULES.md).
type Level string

const (
	Strict     Level = "strict"
	Moderate   Level = "moderate"
	Permissive Level = "permissive"
)

// DefaultLevel is the level used when none is given.
const DefaultLevel = Moderate

// ParseLevel parses a level name; "" is DefaultLevel.
func ParseLevel(s string) (Level, error) {
	switch l := Level(s); l {
	case "":
		return DefaultLevel, nil
	case Strict, Moderate, Permissive:
		return l, nil
	}
	return "", fmt.Errorf("%w: safety level %q: want strict, moderate or permissive", ErrBadOptions, s)
}

// Class says how risky an imported function is.
type Class string

const (
	// ClassSafe functions act on the calling process or send messages.
	ClassSafe Class = "safe"
	// ClassDangerous functions create processes, claim names or kill
	// other processes (the seed's dangerous kinds).
	ClassDangerous Class = "dangerous"
	// ClassWASI functions are WASI preview 1, given only at permissive to
	// a module declaring the "wasi" capability.
	ClassWASI Class = "wasi"
)

// The import table: one rule per row, docs/MODULES.md "Imports by safety
// level". importRule is its only reader.
var (
	// dangerousHost are the steward functions strict refuses unless the
	// manifest declares them and the pusher confirms.
	dangerousHost = []string{"register", "spawn", "exit"}
	// wasiAllowed are the WASI functions permissive may give a module
	// declaring "wasi": no environment (environ_* return an empty one), a
	// filesystem only as the one preopened directory.
	wasiAllowed = []string{
		"args_get", "args_sizes_get", "environ_get", "environ_sizes_get",
		"clock_res_get", "clock_time_get", "random_get", "sched_yield", "poll_oneoff", "proc_exit",
		"fd_advise", "fd_allocate", "fd_close", "fd_datasync", "fd_fdstat_get", "fd_fdstat_set_flags",
		"fd_filestat_get", "fd_filestat_set_size", "fd_filestat_set_times", "fd_pread", "fd_prestat_get",
		"fd_prestat_dir_name", "fd_pwrite", "fd_read", "fd_readdir", "fd_renumber", "fd_seek", "fd_sync",
		"fd_tell", "fd_write",
		"path_create_directory", "path_filestat_get", "path_filestat_set_times", "path_open",
		"path_readlink", "path_remove_directory", "path_rename", "path_unlink_file",
	}
	// wasiNetwork are refused at every level: no network, ever.
	wasiNetwork = []string{"sock_accept", "sock_recv", "sock_send", "sock_shutdown"}
	// wasiEscape are refused at every level: links could point out of the
	// preopened directory, and signals are not a process's business.
	wasiEscape = []string{"path_link", "path_symlink", "proc_raise"}
)

// importFacts is what the rule needs to know about one imported function.
type importFacts struct {
	module, name string
	known        bool // a function the host module defines
	declared     bool // listed in the manifest's host_functions (steward) or wasi declared (WASI)
}

// importRule decides one imported function at level: nil, or why it is
// refused. It returns the function's class when allowed.
func importRule(level Level, f importFacts, confirmed bool) (Class, error) {
	switch f.module {
	case HostModule:
		if !f.known {
			return "", fmt.Errorf("%w: %s.%s: the host module has no such function (it has %s)", ErrForbiddenImport, f.module, f.name, strings.Join(hostFunctionNames(), ", "))
		}
		if !f.declared {
			return "", fmt.Errorf("%w: %s.%s is imported but not declared in the manifest's host_functions", ErrUndeclaredImport, f.module, f.name)
		}
		if slices.Contains(dangerousHost, f.name) {
			if level == Strict && !confirmed {
				return "", fmt.Errorf("%w: %s.%s is dangerous: strict needs the pusher's confirmation", ErrUnconfirmed, f.module, f.name)
			}
			return ClassDangerous, nil
		}
		return ClassSafe, nil
	case WASIModule:
		switch {
		case slices.Contains(wasiNetwork, f.name):
			return "", fmt.Errorf("%w: %s.%s: no network at any level", ErrForbiddenImport, f.module, f.name)
		case slices.Contains(wasiEscape, f.name):
			return "", fmt.Errorf("%w: %s.%s is refused at every level", ErrForbiddenImport, f.module, f.name)
		case !slices.Contains(wasiAllowed, f.name):
			return "", fmt.Errorf("%w: %s.%s is not a WASI function steward gives", ErrForbiddenImport, f.module, f.name)
		case level != Permissive:
			return "", fmt.Errorf("%w: %s.%s: WASI is given only at permissive (this is %s)", ErrForbiddenImport, f.module, f.name, level)
		case !f.declared:
			return "", fmt.Errorf("%w: %s.%s is imported but the manifest does not declare the \"wasi\" capability", ErrUndeclaredImport, f.module, f.name)
		}
		return ClassWASI, nil
	}
	return "", fmt.Errorf("%w: %s.%s: imports may come only from %q (and %q at permissive)", ErrForbiddenImport, f.module, f.name, HostModule, WASIModule)
}
