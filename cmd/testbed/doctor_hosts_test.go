package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/internal/l2"
	"github.com/fluidos-lab/testbed/internal/preflight"
	"github.com/fluidos-lab/testbed/topology"
)

// TestPairVerdict: an unreachable peer fails with the port to open; a
// path MTU below what a full frame of the shared network needs (its MTU +
// 50, else the hosts' smaller underlay MTU) warns with the MTU to set, or
// fails when not even the smallest shared network fits; enough passes.
func TestPairVerdict(t *testing.T) {
	from := topology.HostPlan{Name: "a", Address: "192.168.250.1"}
	to := topology.HostPlan{Name: "b", Address: "192.168.250.2"}
	probe := func(mtu int) l2.ProbeResult {
		return l2.ProbeResult{Reachable: true, RTT: 1250 * time.Microsecond, PathMTU: mtu}
	}
	for _, tc := range []struct {
		name       string
		mtu, port  int
		underlay   int // the hosts' smaller underlay MTU (default 1500)
		res        l2.ProbeResult
		want       preflight.Status
		wantDetail string
		wantFix    string
	}{
		{name: "unreachable", res: l2.ProbeResult{}, want: preflight.Fail,
			wantDetail: "a does not reach 192.168.250.2:4789 over UDP",
			wantFix:    "open UDP 4789 between the hosts (firewall, security group) and check the route from 192.168.250.1 to 192.168.250.2"},
		{name: "unreachable on another port", port: 8472, res: l2.ProbeResult{}, want: preflight.Fail,
			wantDetail: "192.168.250.2:8472", wantFix: "open UDP 8472 between the hosts"},
		{name: "default MTU, a 1500 path", res: probe(1500), want: preflight.Pass,
			wantDetail: "reachable, round trip 1.25 ms, path MTU at least 1500"},
		{name: "default MTU, a 1450 path", res: probe(1450), want: preflight.Warn,
			wantDetail: "path MTU at least 1450, below the 1500 a full frame of the shared network needs",
			wantFix:    "set sharedNetwork.mtu to 1400 or less"},
		{name: "mtu 1400 on a 1450 path, exactly enough", mtu: 1400, res: probe(1450), want: preflight.Pass},
		{name: "mtu 1400 on a 1400 path", mtu: 1400, res: probe(1400), want: preflight.Warn,
			wantDetail: "below the 1450 a full frame", wantFix: "set sharedNetwork.mtu to 1350 or less"},
		{name: "jumbo mtu on a jumbo path", mtu: 8950, res: probe(9000), want: preflight.Pass},
		{name: "jumbo mtu on a 1500 path", mtu: 8950, res: probe(1500), want: preflight.Warn,
			wantDetail: "below the 9000 a full frame", wantFix: "set sharedNetwork.mtu to 1450 or less"},
		{name: "underlays of 1460 (GCP): a 1460 path is enough", underlay: 1460, res: probe(1460), want: preflight.Pass},
		{name: "a path of 576 fits no shared network", res: probe(576), want: preflight.Fail,
			wantDetail: "below the 1500", wantFix: "the path carries too little for VXLAN (a shared network of at least 576 needs 626)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := tc.port
			if port == 0 {
				port = topology.DefaultVXLANPort
			}
			need := tc.mtu + l2.Overhead
			if tc.mtu == 0 {
				need = tc.underlay
				if need == 0 {
					need = 1500
				}
			}
			target := netip.AddrPortFrom(netip.MustParseAddr(to.Address), uint16(port))
			got := pairVerdict(from, to, target, tc.res, need)
			if got.Status != tc.want || !strings.Contains(got.Detail, tc.wantDetail) || !strings.Contains(got.Fix, tc.wantFix) {
				t.Errorf("pairVerdict = %+v; want %s with detail containing %q and fix containing %q", got, tc.want, tc.wantDetail, tc.wantFix)
			}
			if (got.Status == preflight.Pass) != (got.Fix == "") {
				t.Errorf("status %s with fix %q: a pass has no fix, anything else has one", got.Status, got.Fix)
			}
		})
	}
}
