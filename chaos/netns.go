package chaos

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Prefix names every namespace (and link) the harness makes; Clean
// removes whatever carries it.
const Prefix = "stwchaos-"

// Subnet is the private /24 of the nodes, assigned inside their
// namespaces only: node i (from 0) is .(i+1), the harness's clients .200.
const Subnet = "10.213.77."

const (
	bridgeNS = Prefix + "br"
	clientNS = Prefix + "cli"
	clientIP = Subnet + "200"
	// chain is the iptables chain in each node namespace that holds the
	// nemesis's rules, jumped to from INPUT and OUTPUT; healing flushes it.
	chain = "STWCHAOS"
)

// NodeNS is node i's namespace.
func NodeNS(i int) string { return fmt.Sprintf("%sn%d", Prefix, i+1) }

// NodeIP is node i's address.
func NodeIP(i int) string { return fmt.Sprintf("%s%d", Subnet, i+1) }

// Net is the namespaces of a run: one per node, the bridge's, the clients'.
type Net struct {
	n int
	// iptables is false when the iptables command is missing: partitions
	// and loss are then refused.
	iptables bool
	// netemQdisc is false when the kernel has no netem qdisc (sch_netem):
	// a Delayer stands in where nfqueue is true (iptables' NFQUEUE target
	// and a queue this process can bind, probed at set-up).
	netemQdisc bool
	nfqueue    bool

	mu        sync.Mutex
	delayers  map[int]*Delayer
	lastDelay map[int]DelayerStats
}

// Netem reports whether the netem kind can run: with the kernel's netem
// qdisc, or else with a Delayer.
func (nt *Net) Netem() bool { return nt.netemQdisc || nt.nfqueue }

// sh runs a command and returns its error with its output.
func sh(ctx context.Context, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// inNS runs a command inside namespace ns.
func inNS(ctx context.Context, ns string, args ...string) error {
	return sh(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// NetnsAvailable says whether this process can make network namespaces,
// by making and removing one; the error says why not.
func NetnsAvailable(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root (uid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("no ip command (iproute2): %w", err)
	}
	probe := Prefix + "probe"
	_ = sh(ctx, "ip", "netns", "del", probe)
	if err := sh(ctx, "ip", "netns", "add", probe); err != nil {
		return err
	}
	return sh(ctx, "ip", "netns", "del", probe)
}

// SetupNet makes the namespaces of n nodes: a bridge in its own namespace,
// a veth pair per node (eth0 in the node's namespace, its peer on the
// bridge) and one for the clients. It first removes what an earlier run
// left (Clean), so it is idempotent.
func SetupNet(ctx context.Context, n int) (*Net, error) {
	if err := Clean(ctx); err != nil {
		return nil, err
	}
	_, iptErr := exec.LookPath("iptables")
	nt := &Net{n: n, iptables: iptErr == nil, delayers: map[int]*Delayer{}, lastDelay: map[int]DelayerStats{}}
	steps := [][]string{
		{"ip", "netns", "add", bridgeNS},
		{"ip", "-n", bridgeNS, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", bridgeNS, "link", "set", "br0", "up"},
	}
	add := func(ns, host, ip string) {
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "-n", bridgeNS, "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "-n", bridgeNS, "link", "set", host, "master", "br0", "up"},
			[]string{"ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"})
	}
	for i := 0; i < n; i++ {
		add(NodeNS(i), fmt.Sprintf("v%d", i+1), NodeIP(i))
	}
	add(clientNS, "vcli", clientIP)
	for _, s := range steps {
		if err := sh(ctx, s[0], s[1:]...); err != nil {
			_ = Clean(ctx)
			return nil, err
		}
	}
	// Probe netem on the clients' loopback, then remove it.
	if inNS(ctx, clientNS, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms") == nil {
		nt.netemQdisc = true
		_ = inNS(ctx, clientNS, "tc", "qdisc", "del", "dev", "lo", "root")
	}
	if !nt.netemQdisc && nt.iptables {
		nt.nfqueue = probeNFQueue(ctx)
	}
	if nt.iptables {
		for i := 0; i < n; i++ {
			ns := NodeNS(i)
			for _, r := range [][]string{{"-N", chain}, {"-I", "INPUT", "-j", chain}, {"-I", "OUTPUT", "-j", chain}} {
				if err := inNS(ctx, ns, append([]string{"iptables", "-w"}, r...)...); err != nil {
					_ = Clean(ctx)
					return nil, err
				}
			}
		}
	}
	return nt, nil
}

// Close stops any Delayer and removes the namespaces (Clean).
func (nt *Net) Close(ctx context.Context) error {
	for i := 0; i < nt.n; i++ {
		nt.stopDelay(i)
	}
	return Clean(ctx)
}

// Clean removes every namespace whose name starts with Prefix, after
// killing the processes inside (waking stopped ones first), and any link
// of the root namespace whose name starts with "stwchaos" (left by a setup
// that crashed half-way). It is safe to run at any time, repeatedly.
func Clean(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		return fmt.Errorf("ip netns list: %w", err)
	}
	var errs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], Prefix) {
			continue
		}
		ns := f[0]
		if pids, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output(); err == nil {
			for _, p := range strings.Fields(string(pids)) {
				var pid int
				if _, err := fmt.Sscan(p, &pid); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGCONT)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if err := sh(ctx, "ip", "netns", "del", ns); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if links, err := net.Interfaces(); err == nil {
		for _, l := range links {
			if strings.HasPrefix(l.Name, "stwchaos") {
				_ = sh(ctx, "ip", "link", "del", l.Name)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("clean: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Heal removes every rule and qdisc the nemesis added in node i's namespace.
func (nt *Net) Heal(ctx context.Context, i int) error {
	var errs []string
	if nt.iptables {
		if err := inNS(ctx, NodeNS(i), "iptables", "-w", "-F", chain); err != nil {
			errs = append(errs, err.Error())
		}
	}
	// No qdisc to delete is not an error worth reporting.
	_ = inNS(ctx, NodeNS(i), "tc", "qdisc", "del", "dev", "eth0", "root")
	// The rule is gone: the delayer lets what it holds go and stops.
	nt.stopDelay(i)
	if len(errs) > 0 {
		return fmt.Errorf("heal %s: %s", NodeNS(i), strings.Join(errs, "; "))
	}
	return nil
}

func (nt *Net) needIptables() error {
	if !nt.iptables {
		return fmt.Errorf("iptables is not installed (scripts/chaos.sh installs it)")
	}
	return nil
}

// Drop makes node i drop packets from peer (in) and to peer (out).
func (nt *Net) Drop(ctx context.Context, i, peer int, in, out bool) error {
	if err := nt.needIptables(); err != nil {
		return err
	}
	if in {
		if err := inNS(ctx, NodeNS(i), "iptables", "-w", "-A", chain, "-s", NodeIP(peer), "-j", "DROP"); err != nil {
			return err
		}
	}
	if out {
		return inNS(ctx, NodeNS(i), "iptables", "-w", "-A", chain, "-d", NodeIP(peer), "-j", "DROP")
	}
	return nil
}

// Loss makes node i drop a random share p of the packets it exchanges
// with peer, each way (the statistic match: netem is not in every kernel).
func (nt *Net) Loss(ctx context.Context, i, peer int, p float64) error {
	if err := nt.needIptables(); err != nil {
		return err
	}
	prob := fmt.Sprintf("%.2f", p)
	for _, dir := range []string{"-s", "-d"} {
		if err := inNS(ctx, NodeNS(i), "iptables", "-w", "-A", chain, dir, NodeIP(peer), "-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP"); err != nil {
			return err
		}
	}
	return nil
}

// Throttle limits node i's outgoing link with a token bucket: rate
// (e.g. "512kbit") and at most latency of queue, which delays what it sends.
func (nt *Net) Throttle(ctx context.Context, i int, rate, latency string) error {
	return inNS(ctx, NodeNS(i), "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", rate, "burst", "32kbit", "latency", latency)
}

// NetemOn gives node i's outgoing packets delay ± jitter and drops a
// share loss of them: with the kernel's netem qdisc on its link where the
// kernel has one, else with a Delayer behind an iptables NFQUEUE rule for
// what the node sends from its address to other addresses (its own
// traffic to itself, on lo, is left alone, as netem on eth0 leaves it).
// The note says which was used.
func (nt *Net) NetemOn(ctx context.Context, i int, delay, jitter time.Duration, loss float64, seed int64) (string, error) {
	if nt.netemQdisc {
		return "netem qdisc", inNS(ctx, NodeNS(i), "tc", "qdisc", "replace", "dev", "eth0", "root", "netem",
			"delay", delay.String(), jitter.String(), "loss", fmt.Sprintf("%g%%", loss*100))
	}
	if err := nt.needIptables(); err != nil {
		return "", err
	}
	d, err := StartDelayer("/var/run/netns/"+NodeNS(i), delayQueue, delay, jitter, loss, seed)
	if err != nil {
		return "", err
	}
	nt.mu.Lock()
	if old := nt.delayers[i]; old != nil {
		old.Stop()
	}
	nt.delayers[i] = d
	nt.mu.Unlock()
	own := NodeIP(i)
	for _, r := range [][]string{
		{"-A", chain, "-s", own, "-d", own, "-j", "RETURN"},
		{"-A", chain, "-s", own, "-j", "NFQUEUE", "--queue-num", fmt.Sprint(delayQueue), "--queue-bypass"},
	} {
		if err := inNS(ctx, NodeNS(i), append([]string{"iptables", "-w"}, r...)...); err != nil {
			return "", err
		}
	}
	return "user-space delayer on an NFQUEUE (this kernel has no netem qdisc)", nil
}

// probeNFQueue says whether a Delayer can run: a queue bound in the
// clients' namespace and an NFQUEUE rule added there (then both removed).
func probeNFQueue(ctx context.Context) bool {
	d, err := StartDelayer("/var/run/netns/"+clientNS, delayQueue, 0, 0, 0, 1)
	if err != nil {
		return false
	}
	defer d.Stop()
	rule := []string{"OUTPUT", "-d", "127.0.0.2", "-j", "NFQUEUE", "--queue-num", fmt.Sprint(delayQueue), "--queue-bypass"}
	if inNS(ctx, clientNS, append([]string{"iptables", "-w", "-A"}, rule...)...) != nil {
		return false
	}
	_ = inNS(ctx, clientNS, append([]string{"iptables", "-w", "-D"}, rule...)...)
	return true
}

// delayQueue is the NFQUEUE number of the Delayer in a node's namespace.
const delayQueue = 7

// stopDelay stops node i's Delayer, if it has one, and keeps its counts
// for LastDelay.
func (nt *Net) stopDelay(i int) {
	nt.mu.Lock()
	d := nt.delayers[i]
	delete(nt.delayers, i)
	nt.mu.Unlock()
	if d == nil {
		return
	}
	st := d.Stop()
	nt.mu.Lock()
	nt.lastDelay[i] = st
	nt.mu.Unlock()
}

// LastDelay is what node i's last stopped Delayer counted.
func (nt *Net) LastDelay(i int) (DelayerStats, bool) {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	st, ok := nt.lastDelay[i]
	return st, ok
}

// Dialer dials from inside the clients' namespace (InNetns).
func (nt *Net) Dialer() func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var c net.Conn
		err := InNetns("/var/run/netns/"+clientNS, func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, "tcp", addr)
			return err
		})
		return c, err
	}
}

// InNetns runs f on an OS thread switched into the network namespace at
// path, then switches the thread back: sockets f makes stay in that
// namespace. A thread that cannot switch back stays locked, and exits
// with its goroutine.
func InNetns(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := switchedInto(path, f)
		if back {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// switchedInto runs f with the calling (locked) thread in the namespace at
// path; back reports whether the thread is in its own namespace again.
func switchedInto(path string, f func() error) (back bool, err error) {
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return true, err
	}
	defer orig.Close()
	target, err := os.Open(path)
	if err != nil {
		return true, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return true, fmt.Errorf("setns %s: %w", path, err)
	}
	err = f()
	return unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil, err
}
