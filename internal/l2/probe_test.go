package l2

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// startListener serves on a loopback port until the test ends.
func startListener(t *testing.T) netip.AddrPort {
	t.Helper()
	l, err := NewListener(netip.AddrPortFrom(loopback, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr()
}

// freePort returns a loopback UDP port nothing listens on (bound, then
// released).
func freePort(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	c.Close()
	return ap
}

func TestProbeLoopback(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Probe sets IP_MTU_DISCOVER, Linux only")
	}
	to := startListener(t)
	// Loopback's MTU is 65536: every size passes, the largest IP packet too.
	res, err := Probe(context.Background(), to, []int{1500, MinProbeSize, MaxProbeSize, 1500}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reachable || res.PathMTU != MaxProbeSize || res.RTT <= 0 || res.To != to {
		t.Errorf("result %+v: want reachable, path MTU %d, a positive RTT", res, MaxProbeSize)
	}
	var sizes []int
	for _, s := range res.Sizes {
		sizes = append(sizes, s.Size)
		if !s.Echoed || s.Sent != 1 || s.Error != "" || s.Skipped || s.RTT <= 0 {
			t.Errorf("size %+v: want echoed on the first datagram", s)
		}
	}
	if want := []int{MinProbeSize, 1500, MaxProbeSize}; !slices.Equal(sizes, want) {
		t.Errorf("sizes %v, want %v (sorted, repeats folded)", sizes, want)
	}
}

func TestProbeRefused(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Probe sets IP_MTU_DISCOVER, Linux only")
	}
	to := freePort(t)
	res, err := Probe(context.Background(), to, []int{100, 200}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reachable || res.PathMTU != 0 || len(res.Sizes) != 2 {
		t.Fatalf("result %+v: want unreachable", res)
	}
	if s := res.Sizes[0]; s.Echoed || s.Sent != ProbeAttempts || !strings.Contains(s.Error, "connection refused") {
		t.Errorf("size 100: %+v, want %d datagrams and connection refused", s, ProbeAttempts)
	}
	if s := res.Sizes[1]; !s.Skipped || s.Sent != 0 {
		t.Errorf("size 200: %+v, want skipped after 100 failed", s)
	}
}

// TestProbeSilent: a socket that never answers costs ProbeAttempts
// timeouts, then the larger sizes are skipped.
func TestProbeSilent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Probe sets IP_MTU_DISCOVER, Linux only")
	}
	silent, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	to := silent.LocalAddr().(*net.UDPAddr).AddrPort()
	res, err := Probe(context.Background(), to, []int{100, 200}, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reachable || res.Sizes[0].Sent != ProbeAttempts || res.Sizes[0].Error != "" || !res.Sizes[1].Skipped {
		t.Errorf("result %+v: want %d silent attempts, then skipped", res, ProbeAttempts)
	}
}

func TestProbeArguments(t *testing.T) {
	ok := netip.AddrPortFrom(loopback, 9)
	for _, tc := range []struct {
		name    string
		to      netip.AddrPort
		sizes   []int
		timeout time.Duration
		want    string
	}{
		{"no sizes", ok, nil, time.Second, "no sizes"},
		{"size too small", ok, []int{MinProbeSize - 1}, time.Second, "probe size 35 out of range 36..65535"},
		{"size too large", ok, []int{MaxProbeSize + 1}, time.Second, "out of range"},
		{"zero timeout", ok, []int{100}, 0, "must be positive"},
		{"no port", netip.AddrPortFrom(loopback, 0), []int{100}, time.Second, "want a unicast IPv4 address and a port"},
		{"IPv6", netip.MustParseAddrPort("[::1]:9"), []int{100}, time.Second, "want a unicast IPv4"},
		{"multicast", netip.MustParseAddrPort("239.1.1.1:9"), []int{100}, time.Second, "want a unicast IPv4"},
		{"invalid", netip.AddrPort{}, []int{100}, time.Second, "want a unicast IPv4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Probe(context.Background(), tc.to, tc.sizes, tc.timeout)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Probe error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestProbeCancelled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Probe sets IP_MTU_DISCOVER, Linux only")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Probe(ctx, freePort(t), []int{100}, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Probe with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestListenerAnswers pins the wire format and that strangers' datagrams
// get no answer.
func TestListenerAnswers(t *testing.T) {
	to := startListener(t)
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range [][]byte{[]byte("hello, not a probe"), []byte("TBL")} {
		if _, err := c.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	probe := append([]byte(probeMagic), 0, 0, 0, 7)
	probe = append(probe, make([]byte, 92)...)
	if _, err := c.Write(probe); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	// Datagrams on loopback arrive in order: the first answer is the probe's.
	if n != answerLen || string(buf[:4]) != probeMagic || binary.BigEndian.Uint32(buf[4:]) != 7 || binary.BigEndian.Uint32(buf[8:]) != 100 {
		t.Errorf("answer % x, want magic, seq 7, length 100", buf[:n])
	}
}

func TestListenErrors(t *testing.T) {
	if _, err := NewListener(netip.MustParseAddrPort("[::1]:0")); err == nil || !strings.Contains(err.Error(), "want an IPv4") {
		t.Errorf("IPv6 listen address: %v", err)
	}
	taken := startListener(t)
	if err := Listen(context.Background(), taken); err == nil || !strings.Contains(err.Error(), "listening on udp "+taken.String()) {
		t.Errorf("Listen on a taken port: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Listen(ctx, netip.AddrPortFrom(loopback, 0)); err != nil {
		t.Errorf("Listen with an ended context: %v, want nil", err)
	}
}
