// Command kvload drives a steward cluster's kv namespace for the failover
// scripts: it writes keys continuously, logging every acknowledged write,
// and later verifies that every acknowledged write is readable and reports
// the time from a leader kill to the first write committed under the new
// leader.
//
//	kvload write  --addrs A,B,C --log acked.log [--prefix p/] [--clients 1]   (until SIGINT/SIGTERM)
//	kvload report --log acked.log --kill-ns T --old-leader n1
//	kvload verify --addrs A,B,C --log acked.log
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/steward/steward/client"
	"github.com/steward/steward/pb"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kvload write|report|verify [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "write":
		err = write(os.Args[2:])
	case "report":
		err = report(os.Args[2:])
	case "verify":
		err = verify(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvload:", err)
		os.Exit(1)
	}
}

// rotating sends each request to one address and moves to the next when a
// node is unreachable.
type rotating struct {
	clients []*client.Client
	next    atomic.Int64
}

func dialAll(addrs string) (*rotating, error) {
	r := &rotating{}
	for _, a := range strings.Split(addrs, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		c, err := client.New(a)
		if err != nil {
			return nil, err
		}
		r.clients = append(r.clients, c)
	}
	if len(r.clients) == 0 {
		return nil, errors.New("--addrs is empty")
	}
	return r, nil
}

func (r *rotating) pick() *client.Client {
	return r.clients[int(r.next.Load())%len(r.clients)]
}

func (r *rotating) failed() { r.next.Add(1) }

func write(args []string) error {
	fs := flag.NewFlagSet("write", flag.ExitOnError)
	addrs := fs.String("addrs", "127.0.0.1:7403", "comma-separated gRPC addresses")
	logPath := fs.String("log", "acked.log", "file that records each acknowledged write")
	prefix := fs.String("prefix", "failover/", "key prefix")
	clients := fs.Int("clients", 1, "concurrent writers")
	_ = fs.Parse(args)
	r, err := dialAll(*addrs)
	if err != nil {
		return err
	}
	f, err := os.Create(*logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	w := bufio.NewWriter(f)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var seq atomic.Int64
	var acked, failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				key := fmt.Sprintf("%s%08d", *prefix, seq.Add(1))
				c := r.pick()
				rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				resp, err := c.Put(rctx, key, []byte(key), nil)
				cancel()
				if err != nil {
					failed.Add(1)
					r.failed()
					continue
				}
				acked.Add(1)
				mu.Lock()
				fmt.Fprintf(w, "%d %s %s %d\n", time.Now().UnixNano(), key, resp.Meta.Leader, resp.Meta.Index)
				err = w.Flush() // the script watches the file while we write
				mu.Unlock()
				if err != nil {
					fmt.Fprintln(os.Stderr, "kvload: log:", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("writes acknowledged: %d, failed (retried with a new key): %d\n", acked.Load(), failed.Load())
	return w.Flush()
}

type ack struct {
	at     int64
	key    string
	leader string
}

func readLog(path string) ([]ack, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []ack
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) < 3 {
			continue
		}
		at, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		out = append(out, ack{at: at, key: parts[1], leader: parts[2]})
	}
	return out, sc.Err()
}

func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	logPath := fs.String("log", "acked.log", "log written by kvload write")
	killNs := fs.Int64("kill-ns", 0, "when the leader was killed (Unix ns)")
	old := fs.String("old-leader", "", "name of the killed leader")
	_ = fs.Parse(args)
	acks, err := readLog(*logPath)
	if err != nil {
		return err
	}
	for _, a := range acks {
		if a.at > *killNs && a.leader != *old && a.leader != "" {
			fmt.Printf("first write committed under the new leader %s: %.0f ms after the kill\n", a.leader, float64(a.at-*killNs)/1e6)
			return nil
		}
	}
	return fmt.Errorf("no write committed under a new leader after the kill (%d acknowledged in all)", len(acks))
}

func verify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	addrs := fs.String("addrs", "127.0.0.1:7403", "comma-separated gRPC addresses")
	logPath := fs.String("log", "acked.log", "log written by kvload write")
	prefix := fs.String("prefix", "failover/", "key prefix")
	_ = fs.Parse(args)
	acks, err := readLog(*logPath)
	if err != nil {
		return err
	}
	r, err := dialAll(*addrs)
	if err != nil {
		return err
	}
	var resp *pb.KVListResponse
	for attempt := 0; attempt < 3*len(r.clients); attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		resp, err = r.pick().KV.List(ctx, &pb.KVListRequest{Prefix: *prefix, KeysOnly: true})
		cancel()
		if err == nil {
			break
		}
		r.failed()
	}
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	have := make(map[string]bool, len(resp.Entries))
	for _, e := range resp.Entries {
		have[e.Key] = true
	}
	lost := 0
	for _, a := range acks {
		if !have[a.key] {
			lost++
			if lost <= 10 {
				fmt.Printf("LOST: %s (acknowledged by leader %s)\n", a.key, a.leader)
			}
		}
	}
	if lost > 0 {
		return fmt.Errorf("%d of %d acknowledged writes are missing", lost, len(acks))
	}
	fmt.Printf("all %d acknowledged writes are readable\n", len(acks))
	return nil
}
