// Command perfsplit reads `perf script -F comm,pid,tid,ip,sym` output
// (samples with call chains) on stdin and prints, for each process whose
// id is given, where its CPU went: the share of samples whose call chain
// passes through each of a set of components (inclusive, so shares overlap
// and do not sum to 100%). bench/profile.sh feeds it.
//
//	perf script -i perf.data -F comm,pid,tid,ip,sym | perfsplit -pids pids.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// components are matched against every frame of a sample's call chain.
var components = []struct{ name, re string }{
	{"gRPC (client API serving, forwarding)", `^google\.golang\.org/grpc`},
	{"  gRPC HTTP/2 writes (loopyWriter)", `loopyWriter`},
	{"  gRPC HTTP/2 reads (framer)", `http2Server\)\.HandleStreams|http2Client\)\.reader`},
	{"raft leader: dispatchLogs (StoreLogs before replicating)", `raft\.\(\*Raft\)\.dispatchLogs`},
	{"raft follower: appendEntries (StoreLogs)", `raft\.\(\*Raft\)\.appendEntries`},
	{"raft replication to followers", `raft\.\(\*Raft\)\.(replicateTo|pipelineSend|pipelineDecode|replicate|heartbeat)`},
	{"raft NetworkTransport (encode/decode, conn handling)", `raft\.\(\*NetworkTransport\)|raft\.\(\*netPipeline\)`},
	{"msgpack (raft RPC encoding)", `go-msgpack`},
	{"bbolt (log store transactions)", `go\.etcd\.io/bbolt`},
	{"fdatasync/fsync syscalls", `syscall\.(Fdatasync|Fsync)|do_fsync`},
	{"FSM apply (runFSM)", `raft\.\(\*Raft\)\.runFSM`},
	{"  go-memdb / iradix", `go-memdb|go-immutable-radix`},
	{"  protobuf decode of commands", `google\.golang\.org/protobuf`},
	{"steward transport (OnLeader, forwarding)", `steward/transport\.`},
	{"allocation (mallocgc)", `runtime\.mallocgc`},
	{"GC background mark", `runtime\.gcBgMarkWorker`},
	{"GC assist", `runtime\.gcAssistAlloc`},
	{"scheduler (findRunnable, park, wake)", `runtime\.(findRunnable|schedule|park_m|ready|wakep)$`},
	{"network syscalls (read/write)", `syscall\.(read|write)$|internal/poll\.\(\*FD\)\.(Read|Write)`},
}

type sample struct {
	pid    int
	frames []string
}

func main() {
	pidsFile := flag.String("pids", "", "file of \"role PID\" lines (loadone -pids); empty: every process named -comm")
	comm := flag.String("comm", "", "process name to report when -pids is empty")
	hz := flag.Float64("hz", 0, "sampling frequency, to print CPU seconds (0: shares only)")
	flag.Parse()
	roles := map[int]string{}
	if *pidsFile != "" {
		b, err := os.ReadFile(*pidsFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "perfsplit:", err)
			os.Exit(1)
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 {
				if pid, err := strconv.Atoi(f[1]); err == nil {
					roles[pid] = f[0]
				}
			}
		}
	}
	byPid, err := parse(os.Stdin, func(name string, pid int) bool {
		return (len(roles) > 0 && roles[pid] != "") || (len(roles) == 0 && name == *comm)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "perfsplit:", err)
		os.Exit(1)
	}
	pids := make([]int, 0, len(byPid))
	for pid := range byPid {
		pids = append(pids, pid)
	}
	sort.Slice(pids, func(i, j int) bool { return len(byPid[pids[i]]) > len(byPid[pids[j]]) })
	for _, pid := range pids {
		ss := byPid[pid]
		role := roles[pid]
		if role == "" {
			role = *comm
		}
		fmt.Printf("== %s (pid %d): %d samples", role, pid, len(ss))
		if *hz > 0 {
			fmt.Printf(" = %.2f CPU-s", float64(len(ss))/(*hz))
		}
		fmt.Println()
		for _, sh := range shares(ss) {
			fmt.Printf("  %5.1f%%  %s\n", sh.pct, sh.name)
		}
	}
}

// parse reads perf script output and returns the call chains (leaf first)
// of the samples keep accepts, by process id.
func parse(r io.Reader, keep func(comm string, pid int) bool) (map[int][]sample, error) {
	header := regexp.MustCompile(`^\s*(\S+)\s+(\d+)/(\d+)\s*$`)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	byPid := map[int][]sample{}
	var cur *sample
	flush := func() {
		if cur != nil {
			byPid[cur.pid] = append(byPid[cur.pid], *cur)
			cur = nil
		}
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if m := header.FindStringSubmatch(line); m != nil {
			flush()
			pid, _ := strconv.Atoi(m[2])
			if keep(m[1], pid) {
				cur = &sample{pid: pid}
			}
			continue
		}
		if cur != nil {
			if f := strings.Fields(line); len(f) >= 2 {
				cur.frames = append(cur.frames, f[1])
			}
		}
	}
	flush()
	return byPid, sc.Err()
}

type share struct {
	name string
	pct  float64
}

var componentREs = func() []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(components))
	for i, c := range components {
		out[i] = regexp.MustCompile(c.re)
	}
	return out
}()

// shares is, for each component that occurs, the percentage of samples
// whose call chain passes through it (each sample counted once).
func shares(ss []sample) []share {
	var out []share
	for i, c := range components {
		n := 0
		for _, s := range ss {
			for _, fr := range s.frames {
				if componentREs[i].MatchString(fr) {
					n++
					break
				}
			}
		}
		if n > 0 {
			out = append(out, share{name: c.name, pct: 100 * float64(n) / float64(len(ss))})
		}
	}
	return out
}
