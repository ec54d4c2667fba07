package chaos

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// delayNS are two namespaces joined by a veth pair, for the Delayer's
// test; their prefix is not Prefix, so a chaos run's Clean leaves them
// alone and they leave a chaos run alone.
const (
	delayNSA, delayNSB = "stwdelaytest-a", "stwdelaytest-b"
	delayIPA, delayIPB = "10.213.78.1", "10.213.78.2"
)

func delayTopology(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := NetnsAvailable(ctx); err != nil {
		t.Skipf("network namespaces unavailable here: %v (the chaos harness falls back to loopback too)", err)
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables missing (scripts/chaos.sh installs it)")
	}
	clean := func() {
		_ = sh(ctx, "ip", "netns", "del", delayNSA)
		_ = sh(ctx, "ip", "netns", "del", delayNSB)
	}
	clean()
	t.Cleanup(clean)
	for _, s := range [][]string{
		{"ip", "netns", "add", delayNSA},
		{"ip", "netns", "add", delayNSB},
		{"ip", "-n", delayNSA, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", delayNSB},
		{"ip", "-n", delayNSA, "addr", "add", delayIPA + "/24", "dev", "eth0"},
		{"ip", "-n", delayNSB, "addr", "add", delayIPB + "/24", "dev", "eth0"},
		{"ip", "-n", delayNSA, "link", "set", "eth0", "up"},
		{"ip", "-n", delayNSB, "link", "set", "eth0", "up"},
		{"ip", "-n", delayNSA, "link", "set", "lo", "up"},
		{"ip", "-n", delayNSB, "link", "set", "lo", "up"},
	} {
		if err := sh(ctx, s[0], s[1:]...); err != nil {
			t.Fatal(err)
		}
	}
}

// inNetns runs f in namespace ns.
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	if err := InNetns("/var/run/netns/"+ns, func() error { f(); return nil }); err != nil {
		t.Fatal(err)
	}
}

// rtts measures n round trips of one byte over a TCP connection from A to
// an echo server in B.
func rtts(t *testing.T, conn net.Conn, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	b := []byte{1}
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		out = append(out, time.Since(start))
	}
	return out
}

// TestDelayerDelaysJittersAndDrops puts a Delayer on A's outgoing packets
// (the rule NetemOn adds) and measures: every round trip to B takes at
// least the delay less the jitter, round trips vary, a share of UDP
// datagrams near the loss rate is lost; and after the heal (rule flushed,
// delayer stopped) round trips are fast again.
func TestDelayerDelaysJittersAndDrops(t *testing.T) {
	delayTopology(t)
	ctx := context.Background()
	var ln net.Listener
	var udp net.PacketConn
	inNetns(t, delayNSB, func() {
		var err error
		if ln, err = net.Listen("tcp", delayIPB+":7000"); err != nil {
			t.Error(err)
		}
		if udp, err = net.ListenPacket("udp", delayIPB+":7001"); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	defer ln.Close()
	defer udp.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	var conn net.Conn
	var usend net.Conn
	inNetns(t, delayNSA, func() {
		var err error
		if conn, err = net.DialTimeout("tcp", delayIPB+":7000", 10*time.Second); err != nil {
			t.Error(err)
		}
		if usend, err = net.Dial("udp", delayIPB+":7001"); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	defer conn.Close()
	defer usend.Close()
	if err := sh(ctx, "ip", "netns", "exec", delayNSA, "iptables", "-w", "-N", chain); err != nil {
		t.Fatal(err)
	}
	if err := sh(ctx, "ip", "netns", "exec", delayNSA, "iptables", "-w", "-I", "OUTPUT", "-j", chain); err != nil {
		t.Fatal(err)
	}
	rule := func(op string) error {
		return sh(ctx, "ip", "netns", "exec", delayNSA, "iptables", "-w", op, chain, "-s", delayIPA, "-j", "NFQUEUE",
			"--queue-num", fmt.Sprint(delayQueue), "--queue-bypass")
	}

	// Delay and jitter, no loss: every TCP round trip is at least 60 ms.
	const delay, jitter = 80 * time.Millisecond, 20 * time.Millisecond
	d, err := StartDelayer("/var/run/netns/"+delayNSA, delayQueue, delay, jitter, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := rule("-A"); err != nil {
		d.Stop()
		t.Fatal(err)
	}
	got := rtts(t, conn, 20)
	lo, hi := got[0], got[0]
	for _, r := range got {
		lo, hi = min(lo, r), max(hi, r)
	}
	if lo < delay-jitter {
		t.Errorf("round trips %v: the fastest, %s, is under delay-jitter %s", got, lo, delay-jitter)
	}
	if hi-lo < time.Millisecond {
		t.Errorf("round trips %v: no jitter (spread %s)", got, hi-lo)
	}
	if err := rule("-D"); err != nil {
		t.Fatal(err)
	}
	st := d.Stop()
	if st.Seen < 20 || st.Accepted < 20 || st.Dropped != 0 {
		t.Errorf("delay-only stats %+v: want at least 20 packets seen and accepted, none dropped", st)
	}

	// After the heal: at least one round trip well under the delay.
	got = rtts(t, conn, 20)
	fast := false
	for _, r := range got {
		fast = fast || r < delay-jitter
	}
	if !fast {
		t.Errorf("after the heal, round trips %v: none under %s", got, delay-jitter)
	}

	// Loss 30%, no delay: the delayer drops a share of 0.2 to 0.4 of what
	// it sees (of 1000, the binomial's mean is 300, its standard deviation
	// 14.5), and no more arrive than it accepted (it may see a TCP packet
	// or two too); what the kernel dropped before it is counted.
	d, err = StartDelayer("/var/run/netns/"+delayNSA, delayQueue, 0, 0, 0.3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := rule("-A"); err != nil {
		d.Stop()
		t.Fatal(err)
	}
	const sent = 1000
	received := make(chan int)
	go func() {
		n := 0
		buf := make([]byte, 16)
		for {
			_ = udp.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, _, err := udp.ReadFrom(buf); err != nil {
				received <- n
				return
			}
			n++
		}
	}()
	for i := 0; i < sent; i++ {
		if _, err := usend.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	n := <-received
	_ = rule("-D")
	st = d.Stop()
	if st.KernelDropped < 0 || st.KernelDropped > sent/2 || st.Seen+st.KernelDropped < sent {
		t.Errorf("loss 30%%: the delayer saw %d packets and the kernel dropped %d before it, want the %d datagrams, at most half dropped by the kernel",
			st.Seen, st.KernelDropped, sent)
	}
	if share := float64(st.Dropped) / float64(max(st.Seen, 1)); share < 0.2 || share > 0.4 {
		t.Errorf("loss 30%%: the delayer dropped %d of %d (%.2f), want 0.2 to 0.4", st.Dropped, st.Seen, share)
	}
	if n == 0 || n > st.Accepted {
		t.Errorf("loss 30%%: %d datagrams arrived, want 1 to the %d packets accepted (stats %+v)", n, st.Accepted, st)
	}
}

// TestDelayerRefusesBadSettings: each bad setting is named.
func TestDelayerRefusesBadSettings(t *testing.T) {
	for _, c := range []struct {
		delay, jitter time.Duration
		loss          float64
		want          string
	}{
		{-time.Millisecond, 0, 0, "delay -1ms"},
		{MaxDelay + 1, 0, 0, "delay 10.000000001s"},
		{time.Millisecond, 2 * time.Millisecond, 0, "jitter 2ms"},
		{0, 0, 1.5, "loss 1.5"},
	} {
		_, err := StartDelayer("", 1, c.delay, c.jitter, c.loss, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("StartDelayer(%s, %s, %g) = %v, want an error naming %q", c.delay, c.jitter, c.loss, err, c.want)
		}
	}
}
