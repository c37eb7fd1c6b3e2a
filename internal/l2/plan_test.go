package l2

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	zero   = net.HardwareAddr{0, 0, 0, 0, 0, 0}
	someMA = net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0, 2}
)

func addrs(ss ...string) []netip.Addr {
	out := []netip.Addr{}
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

var cmpAddrs = cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmpopts.EquateEmpty()}

func TestReplicationList(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name    string
		entries []fdbEntry
		want    []netip.Addr
	}{
		{name: "none", want: nil},
		{name: "all-zeros entries, sorted", entries: []fdbEntry{
			{MAC: zero, Dst: a("192.0.2.3")}, {MAC: zero, Dst: a("192.0.2.2")},
		}, want: addrs("192.0.2.2", "192.0.2.3")},
		{name: "bridge (master) entries and learned MACs are not ours", entries: []fdbEntry{
			{MAC: zero, Dst: a("192.0.2.2")},
			{MAC: someMA, Master: true},
			{MAC: someMA, Dst: a("192.0.2.9")},
			{MAC: zero, Master: true, Dst: a("192.0.2.8")},
		}, want: addrs("192.0.2.2")},
		{name: "zero MAC without destination ignored", entries: []fdbEntry{{MAC: zero}}, want: nil},
		{name: "short MAC is not zero", entries: []fdbEntry{{MAC: net.HardwareAddr{0, 0}, Dst: a("192.0.2.2")}}, want: nil},
		{name: "mapped address unmapped, repeats folded", entries: []fdbEntry{
			{MAC: zero, Dst: a("::ffff:192.0.2.2")}, {MAC: zero, Dst: a("192.0.2.2")},
		}, want: addrs("192.0.2.2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, replicationList(tc.entries), cmpAddrs); d != "" {
				t.Errorf("replicationList (-want +got):\n%s", d)
			}
		})
	}
}

func TestDiffFDB(t *testing.T) {
	for _, tc := range []struct {
		name           string
		have, want     []netip.Addr
		wantAdd, wantD []netip.Addr
	}{
		{name: "empty device", want: addrs("192.0.2.3", "192.0.2.2"), wantAdd: addrs("192.0.2.2", "192.0.2.3")},
		{name: "converged", have: addrs("192.0.2.2", "192.0.2.3"), want: addrs("192.0.2.3", "192.0.2.2")},
		{name: "stale removed, missing added", have: addrs("192.0.2.2", "192.0.2.9"), want: addrs("192.0.2.2", "192.0.2.3"),
			wantAdd: addrs("192.0.2.3"), wantD: addrs("192.0.2.9")},
		{name: "no peers left", have: addrs("192.0.2.2", "192.0.2.3"), wantD: addrs("192.0.2.2", "192.0.2.3")},
		{name: "mapped forms are the same peer", have: addrs("::ffff:192.0.2.2"), want: addrs("192.0.2.2")},
		{name: "repeats folded", have: addrs("192.0.2.9", "192.0.2.9"), want: addrs("192.0.2.2", "192.0.2.2"),
			wantAdd: addrs("192.0.2.2"), wantD: addrs("192.0.2.9")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			add, del := diffFDB(tc.have, tc.want)
			if d := cmp.Diff(tc.wantAdd, add, cmpAddrs); d != "" {
				t.Errorf("add (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantD, del, cmpAddrs); d != "" {
				t.Errorf("delete (-want +got):\n%s", d)
			}
		})
	}
}

func TestRecreateReason(t *testing.T) {
	base := vxlanParams{VNI: 42, Port: 4789, Local: netip.MustParseAddr("192.0.2.1"), Underlay: 2}
	for _, tc := range []struct {
		name   string
		change func(*vxlanParams)
		want   string
	}{
		{name: "same", change: func(*vxlanParams) {}},
		{name: "vni", change: func(p *vxlanParams) { p.VNI = 43 }, want: "vni 43, want 42"},
		{name: "port", change: func(p *vxlanParams) { p.Port = 8472 }, want: "port 8472, want 4789"},
		{name: "local", change: func(p *vxlanParams) { p.Local = netip.Addr{} }, want: "local invalid IP, want 192.0.2.1"},
		{name: "learning", change: func(p *vxlanParams) { p.Learning = true }, want: "learning true, want false"},
		{name: "underlay", change: func(p *vxlanParams) { p.Underlay = 0 }, want: "underlay link index 0, want 2"},
		{name: "several", change: func(p *vxlanParams) { p.VNI, p.Learning = 1, true }, want: "vni 1, want 42; learning true, want false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			have := base
			tc.change(&have)
			if got := recreateReason(have, base); got != tc.want {
				t.Errorf("recreateReason = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUnderlayIndex(t *testing.T) {
	list := []ifAddr{
		{Index: 1, Addr: netip.MustParseAddr("127.0.0.1")},
		{Index: 2, Addr: netip.MustParseAddr("192.0.2.1")},
		{Index: 3, Addr: netip.MustParseAddr("198.51.100.1")},
	}
	for _, tc := range []struct {
		local  string
		want   int
		wantOK bool
	}{{"192.0.2.1", 2, true}, {"198.51.100.1", 3, true}, {"203.0.113.1", 0, false}} {
		got, ok := underlayIndex(list, netip.MustParseAddr(tc.local))
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("underlayIndex(%s) = %d, %v; want %d, %v", tc.local, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestEffectiveMTU(t *testing.T) {
	for _, tc := range []struct {
		name              string
		spec, underlayMTU int
		want              int
		wantErr           string
	}{
		{name: "auto", underlayMTU: 1500, want: 1450},
		{name: "auto, jumbo", underlayMTU: 9000, want: 8950},
		{name: "explicit, below the limit", spec: 1400, underlayMTU: 1500, want: 1400},
		{name: "explicit, at the limit", spec: 1450, underlayMTU: 1500, want: 1450},
		{name: "explicit, above the limit", spec: 1500, underlayMTU: 1500, wantErr: "mtu 1500 exceeds what underlay eth0 carries: its MTU 1500 - 50 = 1450"},
		{name: "underlay too small", underlayMTU: 100, wantErr: "underlay eth0 has MTU 100: too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := effectiveMTU(tc.spec, "eth0", tc.underlayMTU)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("effectiveMTU = %d, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("effectiveMTU = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestResultChanged(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Result
		want bool
	}{
		{name: "nothing", r: Result{MTU: 1450, Underlay: "eth0", FDBAdded: []netip.Addr{}}},
		{name: "created", r: Result{Created: true}, want: true},
		{name: "fdb added", r: Result{FDBAdded: addrs("192.0.2.2")}, want: true},
		{name: "fdb removed", r: Result{FDBRemoved: addrs("192.0.2.2")}, want: true},
		{name: "mtu", r: Result{MTUChanged: true}, want: true},
		{name: "master", r: Result{MasterChanged: true}, want: true},
		{name: "snooping", r: Result{SnoopingChanged: true}, want: true},
		{name: "up", r: Result{BroughtUp: true}, want: true},
	} {
		if got := tc.r.Changed(); got != tc.want {
			t.Errorf("%s: Changed() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
