//go:build integration

package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netLab is a Linux bridge in its own network namespace with one veth per
// agent namespace; the agent side of each veth is eth1 with 10.250.0.x/24.
type netLab struct {
	t      *testing.T
	prefix string
	nsList []string
}

func run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newNetLab(t *testing.T, agents int) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("integration test needs root to create network namespaces (run make integration as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("integration test needs iproute2's ip command")
	}
	l := &netLab{t: t, prefix: fmt.Sprintf("tbag%d", os.Getpid()%100000)}
	t.Cleanup(l.cleanup)
	br := l.prefix + "-br"
	l.addNS(br)
	run(t, "-n", br, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	run(t, "-n", br, "link", "set", "br0", "up")
	for i := range agents {
		ns := fmt.Sprintf("%s-%d", l.prefix, i)
		l.addNS(ns)
		host := fmt.Sprintf("v%d", i)
		run(t, "-n", br, "link", "add", host, "type", "veth", "peer", "name", "eth1", "netns", ns)
		run(t, "-n", br, "link", "set", host, "master", "br0", "up")
		run(t, "-n", ns, "addr", "add", fmt.Sprintf("10.250.0.%d/24", i+1), "dev", "eth1")
		run(t, "-n", ns, "link", "set", "eth1", "up")
		run(t, "-n", ns, "link", "set", "lo", "up")
	}
	return l
}

func (l *netLab) addNS(name string) {
	run(l.t, "netns", "add", name)
	l.nsList = append(l.nsList, name)
}

func (l *netLab) cleanup() {
	for _, ns := range l.nsList {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			l.t.Errorf("cleanup: ip netns del %s: %v: %s", ns, err, out)
		}
	}
}

// listenIn opens the multicast transport inside agent namespace i. The
// socket keeps its namespace after the thread switches back.
func (l *netLab) listenIn(i int, group string) *UDPTransport {
	l.t.Helper()
	type result struct {
		tr  *UDPTransport
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open(fmt.Sprintf("/var/run/netns/%s-%d", l.prefix, i))
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		tr, err := ListenMulticast(context.Background(), "eth1", group)
		ch <- result{tr, err}
	}()
	r := <-ch
	if r.err != nil {
		l.t.Fatalf("agent %d: %v", i, r.err)
	}
	return r.tr
}

type storeEvent struct{ observer, op, peer string }

type runningAgent struct {
	a      *Agent
	cancel context.CancelFunc
	done   chan error
}

func startAgent(t *testing.T, l *netLab, i int, name string, groups []string, events chan<- storeEvent) *runningAgent {
	t.Helper()
	tr := l.listenIn(i, DefaultGroupAddress)
	st := NewMemoryStore()
	st.OnChange = func(op string, p Peer) { events <- storeEvent{name, op, p.Cluster} }
	cfg := Config{
		Cluster: name, Address: tr.LocalAddr().String() + ":4001", Groups: groups,
		Interval: 300 * time.Millisecond, FirstDelay: 0, TTL: 10 * time.Second, Housekeeping: 20 * time.Second,
	}
	a, err := New(cfg, tr, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{a: a, cancel: cancel, done: make(chan error, 1)}
	go func() { ra.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-ra.done
	})
	return ra
}

// waitEvents collects events until want are all seen or the deadline passes.
func waitEvents(t *testing.T, events <-chan storeEvent, deadline time.Duration, want ...storeEvent) time.Duration {
	t.Helper()
	start := time.Now()
	missing := map[storeEvent]bool{}
	for _, w := range want {
		missing[w] = true
	}
	timeout := time.After(deadline)
	for len(missing) > 0 {
		select {
		case e := <-events:
			delete(missing, e)
		case <-timeout:
			t.Fatalf("after %v still missing %v", deadline, missing)
		}
	}
	return time.Since(start)
}

func TestIntegrationAgentsOnBridge(t *testing.T) {
	l := newNetLab(t, 3)
	events := make(chan storeEvent, 256)
	a := startAgent(t, l, 0, "lab-a", []string{"default"}, events)
	b := startAgent(t, l, 1, "lab-b", []string{"default", "tenant-x"}, events)
	c := startAgent(t, l, 2, "lab-c", []string{"tenant-y"}, events)

	// Immediate first announcement, 300 ms period: both directions within
	// about one interval (generous bound for a loaded CI machine).
	took := waitEvents(t, events, 3*time.Second,
		storeEvent{"lab-a", "create", "lab-b"}, storeEvent{"lab-b", "create", "lab-a"})
	t.Logf("a<->b discovered in %v", took)

	// Group isolation: c receives a's and b's packets but drops them as
	// foreign, and nobody learns c.
	deadline := time.Now().Add(5 * time.Second)
	for c.a.Metrics().PacketsForeign.Load() < 4 || a.a.Metrics().PacketsForeign.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("foreign packets: c=%d a=%d; multicast is not crossing the bridge", c.a.Metrics().PacketsForeign.Load(), a.a.Metrics().PacketsForeign.Load())
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling a counter, not synchronising
	}
	if p := c.a.Peers(); len(p) != 0 {
		t.Fatalf("lab-c (tenant-y) discovered %v", p)
	}
	for _, ra := range []*runningAgent{a, b} {
		for _, p := range ra.a.Peers() {
			if p.Cluster == "lab-c" {
				t.Fatalf("%s discovered lab-c across groups", ra.a.Config().Cluster)
			}
		}
	}

	// Ground truth: receive after send, by less than the bound.
	for _, p := range b.a.Peers() {
		if d := time.Duration(p.FirstRecvNS - p.FirstSendNS); d < 0 || d > time.Second {
			t.Fatalf("b's ground truth for %s: recv-send = %v", p.Cluster, d)
		}
	}

	// Goodbye: a leaves; b drops it far sooner than the 10 s TTL.
	start := time.Now()
	a.cancel()
	if err := <-a.done; err != nil {
		t.Fatalf("agent a: %v", err)
	}
	a.done <- nil // for the cleanup
	waitEvents(t, events, 2*time.Second, storeEvent{"lab-b", "delete", "lab-a"})
	t.Logf("goodbye removed lab-a from lab-b after %v", time.Since(start))
	if n := b.a.Metrics().GoodbyesReceived.Load(); n != 1 {
		t.Fatalf("b goodbyes received = %d, want 1", n)
	}
	if n := a.a.Metrics().SendErrors.Load(); n != 0 {
		t.Fatalf("a send errors = %d", n)
	}
}

// TestIntegrationKernelReceiveStamps: a datagram across the bridge comes
// with the kernel's receive stamp, after it was sent and before the reader
// returned.
func TestIntegrationKernelReceiveStamps(t *testing.T) {
	l := newNetLab(t, 2)
	const group = "239.11.11.9:4009"
	tx, rx := l.listenIn(0, group), l.listenIn(1, group)
	defer tx.Close()
	defer rx.Close()
	got := make(chan error, 1)
	var at, returned time.Time
	go func() {
		buf := make([]byte, 64)
		_, a, err := rx.RecvStamped(context.Background(), buf)
		at, returned = a, time.Now()
		got <- err
	}()
	sent := time.Now()
	if err := tx.Send(context.Background(), []byte("stamp")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram across the bridge in 5 s")
	}
	if at.IsZero() || at.Before(sent.Add(-time.Millisecond)) || at.After(returned) {
		t.Fatalf("kernel stamp %v, sent %v, read returned %v: want sent <= stamp <= returned", at, sent, returned)
	}
	t.Logf("kernel stamp %v after the send, %v before the read returned", at.Sub(sent), returned.Sub(at))
}
