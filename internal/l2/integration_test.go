//go:build integration

package l2

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// The integration tests build two "hosts" (network namespaces) joined by an
// underlay veth pair (eth0, 10.99.0.1/24 and 10.99.0.2/24, MTU 1400), each
// with a Linux bridge tbbr0 standing for the discovery network's bridge
// (multicast snooping on, as Docker leaves it), and one "container"
// namespace per host plugged into that bridge by a veth (eth0,
// 192.168.77.1/24 on host A's bridge, 192.168.77.2/24 on host B's). The
// only way between the containers is the VXLAN devices Ensure makes.

const (
	underlayMTU = 1400
	bridgeName  = "tbbr0"
	deviceName  = "tbvx0"
	testVNI     = 4242
)

var (
	ulA, ulB = netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.99.0.2")
	ctrA     = netip.MustParseAddr("192.168.77.1")
	ctrB     = netip.MustParseAddr("192.168.77.2")
	group    = netip.MustParseAddrPort("239.11.11.7:5007")
)

func needRoot(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root to create network namespaces, bridges and VXLAN devices (run make integration as root)"
	} else {
		for _, bin := range []string{"ip", "bridge"} {
			if _, err := exec.LookPath(bin); err != nil {
				why = "needs iproute2's " + bin + " command"
			}
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("integration test " + why + "; CI=true, so this is a failure, not a skip")
	}
	t.Skip("integration test " + why)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var labSeq atomic.Int32

// lab is the two hosts and their containers.
type lab struct {
	hostA, hostB, ctrA, ctrB string
}

// newLab builds the namespaces and links; they are deleted when the test ends.
func newLab(t *testing.T) *lab {
	t.Helper()
	needRoot(t)
	p := fmt.Sprintf("tbl2-%d-%d", os.Getpid()%100000, labSeq.Add(1))
	l := &lab{hostA: p + "-ha", hostB: p + "-hb", ctrA: p + "-ca", ctrB: p + "-cb"}
	for _, ns := range []string{l.hostA, l.hostB, l.ctrA, l.ctrB} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("cleanup: ip netns del %s: %v: %s", ns, err, out)
			}
		})
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	if out, err := exec.Command("ip", "-n", l.hostA, "link", "add", "vxprobe", "type", "vxlan", "id", "1", "dstport", "4789").CombinedOutput(); err != nil {
		t.Skipf("the kernel cannot make VXLAN devices (modprobe vxlan): %v: %s", err, out)
	}
	run(t, "ip", "-n", l.hostA, "link", "del", "vxprobe")
	// The underlay.
	run(t, "ip", "-n", l.hostA, "link", "add", "eth0", "mtu", fmt.Sprint(underlayMTU), "type", "veth", "peer", "name", "eth0", "mtu", fmt.Sprint(underlayMTU), "netns", l.hostB)
	for ns, a := range map[string]netip.Addr{l.hostA: ulA, l.hostB: ulB} {
		run(t, "ip", "-n", ns, "addr", "add", a.String()+"/24", "dev", "eth0")
		run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
		run(t, "ip", "-n", ns, "link", "add", bridgeName, "type", "bridge", "mcast_snooping", "1")
		run(t, "ip", "-n", ns, "link", "set", bridgeName, "up")
	}
	// The containers.
	for _, c := range []struct {
		host, ctr string
		addr      netip.Addr
	}{{l.hostA, l.ctrA, ctrA}, {l.hostB, l.ctrB, ctrB}} {
		run(t, "ip", "-n", c.host, "link", "add", "port0", "type", "veth", "peer", "name", "eth0", "netns", c.ctr)
		run(t, "ip", "-n", c.host, "link", "set", "port0", "master", bridgeName, "up")
		run(t, "ip", "-n", c.ctr, "addr", "add", c.addr.String()+"/24", "dev", "eth0")
		run(t, "ip", "-n", c.ctr, "link", "set", "eth0", "up")
		run(t, "ip", "-n", c.ctr, "route", "add", "224.0.0.0/4", "dev", "eth0")
	}
	return l
}

// in runs fn on an OS thread switched into namespace ns; what fn opens
// (netlink handles, sockets) lives in ns. The thread stays locked, so it
// dies with the goroutine instead of returning to the pool in ns.
func in[T any](t *testing.T, ns string, fn func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.GetFromName(ns)
		if err != nil {
			ch <- result{err: fmt.Errorf("netns %s: %w", ns, err)}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			ch <- result{err: fmt.Errorf("entering netns %s: %w", ns, err)}
			return
		}
		v, err := fn()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

func mustIn[T any](t *testing.T, ns string, fn func() (T, error)) T {
	t.Helper()
	v, err := in(t, ns, fn)
	if err != nil {
		t.Fatalf("in %s: %v", ns, err)
	}
	return v
}

func specFor(local, peer netip.Addr) Spec {
	return Spec{Bridge: bridgeName, Device: deviceName, VNI: testVNI, Local: local, Peers: []netip.Addr{peer}}
}

func ensureIn(t *testing.T, ns string, s Spec) Result {
	t.Helper()
	r := mustIn(t, ns, func() (Result, error) { return Ensure(t.Context(), s) })
	b, _ := json.Marshal(r)
	t.Logf("Ensure in %s: %s", ns, b)
	return r
}

// fdbDsts lists the all-zeros FDB entries of the device with the bridge
// command, independently of the code under test.
func fdbDsts(t *testing.T, ns string) []string {
	t.Helper()
	var dsts []string
	for _, line := range strings.Split(run(t, "bridge", "-n", ns, "fdb", "show", "dev", deviceName), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "00:00:00:00:00:00" && f[1] == "dst" {
			dsts = append(dsts, f[2])
		}
	}
	slices.Sort(dsts)
	return dsts
}

// ipLink is what `ip -d -j -s link show` says about one link.
type ipLink struct {
	MTU      int      `json:"mtu"`
	Master   string   `json:"master"`
	Flags    []string `json:"flags"`
	LinkInfo struct {
		Kind string `json:"info_kind"`
		Data struct {
			ID            int    `json:"id"`
			Port          int    `json:"port"`
			Local         string `json:"local"`
			Learning      bool   `json:"learning"`
			Link          string `json:"link"`
			McastSnooping *int   `json:"mcast_snooping"`
		} `json:"info_data"`
	} `json:"linkinfo"`
	Stats struct {
		RX struct {
			Packets int `json:"packets"`
		} `json:"rx"`
		TX struct {
			Packets int `json:"packets"`
		} `json:"tx"`
	} `json:"stats64"`
}

// showLink reads a link with iproute2, independently of the code under test.
func showLink(t *testing.T, ns, name string) ipLink {
	t.Helper()
	var links []ipLink
	if err := json.Unmarshal([]byte(run(t, "ip", "-n", ns, "-d", "-j", "-s", "link", "show", "dev", name)), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip link show %s in %s: %v (%d links)", name, ns, err, len(links))
	}
	return links[0]
}

// deliver sends datagrams from container ns from to dst until one arrives
// at a socket in container ns to (the ticker paces the resends, which
// cover the underlay's first ARP), and checks its source.
func deliver(t *testing.T, from, to string, src netip.Addr, dst netip.AddrPort) {
	t.Helper()
	rcv := mustIn(t, to, func() (*net.UDPConn, error) {
		if !dst.Addr().IsMulticast() {
			return net.ListenUDP("udp4", net.UDPAddrFromAddrPort(dst))
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return nil, err
		}
		return net.ListenMulticastUDP("udp4", ifi, net.UDPAddrFromAddrPort(dst))
	})
	defer rcv.Close()
	snd := mustIn(t, from, func() (*net.UDPConn, error) {
		return net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
	})
	defer snd.Close()
	payload := fmt.Sprintf("tbl2 %s -> %s", src, dst)
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1500)
	for sent := 0; time.Now().Before(deadline); sent++ {
		if _, err := snd.WriteToUDPAddrPort([]byte(payload), dst); err != nil {
			t.Fatalf("sending to %s: %v", dst, err)
		}
		_ = rcv.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, from, err := rcv.ReadFromUDPAddrPort(buf)
		if err != nil {
			continue
		}
		if string(buf[:n]) != payload || from.Addr() != src {
			t.Fatalf("received %q from %s, want %q from %s", buf[:n], from, payload, src)
		}
		t.Logf("%s reached %s after %d datagram(s)", payload, to, sent+1)
		return
	}
	t.Fatalf("%s: nothing arrived within 5s", payload)
}

// TestIntegrationEnsure: Ensure in both hosts makes one broadcast domain
// of the two bridges (a multicast and a unicast datagram cross it), a
// second Ensure changes nothing, Inspect and iproute2 agree on the state,
// and Ensure repairs drift (a stale FDB entry, a peer added and removed,
// detached, down, MTU and snooping reset).
func TestIntegrationEnsure(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	a := func(s ...string) []netip.Addr { return addrs(s...) }
	for _, h := range []struct {
		ns          string
		local, peer netip.Addr
	}{{l.hostA, ulA, ulB}, {l.hostB, ulB, ulA}} {
		u := mustIn(t, h.ns, func() (UnderlayInfo, error) { return Underlay(ctx, h.local) })
		if u != (UnderlayInfo{Interface: "eth0", MTU: underlayMTU, VXLANMTU: underlayMTU - Overhead}) {
			t.Errorf("Underlay(%s) in %s = %+v", h.local, h.ns, u)
		}
		first := ensureIn(t, h.ns, specFor(h.local, h.peer))
		want := Result{Device: deviceName, Bridge: bridgeName, Created: true, FDBAdded: []netip.Addr{h.peer}, FDBRemoved: a(),
			MTU: underlayMTU - Overhead, MasterChanged: true, SnoopingChanged: true, BroughtUp: true,
			Underlay: "eth0", UnderlayMTU: underlayMTU}
		// The device is created with the MTU; the bridge's MTU, never set
		// by hand here, follows its smallest port as the kernel adjusts it
		// when the device joins (checkState reads it below).
		want.MTUChanged = first.MTUChanged
		if d := diffResult(want, first); d != "" {
			t.Errorf("first Ensure in %s (-want +got):\n%s", h.ns, d)
		}
		second := ensureIn(t, h.ns, specFor(h.local, h.peer))
		want = Result{Device: deviceName, Bridge: bridgeName, FDBAdded: a(), FDBRemoved: a(), MTU: underlayMTU - Overhead,
			Underlay: "eth0", UnderlayMTU: underlayMTU}
		if d := diffResult(want, second); d != "" || second.Changed() {
			t.Errorf("second Ensure in %s changed something (-want +got):\n%s", h.ns, d)
		}
	}
	checkState(t, l.hostA, ulA, ulB)

	deliver(t, l.ctrA, l.ctrB, ctrA, group)
	deliver(t, l.ctrB, l.ctrA, ctrB, group)
	deliver(t, l.ctrA, l.ctrB, ctrA, netip.AddrPortFrom(ctrB, 5008))
	if tx, rx := showLink(t, l.hostA, deviceName).Stats.TX.Packets, showLink(t, l.hostB, deviceName).Stats.RX.Packets; tx == 0 || rx == 0 {
		t.Errorf("VXLAN counters: %d sent from A, %d received in B; want both > 0", tx, rx)
	}

	// A stale entry (a host that left) is deleted, nothing else changes.
	run(t, "bridge", "-n", l.hostA, "fdb", "append", "00:00:00:00:00:00", "dev", deviceName, "dst", "10.99.0.77")
	if got := fdbDsts(t, l.hostA); !slices.Equal(got, []string{"10.99.0.2", "10.99.0.77"}) {
		t.Fatalf("FDB before: %v", got)
	}
	r := ensureIn(t, l.hostA, specFor(ulA, ulB))
	if !slices.Equal(r.FDBRemoved, a("10.99.0.77")) || len(r.FDBAdded) != 0 || r.Created || r.MTUChanged || r.MasterChanged || r.BroughtUp {
		t.Errorf("Ensure with a stale entry: %+v, want only 10.99.0.77 removed", r)
	}
	if got := fdbDsts(t, l.hostA); !slices.Equal(got, []string{"10.99.0.2"}) {
		t.Errorf("FDB after: %v, want [10.99.0.2]", got)
	}

	// A peer joins, then leaves.
	three := specFor(ulA, ulB)
	three.Peers = a("10.99.0.3", "10.99.0.2")
	if r := ensureIn(t, l.hostA, three); !slices.Equal(r.FDBAdded, a("10.99.0.3")) || len(r.FDBRemoved) != 0 {
		t.Errorf("peer added: %+v", r)
	}
	if got := fdbDsts(t, l.hostA); !slices.Equal(got, []string{"10.99.0.2", "10.99.0.3"}) {
		t.Errorf("FDB with three hosts: %v", got)
	}
	if r := ensureIn(t, l.hostA, specFor(ulA, ulB)); !slices.Equal(r.FDBRemoved, a("10.99.0.3")) || len(r.FDBAdded) != 0 {
		t.Errorf("peer removed: %+v", r)
	}

	// Drift: the bridge's MTU set by hand (the kernel no longer follows
	// its ports), the device detached and down, snooping back on.
	run(t, "ip", "-n", l.hostA, "link", "set", bridgeName, "mtu", "1300")
	run(t, "ip", "-n", l.hostA, "link", "set", deviceName, "nomaster", "down")
	run(t, "ip", "-n", l.hostA, "link", "set", bridgeName, "type", "bridge", "mcast_snooping", "1")
	r = ensureIn(t, l.hostA, specFor(ulA, ulB))
	if r.Created || !r.MasterChanged || !r.BroughtUp || !r.MTUChanged || !r.SnoopingChanged || len(r.FDBAdded)+len(r.FDBRemoved) != 0 {
		t.Errorf("Ensure after drift: %+v, want master, up, MTU and snooping repaired", r)
	}
	if r := ensureIn(t, l.hostA, specFor(ulA, ulB)); r.Changed() {
		t.Errorf("Ensure after the repair changed something: %+v", r)
	}
	checkState(t, l.hostA, ulA, ulB)
	deliver(t, l.ctrA, l.ctrB, ctrA, group)

	removed, err := in(t, l.hostA, func() (bool, error) { return Remove(ctx, deviceName) })
	if err != nil || !removed {
		t.Fatalf("Remove = %v, %v; want true", removed, err)
	}
	if out, err := exec.Command("ip", "-n", l.hostA, "link", "show", deviceName).CombinedOutput(); err == nil {
		t.Errorf("device still there after Remove: %s", out)
	}
	removed, err = in(t, l.hostA, func() (bool, error) { return Remove(ctx, deviceName) })
	if err != nil || removed {
		t.Errorf("second Remove = %v, %v; want false, nil", removed, err)
	}
	if st := mustIn(t, l.hostA, func() (State, error) { return Inspect(ctx, deviceName) }); st.Exists {
		t.Errorf("Inspect after Remove: %+v", st)
	}
}

func diffResult(want, got Result) string {
	if want.Recreated == "" && got.Recreated != "" {
		return "recreated: " + got.Recreated
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if string(wb) != string(gb) {
		return fmt.Sprintf("-%s\n+%s", wb, gb)
	}
	return ""
}

// checkState compares Inspect with what iproute2 reports.
func checkState(t *testing.T, ns string, local, peer netip.Addr) {
	t.Helper()
	st := mustIn(t, ns, func() (State, error) { return Inspect(t.Context(), deviceName) })
	off := false
	want := State{Device: deviceName, Exists: true, Kind: "vxlan", VNI: testVNI, Port: DefaultPort, Local: local, MTU: underlayMTU - Overhead,
		Up: true, Master: bridgeName, BridgeMTU: underlayMTU - Overhead, Snooping: &off, Underlay: "eth0", Peers: []netip.Addr{peer}}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(st)
	if string(wb) != string(gb) {
		t.Errorf("Inspect in %s:\n got %s\nwant %s", ns, gb, wb)
	}
	dev, br := showLink(t, ns, deviceName), showLink(t, ns, bridgeName)
	d := dev.LinkInfo.Data
	if dev.LinkInfo.Kind != "vxlan" || d.ID != testVNI || d.Port != DefaultPort || d.Local != local.String() || d.Learning ||
		d.Link != "eth0" || dev.MTU != underlayMTU-Overhead || dev.Master != bridgeName || !slices.Contains(dev.Flags, "UP") {
		t.Errorf("ip link show %s in %s: %+v", deviceName, ns, dev)
	}
	if br.MTU != underlayMTU-Overhead || br.LinkInfo.Data.McastSnooping == nil || *br.LinkInfo.Data.McastSnooping != 0 {
		t.Errorf("ip link show %s in %s: MTU %d, snooping %v; want %d, 0", bridgeName, ns, br.MTU, br.LinkInfo.Data.McastSnooping, underlayMTU-Overhead)
	}
	if got := fdbDsts(t, ns); !slices.Equal(got, []string{peer.String()}) {
		t.Errorf("bridge fdb show dev %s in %s: all-zeros entries %v, want [%s]", deviceName, ns, got, peer)
	}
}

// TestIntegrationRecreate: a device whose create-time parameters differ
// is replaced, whatever made it; a link of the name that is not VXLAN is
// refused, never deleted.
func TestIntegrationRecreate(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		args []string // ip link add tbvx0 ARGS
		want string
	}{
		{"other VNI", []string{"type", "vxlan", "id", "4343", "dstport", "4789", "local", "10.99.0.1", "dev", "eth0", "nolearning"}, "vni 4343, want 4242"},
		{"kernel default port", []string{"type", "vxlan", "id", "4242", "dstport", "0", "local", "10.99.0.1", "dev", "eth0", "nolearning"}, "port 8472, want 4789"},
		{"learning", []string{"type", "vxlan", "id", "4242", "dstport", "4789", "local", "10.99.0.1", "dev", "eth0", "learning"}, "learning true, want false"},
		{"no local address", []string{"type", "vxlan", "id", "4242", "dstport", "4789", "dev", "eth0", "nolearning"}, "local invalid IP, want 10.99.0.1"},
		{"no underlay", []string{"type", "vxlan", "id", "4242", "dstport", "4789", "local", "10.99.0.1", "nolearning"}, "underlay link index 0, want"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, "ip", append([]string{"-n", l.hostA, "link", "add", deviceName}, tc.args...)...)
			run(t, "bridge", "-n", l.hostA, "fdb", "append", "00:00:00:00:00:00", "dev", deviceName, "dst", "10.99.0.77")
			r := ensureIn(t, l.hostA, specFor(ulA, ulB))
			if !r.Created || !strings.Contains(r.Recreated, tc.want) || !slices.Equal(r.FDBAdded, []netip.Addr{ulB}) || len(r.FDBRemoved) != 0 {
				t.Errorf("Ensure: %+v, want recreated because %q, with a fresh FDB", r, tc.want)
			}
			if r := ensureIn(t, l.hostA, specFor(ulA, ulB)); r.Changed() {
				t.Errorf("second Ensure: %+v", r)
			}
			checkState(t, l.hostA, ulA, ulB)
			if removed, err := in(t, l.hostA, func() (bool, error) { return Remove(ctx, deviceName) }); err != nil || !removed {
				t.Fatalf("Remove = %v, %v", removed, err)
			}
		})
	}

	run(t, "ip", "-n", l.hostA, "link", "add", deviceName, "type", "veth", "peer", "name", "tbvx0p")
	if _, err := in(t, l.hostA, func() (Result, error) { return Ensure(ctx, specFor(ulA, ulB)) }); err == nil ||
		!strings.Contains(err.Error(), "link tbvx0 exists and is a veth, not a VXLAN device") {
		t.Errorf("Ensure over a veth link: %v", err)
	}
	if _, err := in(t, l.hostA, func() (bool, error) { return Remove(ctx, deviceName) }); err == nil || !strings.Contains(err.Error(), "not removing it") {
		t.Errorf("Remove of a veth link: %v", err)
	}
	run(t, "ip", "-n", l.hostA, "link", "show", deviceName) // still there
	if st := mustIn(t, l.hostA, func() (State, error) { return Inspect(ctx, deviceName) }); !st.Exists || st.Kind != "veth" || st.VNI != 0 {
		t.Errorf("Inspect of a veth link: %+v", st)
	}
}

// TestIntegrationEnsureErrors: a wrong spec fails before it creates
// anything, and the error names what is missing.
func TestIntegrationEnsureErrors(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"no bridge", func(s *Spec) { s.Bridge = "nosuchbr" }, "vxlan tbvx0: bridge nosuchbr not found: is the discovery network created?"},
		{"not a bridge", func(s *Spec) { s.Bridge = "eth0" }, "eth0 is a veth link, not a bridge"},
		{"local address not here", func(s *Spec) { s.Local = netip.MustParseAddr("10.99.0.99") }, "no interface of this network namespace holds the local address 10.99.0.99"},
		{"MTU above the underlay's", func(s *Spec) { s.MTU = 1351 }, "mtu 1351 exceeds what underlay eth0 carries: its MTU 1400 - 50 = 1350"},
		{"invalid spec", func(s *Spec) { s.VNI = 0 }, "invalid spec: vni: 0 out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := specFor(ulA, ulB)
			tc.change(&s)
			if _, err := in(t, l.hostA, func() (Result, error) { return Ensure(ctx, s) }); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Ensure: %v, want %q", err, tc.want)
			}
			if st := mustIn(t, l.hostA, func() (State, error) { return Inspect(ctx, deviceName) }); st.Exists {
				t.Errorf("a failed Ensure left a device: %+v", st)
			}
		})
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := in(t, l.hostA, func() (Result, error) { return Ensure(cancelled, specFor(ulA, ulB)) }); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("Ensure with a cancelled context: %v", err)
	}
}

// listenIn serves a probe listener in ns on addr until the test ends.
func listenIn(t *testing.T, ns string, addr netip.Addr) netip.AddrPort {
	t.Helper()
	ln := mustIn(t, ns, func() (*Listener, error) { return NewListener(netip.AddrPortFrom(addr, 0)) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ln.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr()
}

// TestIntegrationProbe: across the underlay veth (MTU 1400) Probe finds
// the listener and a path MTU of 1400 (1401 does not fit); across the
// VXLAN overlay, from container to container, 1350 (the underlay's 1400
// minus the 50 bytes of encapsulation) passes and 1351 does not.
func TestIntegrationProbe(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	to := listenIn(t, l.hostB, ulB)
	res := mustIn(t, l.hostA, func() (ProbeResult, error) {
		return Probe(ctx, to, []int{576, 1300, 1400, 1401, 1500}, 500*time.Millisecond)
	})
	b, _ := json.Marshal(res)
	t.Logf("underlay: %s", b)
	if !res.Reachable || res.PathMTU != underlayMTU || res.RTT <= 0 {
		t.Errorf("underlay probe: reachable %v, path MTU %d, RTT %v; want true, %d, > 0", res.Reachable, res.PathMTU, res.RTT, underlayMTU)
	}
	if s := res.Sizes[3]; s.Size != 1401 || s.Echoed || s.Sent != 1 || !strings.Contains(s.Error, "EMSGSIZE") {
		t.Errorf("size 1401: %+v, want refused by the kernel at once (EMSGSIZE)", s)
	}
	if s := res.Sizes[4]; !s.Skipped {
		t.Errorf("size 1500: %+v, want skipped", s)
	}

	// Nothing listens on the peer's port any more: refused, not reachable.
	closed := mustIn(t, l.hostA, func() (ProbeResult, error) {
		return Probe(ctx, netip.AddrPortFrom(ulB, 9), []int{576}, 500*time.Millisecond)
	})
	if closed.Reachable || !strings.Contains(closed.Sizes[0].Error, "connection refused") {
		t.Errorf("probe of a closed port: %+v", closed)
	}

	ensureIn(t, l.hostA, specFor(ulA, ulB))
	ensureIn(t, l.hostB, specFor(ulB, ulA))
	over := listenIn(t, l.ctrB, ctrB)
	res = mustIn(t, l.ctrA, func() (ProbeResult, error) {
		return Probe(ctx, over, []int{1300, 1350, 1351}, 300*time.Millisecond)
	})
	b, _ = json.Marshal(res)
	t.Logf("overlay: %s", b)
	if !res.Reachable || res.PathMTU != underlayMTU-Overhead || res.Sizes[2].Echoed {
		t.Errorf("overlay probe: reachable %v, path MTU %d; want true, %d", res.Reachable, res.PathMTU, underlayMTU-Overhead)
	}
}
