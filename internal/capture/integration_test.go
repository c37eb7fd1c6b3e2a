//go:build integration

package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"golang.org/x/sys/unix"
)

// The integration tests build a small Docker-like network: a Linux bridge
// br0 in a "switch" network namespace, and one namespace per host, each
// attached to the bridge by a veth pair (host side eth0 with 192.0.2.N/24,
// switch side pN). All addresses live only inside these namespaces.

func needRoot(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root to create network namespaces and AF_PACKET sockets (run make integration as root)"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs iproute2's ip command"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("integration test " + why + "; CI=true, so this is a failure, not a skip")
	}
	t.Skip("integration test " + why)
}

var labSeq atomic.Int32

type netLab struct {
	t      *testing.T
	prefix string
	sw     string // the switch namespace, holding br0
	hosts  []string
	ips    []netip.Addr
	nsList []string
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// newNetLab builds the bridge with multicast snooping on or off and n hosts.
func newNetLab(t *testing.T, n int, snooping bool) *netLab {
	t.Helper()
	needRoot(t)
	l := &netLab{t: t, prefix: fmt.Sprintf("tbcap%d-%d", os.Getpid()%100000, labSeq.Add(1))}
	t.Cleanup(l.cleanup)
	l.sw = l.prefix + "-sw"
	l.addNS(l.sw)
	snoop := "0"
	if snooping {
		snoop = "1"
	}
	ipCmd(t, "-n", l.sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", snoop)
	ipCmd(t, "-n", l.sw, "addr", "add", "192.0.2.254/24", "dev", "br0")
	ipCmd(t, "-n", l.sw, "link", "set", "br0", "up")
	ipCmd(t, "-n", l.sw, "link", "set", "lo", "up")
	for i := range n {
		ns := fmt.Sprintf("%s-%d", l.prefix, i)
		l.addNS(ns)
		port := fmt.Sprintf("p%d", i)
		ipCmd(t, "-n", l.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ipCmd(t, "-n", l.sw, "link", "set", port, "master", "br0", "up")
		addr := netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
		ipCmd(t, "-n", ns, "addr", "add", addr.String()+"/24", "dev", "eth0")
		ipCmd(t, "-n", ns, "link", "set", "eth0", "up")
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
		ipCmd(t, "-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
		l.hosts = append(l.hosts, ns)
		l.ips = append(l.ips, addr)
	}
	return l
}

func (l *netLab) addNS(name string) {
	ipCmd(l.t, "netns", "add", name)
	l.nsList = append(l.nsList, name)
}

func (l *netLab) cleanup() {
	for _, ns := range slices.Backward(l.nsList) {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			l.t.Errorf("cleanup: ip netns del %s: %v: %s", ns, err, out)
		}
	}
}

// sysctl sets a sysctl inside namespace ns.
func (l *netLab) sysctl(ns, key, value string) {
	l.t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", key+"="+value).CombinedOutput(); err != nil {
		l.t.Fatalf("sysctl %s=%s in %s: %v: %s", key, value, ns, err, out)
	}
}

// in runs fn on an OS thread switched into namespace ns. Sockets fn
// opens stay in ns. The thread is never unlocked, so it dies with the
// goroutine instead of returning to the pool in the wrong namespace.
func in[T any](l *netLab, ns string, fn func() (T, error)) T {
	l.t.Helper()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		v, err := fn()
		ch <- result{v, err}
	}()
	r := <-ch
	if r.err != nil {
		l.t.Fatalf("in netns %s: %v", ns, r.err)
	}
	return r.v
}

func (l *netLab) open(ns, ifname string, groups []Group, opts Options) *Capture {
	l.t.Helper()
	c := in(l, ns, func() (*Capture, error) { return Open(ifname, groups, opts) })
	l.t.Cleanup(func() { c.Close() })
	if err := c.Start(l.t.Context()); err != nil {
		l.t.Fatal(err)
	}
	return c
}

// sender is a UDP socket in host i.
func (l *netLab) sender(i int) *net.UDPConn {
	l.t.Helper()
	c := in(l, l.hosts[i], func() (*net.UDPConn, error) {
		return net.ListenUDP("udp4", &net.UDPAddr{IP: l.ips[i].AsSlice()})
	})
	l.t.Cleanup(func() { c.Close() })
	return c
}

// join makes host i a member of g (the kernel sends an IGMP report).
func (l *netLab) join(i int, g Group) *net.UDPConn {
	l.t.Helper()
	return in(l, l.hosts[i], func() (*net.UDPConn, error) {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return nil, err
		}
		return net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: g.Addr.AsSlice(), Port: int(g.Port)})
	})
}

// sent is one datagram as its sender sent it.
type sent struct {
	src  netip.Addr
	hash uint64
	at   time.Time // CLOCK_REALTIME just before the send
}

const payloadMagic = "tbcap"

// payload is what the test senders send: magic, sender index, sequence,
// send time (Unix ns), padding.
func payload(sender, seq int, at time.Time) []byte {
	b := append([]byte(payloadMagic), byte(sender))
	b = binary.BigEndian.AppendUint32(b, uint32(seq))
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	return append(b, make([]byte, 48)...)
}

// send sends n datagrams from conn to g, one per interval (a pacing
// ticker, not synchronisation), and returns what it sent.
func send(ctx context.Context, conn *net.UDPConn, sender int, src netip.Addr, g Group, first, n int, interval time.Duration) ([]sent, error) {
	dst := &net.UDPAddr{IP: g.Addr.AsSlice(), Port: int(g.Port)}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var out []sent
	for seq := first; seq < first+n; seq++ {
		now := time.Now()
		p := payload(sender, seq, now)
		if _, err := conn.WriteToUDP(p, dst); err != nil {
			return out, fmt.Errorf("send %d to %s: %w", seq, g, err)
		}
		out = append(out, sent{src: src, hash: HashPayload(p), at: now})
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-tick.C:
		}
	}
	return out, nil
}

// waitFor polls c until cond holds for its packets, or fails at the deadline.
func waitFor(t *testing.T, c *Capture, timeout time.Duration, what string, cond func([]Packet) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond(c.Packets(time.Time{}, time.Time{})) {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range c.Packets(time.Time{}, time.Time{}) {
				if p.Kind != KindAnnouncement {
					t.Logf("seen: %v %s %s->%s type %#x v%d %+v", p.Time.Format("15:04:05.000000"), p.Kind, p.SrcIP, p.DstIP, p.IGMPType, p.IGMPVersion, p.Events)
				}
			}
			t.Fatalf("%s: not seen on %s within %v (stats %+v)", what, c.Interface(), timeout, c.Stats())
		}
		<-tick.C
	}
}

func hasEvent(pkts []Packet, src netip.Addr, g netip.Addr, op Op, version uint8) bool {
	for _, p := range pkts {
		if p.Kind != KindMembership || p.SrcIP != src {
			continue
		}
		for _, e := range p.Events {
			if e.Group == g && e.Op == op && e.Version == version {
				return true
			}
		}
	}
	return false
}

func countHashes(pkts []Packet, want []sent) map[sent]int {
	idx := make(map[[2]uint64]sent, len(want))
	for _, s := range want {
		idx[[2]uint64{uint64(s.src.As4()[3]), s.hash}] = s
	}
	n := make(map[sent]int, len(want))
	for _, p := range pkts {
		if p.Kind != KindAnnouncement {
			continue
		}
		if s, ok := idx[[2]uint64{uint64(p.SrcIP.As4()[3]), p.Hash}]; ok && p.SrcIP == s.src {
			n[s]++
		}
	}
	return n
}

func percentile(d []time.Duration, q float64) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// TestIntegrationCapture captures on the bridge of a Docker-like network
// (snooping on, no querier): two senders announce to the two groups, two
// hosts join and leave with IGMPv3 and IGMPv2, then the bridge becomes
// querier. Every datagram must be captured once, within 5 ms (p99) of its
// send time, and every membership event with its source.
func TestIntegrationCapture(t *testing.T) {
	l := newNetLab(t, 3, true)
	a, b, c := 0, 1, 2
	l.sysctl(l.hosts[b], "net.ipv4.conf.eth0.force_igmp_version", "2")
	var tee bytes.Buffer
	capt := l.open(l.sw, "br0", []Group{group1, group2}, Options{Pcap: &tee})

	// Joins: c with IGMPv3, b with IGMPv2.
	cl := l.join(c, group1)
	bl := l.join(b, group2)
	waitFor(t, capt, 5*time.Second, "IGMPv3 join of c and IGMPv2 join of b", func(p []Packet) bool {
		return hasEvent(p, l.ips[c], group1.Addr, OpJoin, 3) && hasEvent(p, l.ips[b], group2.Addr, OpJoin, 2)
	})

	// Announcements: a to group1, b to group2, concurrently.
	const n = 100
	ctx := t.Context()
	type res struct {
		s   []sent
		err error
	}
	ch := make(chan res, 2)
	sa, sb := l.sender(a), l.sender(b)
	go func() { s, err := send(ctx, sa, a, l.ips[a], group1, 0, n, 10*time.Millisecond); ch <- res{s, err} }()
	go func() { s, err := send(ctx, sb, b, l.ips[b], group2, 0, n, 10*time.Millisecond); ch <- res{s, err} }()
	var all []sent
	for range 2 {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		all = append(all, r.s...)
	}
	waitFor(t, capt, 5*time.Second, "every datagram", func(p []Packet) bool { return len(countHashes(p, all)) == len(all) })
	// A sentinel from each sender after everything: once both are in,
	// any duplicate of an earlier datagram would be in too.
	sentinels := slices.Concat(
		sendOK(t, ctx, sa, a, l.ips[a], group1, n, 1, time.Millisecond),
		sendOK(t, ctx, sb, b, l.ips[b], group2, n, 1, time.Millisecond))
	waitFor(t, capt, 5*time.Second, "sentinels", func(p []Packet) bool { return len(countHashes(p, sentinels)) == 2 })

	pkts := capt.Packets(time.Time{}, time.Time{})
	counts := countHashes(pkts, all)
	var diffs []time.Duration
	for _, s := range all {
		if counts[s] != 1 {
			t.Errorf("datagram from %s sent at %v captured %d times", s.src, s.at, counts[s])
		}
	}
	byHash := map[uint64]Packet{}
	for _, p := range pkts {
		if p.Kind == KindAnnouncement {
			byHash[p.Hash] = p
		}
	}
	for _, s := range all {
		p := byHash[s.hash]
		d := p.Time.Sub(s.at)
		diffs = append(diffs, d)
		if p.SrcIP != s.src {
			t.Errorf("datagram from %s captured with source %s", s.src, p.SrcIP)
		}
	}
	p50, p99, pmax := percentile(diffs, 0.5), percentile(diffs, 0.99), slices.Max(diffs)
	t.Logf("capture time − send time over %d datagrams: min %v p50 %v p99 %v max %v", len(diffs), slices.Min(diffs), p50, p99, pmax)
	if p99 >= 5*time.Millisecond || slices.Min(diffs) < -time.Millisecond {
		t.Errorf("capture vs send time: p99 %v (want < 5ms), min %v", p99, slices.Min(diffs))
	}
	for _, tl := range Timelines(pkts) {
		t.Logf("timeline %s (%s): %d announcements, %d joins, %d leaves", tl.Sender, tl.SrcMAC, len(tl.Announcements), len(tl.Joins), len(tl.Leaves))
	}
	tls := Timelines(pkts)
	if i := slices.IndexFunc(tls, func(tl Timeline) bool { return tl.Sender == l.ips[a] }); i < 0 || len(tls[i].Announcements) != n+1 {
		t.Errorf("timeline of %s missing or incomplete", l.ips[a])
	} else if per, ok := Period(tls[i].Times()[:n]); !ok || per < 9*time.Millisecond || per > 11*time.Millisecond {
		t.Errorf("Period of sender a = %v, %v, want about 10ms", per, ok)
	}

	// Leaves: b (IGMPv2 leave), c (IGMPv3 CHANGE_TO_INCLUDE {}).
	bl.Close()
	cl.Close()
	waitFor(t, capt, 5*time.Second, "leaves of b and c", func(p []Packet) bool {
		return hasEvent(p, l.ips[b], group2.Addr, OpLeave, 2) && hasEvent(p, l.ips[c], group1.Addr, OpLeave, 3)
	})

	// The bridge becomes querier (responses within 1 s): queries, and c,
	// member again, answers with MODE_IS_EXCLUDE {}.
	cl = l.join(c, group1)
	defer cl.Close()
	ipCmd(t, "-n", l.sw, "link", "set", "br0", "type", "bridge", "mcast_query_response_interval", "100", "mcast_query_use_ifaddr", "1", "mcast_igmp_version", "3")
	ipCmd(t, "-n", l.sw, "link", "set", "br0", "type", "bridge", "mcast_querier", "1")
	waitFor(t, capt, 10*time.Second, "query and c's current-state report", func(pkts []Packet) bool {
		q := slices.ContainsFunc(pkts, func(p Packet) bool { return p.Kind == KindQuery })
		r := slices.ContainsFunc(pkts, func(p Packet) bool {
			return p.SrcIP == l.ips[c] && slices.ContainsFunc(p.Events, func(e Membership) bool { return e.RecordType == recModeIsExclude && e.Op == OpJoin })
		})
		return q && r
	})

	if err := capt.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := capt.Stats()
	t.Logf("stats: %+v", st)
	if st.KernelDropped != 0 || st.DecodeErrors != 0 || st.RingDropped != 0 || st.NoKernelTime != 0 || st.PcapErrors != 0 {
		t.Errorf("stats %+v: want no drops, errors or missing timestamps", st)
	}
	if st.KernelReceived != st.Read || st.Read != st.Kept+st.Ignored {
		t.Errorf("stats %+v: kernel received != read, or read != kept + ignored", st)
	}

	// The tee holds the same frames, with the same kernel timestamps.
	fromTee, tst, err := ReadPcap(bytes.NewReader(tee.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if tst.Read != st.Read || len(fromTee) != int(st.Kept) {
		t.Errorf("pcap tee: %d records, %d packets; capture read %d, kept %d", tst.Read, len(fromTee), st.Read, st.Kept)
	}
	ring := capt.Packets(time.Time{}, time.Time{})
	for i := range min(len(ring), len(fromTee)) {
		if !equalPacket(ring[i], fromTee[i]) {
			t.Errorf("packet %d: ring %+v, pcap %+v", i, ring[i], fromTee[i])
			break
		}
	}
	if os.Getenv("CAPTURE_WRITE_FIXTURES") == "1" {
		writeFixtures(t, tee.Bytes())
	}
}

// sendOK is send, failing the test on an error.
func sendOK(t *testing.T, ctx context.Context, conn *net.UDPConn, sender int, src netip.Addr, g Group, first, n int, interval time.Duration) []sent {
	t.Helper()
	s, err := send(ctx, conn, sender, src, g, first, n, interval)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeFixtures splits the tee into testdata/announce.pcap (the first 6
// announcements of each sender) and testdata/igmp.pcap (every IGMP frame).
func writeFixtures(t *testing.T, tee []byte) {
	r, err := pcapgo.NewReader(bytes.NewReader(tee))
	if err != nil {
		t.Fatal(err)
	}
	var ann, igmp bytes.Buffer
	wa, wi := pcapgo.NewWriterNanos(&ann), pcapgo.NewWriterNanos(&igmp)
	for _, w := range []*pcapgo.Writer{wa, wi} {
		if err := w.WriteFileHeader(IGMPSnapLen, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
	}
	perSender := map[netip.Addr]int{}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p, err := Decode(data, ci.Timestamp)
		if err != nil {
			t.Fatalf("tee frame: %v", err)
		}
		var w *pcapgo.Writer
		switch {
		case p.Kind == KindAnnouncement && perSender[p.SrcIP] < 6:
			perSender[p.SrcIP]++
			w = wa
		case p.Kind != KindAnnouncement:
			w = wi
		}
		if w != nil {
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ci.Timestamp, CaptureLength: len(data), Length: ci.Length}, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range map[string][]byte{"announce.pcap": ann.Bytes(), "igmp.pcap": igmp.Bytes()} {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote testdata/%s (%d bytes)", name, len(b))
	}
}

// sentinelGroup is link-local (224.0.0.0/24): bridges never snoop it, so
// every port and the bridge device see it. A datagram to it after the
// test datagrams tells each capture point that it has seen all it will.
var sentinelGroup = Group{Addr: netip.MustParseAddr("224.0.0.200"), Port: 4000}

// TestIntegrationBridgeVisibility checks which capture point sees the
// datagrams a sender port forwards to a member port, with multicast
// snooping off and on, and with and without a querier (snooping prunes
// only once a querier exists). Host 0 sends, host 2 is a member of
// group1, host 1 is not. The bridge device is captured in promiscuous
// mode or not in separate labs, since one promiscuous socket makes the
// device promiscuous for all; bridge ports are always promiscuous.
func TestIntegrationBridgeVisibility(t *testing.T) {
	const n = 20
	type point struct {
		name, ifname string
		opts         Options
	}
	for _, cfg := range []struct{ snooping, querier, promisc bool }{
		{false, false, true}, {false, false, false},
		{true, false, true}, {true, false, false},
		{true, true, true}, {true, true, false},
	} {
		t.Run(fmt.Sprintf("snooping=%v,querier=%v,br0-promisc=%v", cfg.snooping, cfg.querier, cfg.promisc), func(t *testing.T) {
			points := []point{
				{"br0", "br0", Options{NoPromisc: !cfg.promisc}},
				{"p0 (sender's port)", "p0", Options{NoPromisc: true}},
				{"p1 (non-member's port)", "p1", Options{NoPromisc: true}},
				{"p2 (member's port)", "p2", Options{NoPromisc: true}},
			}
			l := newNetLab(t, 3, cfg.snooping)
			groups := []Group{group1, sentinelGroup}
			caps := make([]*Capture, len(points))
			for i, p := range points {
				caps[i] = l.open(l.sw, p.ifname, groups, p.opts)
			}
			if cfg.querier {
				// Separate commands: the kernel applies mcast_querier
				// before the response interval, and the querier only
				// counts (snooping prunes) a response interval after.
				ipCmd(t, "-n", l.sw, "link", "set", "br0", "type", "bridge", "mcast_query_response_interval", "10", "mcast_query_use_ifaddr", "1", "mcast_igmp_version", "3")
				ipCmd(t, "-n", l.sw, "link", "set", "br0", "type", "bridge", "mcast_querier", "1")
				waitFor(t, caps[0], 5*time.Second, "the bridge's query", func(p []Packet) bool {
					return slices.ContainsFunc(p, func(p Packet) bool { return p.Kind == KindQuery })
				})
			}
			member := l.join(2, group1)
			defer member.Close()
			waitFor(t, caps[0], 5*time.Second, "the member's join", func(p []Packet) bool { return hasEvent(p, l.ips[2], group1.Addr, OpJoin, 3) })
			s := l.sender(0)
			seq := 1000
			// probe sends one datagram to group1 and a sentinel, and
			// reports whether the datagram reached the non-member's port.
			probe := func() bool {
				d := sendOK(t, t.Context(), s, 0, l.ips[0], group1, seq, 1, time.Millisecond)
				st := sendOK(t, t.Context(), s, 0, l.ips[0], sentinelGroup, seq+1, 1, time.Millisecond)
				seq += 2
				waitFor(t, caps[2], 5*time.Second, "probe sentinel at p1", func(p []Packet) bool { return len(countHashes(p, st)) == 1 })
				return len(countHashes(caps[2].Packets(time.Time{}, time.Time{}), d)) == 1
			}
			if cfg.querier {
				// The bridge starts pruning once its querier has
				// existed for a response interval: poll until it does.
				deadline := time.Now().Add(5 * time.Second)
				for probe() {
					if time.Now().After(deadline) {
						t.Fatal("snooping with a querier never pruned the non-member port")
					}
				}
			}
			if cfg.snooping {
				out, _ := exec.Command("bridge", "-n", l.sw, "mdb", "show").CombinedOutput()
				t.Logf("mdb: %s", bytes.TrimSpace(out))
			}
			all := sendOK(t, t.Context(), s, 0, l.ips[0], group1, 0, n, 2*time.Millisecond)
			sentinel := sendOK(t, t.Context(), s, 0, l.ips[0], sentinelGroup, n, 1, time.Millisecond)
			var table []string
			for i, p := range points {
				waitFor(t, caps[i], 5*time.Second, "sentinel at "+p.name, func(p []Packet) bool { return len(countHashes(p, sentinel)) == 1 })
				counts := countHashes(caps[i].Packets(time.Time{}, time.Time{}), all)
				seen, dup := 0, 0
				for _, c := range counts {
					seen++
					dup += c - 1
				}
				table = append(table, fmt.Sprintf("%-24s %2d/%d (duplicates %d)", p.name, seen, n, dup))
				// What must hold on every configuration: the bridge in
				// promiscuous mode, the sender's and the member's port.
				if (i == 0 && cfg.promisc || i == 1 || i == 3) && (seen != n || dup != 0) {
					t.Errorf("%s saw %d of %d datagrams, %d duplicates: want each exactly once", p.name, seen, n, dup)
				}
				// What snooping with a querier does to the others.
				pruned := cfg.querier && (i == 2 || i == 0 && !cfg.promisc)
				if (i == 2 || i == 0 && !cfg.promisc) && (seen == 0) != pruned {
					t.Errorf("%s saw %d of %d datagrams: want %v", p.name, seen, n, map[bool]string{true: "none (pruned)", false: "all (flooded)"}[pruned])
				}
			}
			t.Logf("datagrams from host 0 to group1 seen at:\n%s", strings.Join(table, "\n"))
		})
	}
}

// TestIntegrationCloseStopsReader: a cancelled context and Close both stop
// the reader promptly on an idle interface, and leak no goroutine.
func TestIntegrationCloseStopsReader(t *testing.T) {
	l := newNetLab(t, 1, true)
	base := runtime.NumGoroutine()

	c1 := in(l, l.sw, func() (*Capture, error) { return Open("br0", []Group{group1}, Options{}) })
	ctx, cancel := context.WithCancel(t.Context())
	if err := c1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c1.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	start := time.Now()
	cancel()
	select {
	case <-c1.Done():
		t.Logf("reader stopped %v after cancel", time.Since(start))
	case <-time.After(2 * time.Second):
		t.Fatal("reader still running 2s after its context was cancelled")
	}
	if err := c1.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}

	c2 := in(l, l.sw, func() (*Capture, error) { return Open("br0", []Group{group1}, Options{}) })
	if err := c2.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	closed := make(chan error, 1)
	go func() { closed <- c2.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
		t.Logf("Close returned after %v", time.Since(start))
	case <-time.After(2 * time.Second):
		t.Fatal("Close still blocked after 2s on an idle interface")
	}
	if err := c2.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c2.Start(t.Context()); err == nil {
		t.Error("Start after Close succeeded")
	}
	_ = c2.Stats()

	// Never started: Close just closes.
	c3 := in(l, l.sw, func() (*Capture, error) { return Open("br0", []Group{group1}, Options{}) })
	if err := c3.Close(); err != nil {
		t.Errorf("Close of an unstarted capture: %v", err)
	}

	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before: leak", runtime.NumGoroutine(), base)
		}
		runtime.Gosched()
	}
}

// TestIntegrationRingBound: a ring of 10 keeps the newest 10 and counts
// the dropped.
func TestIntegrationRingBound(t *testing.T) {
	l := newNetLab(t, 1, false)
	c := l.open(l.sw, "br0", []Group{group1, sentinelGroup}, Options{RingSize: 10})
	s := l.sender(0)
	all := sendOK(t, t.Context(), s, 0, l.ips[0], group1, 0, 30, time.Millisecond)
	sentinel := sendOK(t, t.Context(), s, 0, l.ips[0], sentinelGroup, 30, 1, time.Millisecond)
	waitFor(t, c, 5*time.Second, "sentinel", func(p []Packet) bool { return len(countHashes(p, sentinel)) == 1 })
	pkts := c.Packets(time.Time{}, time.Time{})
	if len(pkts) != 10 {
		t.Fatalf("ring holds %d packets, want 10", len(pkts))
	}
	if got := countHashes(pkts, all[21:]); len(got) != 9 {
		t.Errorf("ring holds %d of the last 9 datagrams, want 9", len(got))
	}
	st := c.Stats()
	if st.Kept != st.RingDropped+10 || st.RingDropped < 21 {
		t.Errorf("stats %+v: want Kept = RingDropped + 10, RingDropped >= 21", st)
	}
	// Packets(from, to) is a half-open window.
	if w := c.Packets(pkts[3].Time, pkts[6].Time); len(w) != 3 || !w[0].Time.Equal(pkts[3].Time) {
		t.Errorf("Packets(p3, p6) = %d packets, want 3 starting at p3", len(w))
	}
}

func TestIntegrationOpenErrors(t *testing.T) {
	l := newNetLab(t, 1, false)
	for _, tc := range []struct {
		name, ifname string
		groups       []Group
		opts         Options
		want         string
	}{
		{"no such interface", "nosuch0", []Group{group1}, Options{}, "interface nosuch0"},
		{"ring too large", "br0", []Group{group1}, Options{RingSize: MaxRingSize + 1}, "ring size"},
		{"negative ring", "br0", []Group{group1}, Options{RingSize: -1}, "ring size"},
		{"snap too short", "br0", []Group{group1}, Options{SnapLen: 40}, "snap length"},
		{"bad group", "br0", []Group{{netip.MustParseAddr("192.0.2.1"), 1}}, Options{}, "not an IPv4 multicast"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			in(l, l.sw, func() (struct{}, error) {
				var c *Capture
				if c, err = Open(tc.ifname, tc.groups, tc.opts); err == nil {
					c.Close()
				}
				return struct{}{}, nil
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
