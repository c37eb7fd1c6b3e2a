package dockernet

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fluidos-lab/testbed/internal/l2"
	"github.com/fluidos-lab/testbed/topology"
)

const (
	sharedNet    = "testbed-lab-l2"
	sharedBridge = "tbl2-0a1b2c3d4e"
	sharedDevice = "tbvx-0a1b2c3d4e"
	testImage    = "testbed.local/testbed:abc"

	underlay1500 = `{"interface":"eth0","mtu":1500,"vxlanMTU":1450}`
	l2Created    = `{"device":"tbvx-0a1b2c3d4e","created":true,"fdbAdded":["192.168.250.1","192.168.250.3"],"fdbRemoved":[]}`
	l2Unchanged  = `{"device":"tbvx-0a1b2c3d4e","created":false,"fdbAdded":[],"fdbRemoved":[],"mtu":1450}`
	l2NewPeer    = `{"device":"tbvx-0a1b2c3d4e","created":false,"fdbAdded":["192.168.250.3"],"fdbRemoved":[]}`
)

// sharedTestPlan is a lab on hosts a, b and c; the tests act as host b.
func sharedTestPlan(mtu int) *topology.Plan {
	return &topology.Plan{
		Name: "lab",
		SharedNetwork: &topology.SharedNetworkPlan{Name: sharedNet, Subnet: "172.29.0.0/16", Bridge: sharedBridge, Device: sharedDevice,
			VNI: 4242, Port: 4789, MTU: mtu, Interface: topology.SharedInterface},
		Hosts: []topology.HostPlan{
			{Name: "a", Address: "192.168.250.1", IPRange: "172.29.0.0/24", Gateway: "172.29.0.1"},
			{Name: "b", Address: "192.168.250.2", IPRange: "172.29.1.0/24", Gateway: "172.29.1.1"},
			{Name: "c", Address: "192.168.250.3", IPRange: "172.29.2.0/24", Gateway: "172.29.2.1"},
		},
	}
}

func hostB(p *topology.Plan) topology.HostPlan { return p.Hosts[1] }

func newShared(f *sharedFake) *Shared {
	return &Shared{API: f, Host: "b", Image: func(context.Context) (string, error) { return testImage, nil }}
}

// existingShared is host b's shared network as Ensure makes it with MTU
// 1450, changed by edit.
func existingShared(edit func(*network.Summary)) []network.Summary {
	labels := Labels("lab")
	labels[LabelShared] = "true"
	n := network.Summary{Name: sharedNet, ID: "5ba7ed0123456789", Driver: "bridge", Labels: labels,
		IPAM:    network.IPAM{Config: []network.IPAMConfig{{Subnet: "172.29.0.0/16", IPRange: "172.29.1.0/24", Gateway: "172.29.1.1"}}},
		Options: map[string]string{"com.docker.network.bridge.name": sharedBridge, "com.docker.network.driver.mtu": "1450"}}
	if edit != nil {
		edit(&n)
	}
	return []network.Summary{n}
}

var addrCmp = cmpopts.EquateComparable(netip.Addr{})

// TestSharedEnsureCreates: on a host without it, Ensure creates the shared
// network with the host's range and gateway, the fixed bridge, the MTU (the
// underlay's minus 50, or sharedNetwork.mtu) and the lab's labels, and
// hands `l2 ensure` the other hosts as peers.
func TestSharedEnsureCreates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		planMTU int
		wantMTU int
	}{
		{"MTU from the underlay", 0, 1450},
		{"sharedNetwork.mtu below the underlay's", 1400, 1400},
		{"sharedNetwork.mtu exactly the underlay's", 1450, 1450},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &sharedFake{answers: map[string]string{"underlay": underlay1500, "ensure": l2Created}}
			plan := sharedTestPlan(tc.planMTU)
			res, err := newShared(f).Ensure(context.Background(), plan, hostB(plan))
			if err != nil {
				t.Fatal(err)
			}
			want := SharedResult{Host: "b", Network: sharedNet, Bridge: sharedBridge, Device: sharedDevice, MTU: tc.wantMTU,
				Underlay: "eth0", UnderlayMTU: 1500, Peers: 2, Changed: true}
			if d := cmp.Diff(want, res); d != "" {
				t.Errorf("result (-want +got):\n%s", d)
			}
			checkCreated(t, f, tc.wantMTU)
			checkHelpers(t, f, "l2-underlay: l2 underlay 192.168.250.2", "l2-ensure: l2 ensure")
			var spec l2.Spec
			if err := json.Unmarshal(f.stdinOf("ensure"), &spec); err != nil {
				t.Fatalf("l2 ensure's standard input %q: %v", f.stdinOf("ensure"), err)
			}
			wantSpec := l2.Spec{Bridge: sharedBridge, Device: sharedDevice, VNI: 4242, Port: 4789, MTU: tc.wantMTU,
				Local: netip.MustParseAddr("192.168.250.2"), Peers: []netip.Addr{netip.MustParseAddr("192.168.250.1"), netip.MustParseAddr("192.168.250.3")}}
			if d := cmp.Diff(wantSpec, spec, addrCmp); d != "" {
				t.Errorf("l2 ensure spec (-want +got):\n%s", d)
			}
		})
	}
}

// checkCreated checks the one network Ensure created, as host b's part.
func checkCreated(t *testing.T, f *sharedFake, mtu int) {
	t.Helper()
	if d := cmp.Diff([]string{sharedNet}, f.createdNames); d != "" {
		t.Fatalf("networks created (-want +got):\n%s", d)
	}
	o := f.createdOpts[0]
	if o.Driver != "bridge" {
		t.Errorf("driver %q, want bridge", o.Driver)
	}
	wantIPAM := &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: "172.29.0.0/16", IPRange: "172.29.1.0/24", Gateway: "172.29.1.1"}}}
	// AuxAddress (addresses reserved in the range) is not this test's.
	if d := cmp.Diff(wantIPAM, o.IPAM, cmpopts.IgnoreFields(network.IPAMConfig{}, "AuxAddress")); d != "" {
		t.Errorf("IPAM (-want +got):\n%s", d)
	}
	wantOpts := map[string]string{
		"com.docker.network.bridge.name":                 sharedBridge,
		"com.docker.network.driver.mtu":                  strconv.Itoa(mtu),
		"com.docker.network.bridge.enable_ip_masquerade": "false",
	}
	if d := cmp.Diff(wantOpts, o.Options); d != "" {
		t.Errorf("options (-want +got):\n%s", d)
	}
	wantLabels := map[string]string{LabelManaged: "true", LabelTopology: "lab", LabelShared: "true"}
	if d := cmp.Diff(wantLabels, o.Labels); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
}

// checkHelpers checks the helper containers that ran, in order: each ran
// the testbed image and was removed.
func checkHelpers(t *testing.T, f *sharedFake, want ...string) {
	t.Helper()
	runs, ok := f.ran(testImage)
	if d := cmp.Diff(want, runs, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("helpers (-want +got):\n%s", d)
	}
	if !ok {
		t.Errorf("a helper did not run %s or was left behind", testImage)
	}
}

// TestSharedEnsureExisting: a network of the same name is reused only when
// it is this lab's shared network with this host's range, gateway, bridge
// and MTU; anything else is ErrConflict saying what differs, and the VXLAN
// device is then left alone.
func TestSharedEnsureExisting(t *testing.T) {
	const wantAll = "the plan wants subnet 172.29.0.0/16, range 172.29.1.0/24, gateway 172.29.1.1, bridge tbl2-0a1b2c3d4e, MTU "
	for _, tc := range []struct {
		name        string
		planMTU     int
		edit        func(*network.Summary)
		l2          string
		wantChanged bool
		wantErr     string
	}{
		{name: "matching, nothing to do", l2: l2Unchanged},
		{name: "matching, l2 added a peer", l2: l2NewPeer, wantChanged: true},
		{name: "matching sharedNetwork.mtu", planMTU: 1400, l2: l2Unchanged,
			edit: func(n *network.Summary) { n.Options["com.docker.network.driver.mtu"] = "1400" }},
		{name: "another lab's", edit: func(n *network.Summary) { n.Labels[LabelTopology] = "other" },
			wantErr: `host b: docker network "testbed-lab-l2" exists but is not lab lab's shared network; remove it or set sharedNetwork.name`},
		{name: "the lab's, but not a shared network", edit: func(n *network.Summary) { delete(n.Labels, LabelShared) },
			wantErr: `exists but is not lab lab's shared network`},
		{name: "not testbed's", edit: func(n *network.Summary) { n.Labels = nil },
			wantErr: `exists but is not lab lab's shared network`},
		{name: "another host's range", edit: func(n *network.Summary) {
			n.IPAM.Config[0].IPRange, n.IPAM.Config[0].Gateway = "172.29.0.0/24", "172.29.0.1"
		},
			wantErr: "host b: the shared network testbed-lab-l2 has subnet 172.29.0.0/16, range 172.29.0.0/24, gateway 172.29.0.1, bridge tbl2-0a1b2c3d4e, MTU 1450; " +
				wantAll + "1450: run `testbed down` first"},
		{name: "another subnet", edit: func(n *network.Summary) { n.IPAM.Config[0].Subnet = "172.28.0.0/16" },
			wantErr: "has subnet 172.28.0.0/16, range 172.29.1.0/24"},
		{name: "another bridge", edit: func(n *network.Summary) { n.Options["com.docker.network.bridge.name"] = "br-else" },
			wantErr: "gateway 172.29.1.1, bridge br-else, MTU 1450; " + wantAll + "1450"},
		{name: "Docker's own bridge name", edit: func(n *network.Summary) { delete(n.Options, "com.docker.network.bridge.name") },
			wantErr: "bridge br-5ba7ed012345, MTU 1450;"},
		{name: "another MTU", edit: func(n *network.Summary) { n.Options["com.docker.network.driver.mtu"] = "1500" },
			wantErr: "bridge tbl2-0a1b2c3d4e, MTU 1500; " + wantAll + "1450"},
		{name: "sharedNetwork.mtu changed since", planMTU: 1400,
			wantErr: "bridge tbl2-0a1b2c3d4e, MTU 1450; " + wantAll + "1400"},
		{name: "no IPAM config", edit: func(n *network.Summary) { n.IPAM.Config = nil },
			wantErr: "has bridge tbl2-0a1b2c3d4e, MTU 1450; " + wantAll + "1450"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &sharedFake{nets: existingShared(tc.edit), answers: map[string]string{"underlay": underlay1500, "ensure": tc.l2}}
			plan := sharedTestPlan(tc.planMTU)
			res, err := newShared(f).Ensure(context.Background(), plan, hostB(plan))
			if len(f.createdNames) != 0 {
				t.Errorf("created %v over an existing network", f.createdNames)
			}
			if tc.wantErr != "" {
				if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrConflict containing %q", err, tc.wantErr)
				}
				checkHelpers(t, f, "l2-underlay: l2 underlay 192.168.250.2")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Changed != tc.wantChanged {
				t.Errorf("Changed = %v, want %v", res.Changed, tc.wantChanged)
			}
			checkHelpers(t, f, "l2-underlay: l2 underlay 192.168.250.2", "l2-ensure: l2 ensure")
		})
	}
}

// TestSharedEnsureErrors: what Ensure refuses or cannot do, and that it
// stops there.
func TestSharedEnsureErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		planMTU     int
		plan        func(*topology.Plan)
		shared      func(*Shared)
		fake        func(*sharedFake)
		wantErr     string
		wantHelpers []string
		wantCreated bool
	}{
		{name: "MTU above the underlay's", planMTU: 1500,
			wantErr:     "sharedNetwork.mtu 1500 exceeds what host b's underlay eth0 carries (MTU 1500 - 50 = 1450)",
			wantHelpers: []string{"l2-underlay: l2 underlay 192.168.250.2"}},
		{name: "no shared network", plan: func(p *topology.Plan) { p.SharedNetwork = nil }, wantErr: "the plan has no shared network"},
		{name: "bad host address", plan: func(p *topology.Plan) { p.Hosts[1].Address = "b.example" }, wantErr: `host b: address "b.example"`},
		{name: "no image", shared: func(s *Shared) { s.Image = nil }, wantErr: "no testbed image for the host's helper containers"},
		{name: "image fails", shared: func(s *Shared) {
			s.Image = func(context.Context) (string, error) { return "", errors.New("engine full") }
		}, wantErr: "host b: the testbed image: engine full"},
		{name: "underlay helper fails", fake: func(f *sharedFake) { f.exits = map[string]int{"underlay": 1} },
			wantErr:     `host b: testbed l2 underlay 192.168.250.2: helper l2-underlay (container helper01): "l2 underlay 192.168.250.2" exited 1: testbed: l2 underlay failed`,
			wantHelpers: []string{"l2-underlay: l2 underlay 192.168.250.2"}},
		{name: "underlay helper prints no JSON", fake: func(f *sharedFake) { f.answers["underlay"] = "listening" },
			wantErr:     `host b: testbed l2 underlay 192.168.250.2 printed "listening\n"`,
			wantHelpers: []string{"l2-underlay: l2 underlay 192.168.250.2"}},
		{name: "ensure helper fails", fake: func(f *sharedFake) { f.exits = map[string]int{"ensure": 2} },
			wantErr:     `host b: testbed l2 ensure: helper l2-ensure (container helper02): "l2 ensure" exited 2`,
			wantHelpers: []string{"l2-underlay: l2 underlay 192.168.250.2", "l2-ensure: l2 ensure"}, wantCreated: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &sharedFake{answers: map[string]string{"underlay": underlay1500, "ensure": l2Created}}
			if tc.fake != nil {
				tc.fake(f)
			}
			plan := sharedTestPlan(tc.planMTU)
			if tc.plan != nil {
				tc.plan(plan)
			}
			s := newShared(f)
			if tc.shared != nil {
				tc.shared(s)
			}
			_, err := s.Ensure(context.Background(), plan, hostB(plan))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			checkHelpers(t, f, tc.wantHelpers...)
			if created := len(f.createdNames) > 0; created != tc.wantCreated {
				t.Errorf("network created = %v, want %v", created, tc.wantCreated)
			}
		})
	}
}

func TestPeersOf(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	three := sharedTestPlan(0)
	for _, tc := range []struct {
		name string
		plan *topology.Plan
		h    topology.HostPlan
		want []netip.Addr
	}{
		{"every other host, in plan order", three, three.Hosts[1], addrs("192.168.250.1", "192.168.250.3")},
		{"the first host", three, three.Hosts[0], addrs("192.168.250.2", "192.168.250.3")},
		{"alone", &topology.Plan{Hosts: three.Hosts[:1]}, three.Hosts[0], nil},
		{"an unparsable address is skipped", &topology.Plan{Hosts: []topology.HostPlan{three.Hosts[0], {Name: "x", Address: "x.example"}, three.Hosts[2]}},
			three.Hosts[0], addrs("192.168.250.3")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, peersOf(tc.plan, tc.h), addrCmp); d != "" {
				t.Errorf("peers (-want +got):\n%s", d)
			}
		})
	}
}

const (
	node      = "lab-01-control-plane"
	sharedMAC = "02:42:ac:1d:01:02"
	kindMAC   = "02:42:ac:1f:08:02"
)

// nodeOn is a node container on the KinD network and, when shared is not
// nil, on the shared network with that endpoint.
func nodeOn(shared *network.EndpointSettings) map[string]*container.InspectResponse {
	nets := map[string]*network.EndpointSettings{"testbed-lab": {IPAddress: "172.31.0.2", MacAddress: kindMAC}}
	if shared != nil {
		nets[sharedNet] = shared
	}
	return map[string]*container.InspectResponse{node: {NetworkSettings: &container.NetworkSettings{Networks: nets}}}
}

// TestSharedAttach: a node is connected once, its address returned, and
// its eth1 must be the shared network's endpoint (same MAC, any case).
func TestSharedAttach(t *testing.T) {
	onShared := &network.EndpointSettings{IPAddress: "172.29.1.7", MacAddress: sharedMAC}
	const cat = node + ": cat /sys/class/net/eth1/address"
	for _, tc := range []struct {
		name         string
		fake         func(*sharedFake)
		want         string
		wantErr      string
		wantConnects []string
		wantExecs    []string
	}{
		{name: "connects a node not on it", fake: func(f *sharedFake) { f.nodes = nodeOn(nil) },
			want: "172.29.1.2", wantConnects: []string{node + "→" + sharedNet}, wantExecs: []string{cat}},
		{name: "a node already on it is not connected again", fake: func(f *sharedFake) { f.nodes, f.macs[node] = nodeOn(onShared), sharedMAC+"\n" },
			want: "172.29.1.7", wantExecs: []string{cat}},
		{name: "an endpoint without an address is connected", fake: func(f *sharedFake) { f.nodes = nodeOn(&network.EndpointSettings{MacAddress: sharedMAC}) },
			want: "172.29.1.2", wantConnects: []string{node + "→" + sharedNet}, wantExecs: []string{cat}},
		{name: "a node without network settings is connected", fake: func(f *sharedFake) { f.nodes = map[string]*container.InspectResponse{node: {}} },
			want: "172.29.1.2", wantConnects: []string{node + "→" + sharedNet}, wantExecs: []string{cat}},
		{name: "the MAC compares in any case", fake: func(f *sharedFake) {
			f.nodes, f.assign.MacAddress, f.macs[node] = nodeOn(nil), strings.ToUpper(sharedMAC), sharedMAC+"\n"
		}, want: "172.29.1.2", wantConnects: []string{node + "→" + sharedNet}, wantExecs: []string{cat}},
		{name: "eth1 is another network's", fake: func(f *sharedFake) { f.nodes, f.macs[node] = nodeOn(onShared), kindMAC+"\n" },
			wantErr: node + "'s eth1 has MAC " + kindMAC + ", but its endpoint on " + sharedNet + " has " + sharedMAC +
				": Docker attached the networks in another order (after a restart?); run `testbed up --recreate`", wantExecs: []string{cat}},
		{name: "a conflict on connect (attached meanwhile) is no error", fake: func(f *sharedFake) {
			f.nodes, f.connectErr = nodeOn(nil), cerrdefs.ErrConflict.WithMessage("endpoint already exists")
		}, want: "172.29.1.2", wantConnects: []string{node + "→" + sharedNet}, wantExecs: []string{cat}},
		{name: "connect fails", fake: func(f *sharedFake) {
			f.nodes, f.connectErr, f.connectNoop = nodeOn(nil), errors.New("network testbed-lab-l2 not found"), true
		}, wantErr: "connecting " + node + " to " + sharedNet + ": network testbed-lab-l2 not found", wantConnects: []string{node + "→" + sharedNet}},
		{name: "still not on it after connecting", fake: func(f *sharedFake) { f.nodes, f.connectNoop = nodeOn(nil), true },
			wantErr: node + " is not on " + sharedNet + " after connecting it", wantConnects: []string{node + "→" + sharedNet}},
		{name: "inspect fails", fake: func(f *sharedFake) { f.nodes, f.inspectErr = nodeOn(nil), errors.New("engine gone") },
			wantErr: "inspecting " + node + ": engine gone"},
		{name: "eth1 unreadable", fake: func(f *sharedFake) { f.nodes, f.execCode = nodeOn(onShared), 1 },
			wantErr: "reading " + node + "'s eth1: " + node + `: "cat /sys/class/net/eth1/address" exited 1`, wantExecs: []string{cat}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &sharedFake{assign: network.EndpointSettings{IPAddress: "172.29.1.2", MacAddress: sharedMAC}, macs: map[string]string{node: sharedMAC + "\n"}}
			tc.fake(f)
			got, err := newShared(f).Attach(context.Background(), sharedTestPlan(0), node)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("Attach = %q, %v; want %q", got, err, tc.want)
			}
			if d := cmp.Diff(tc.wantConnects, f.connects, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("connects (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantExecs, f.execs, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("execs (-want +got):\n%s", d)
			}
			if len(f.helpers) != 0 {
				t.Errorf("Attach ran helper containers: %v", f.helpers)
			}
		})
	}
}

// TestSharedAttachTwice: the second Attach of a node finds it on the
// network and returns the same address without connecting it again.
func TestSharedAttachTwice(t *testing.T) {
	f := &sharedFake{nodes: nodeOn(nil), assign: network.EndpointSettings{IPAddress: "172.29.1.2", MacAddress: sharedMAC},
		macs: map[string]string{node: sharedMAC + "\n"}}
	s := newShared(f)
	for i := range 2 {
		got, err := s.Attach(context.Background(), sharedTestPlan(0), node)
		if err != nil || got != "172.29.1.2" {
			t.Fatalf("Attach #%d = %q, %v", i+1, got, err)
		}
	}
	if len(f.connects) != 1 || len(f.execs) != 2 {
		t.Errorf("connects %v and execs %v, want one connect and a check each time", f.connects, f.execs)
	}
}

// TestSharedRemove: Remove runs `l2 remove DEVICE` and reads its answer.
func TestSharedRemove(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  string
		code    int
		want    bool
		wantErr string
	}{
		{name: "removed", answer: `{"removed":true}`, want: true},
		{name: "nothing to remove", answer: `{"removed":false}`},
		{name: "helper fails", code: 1, wantErr: `host b: testbed l2 remove tbvx-0a1b2c3d4e: helper l2-remove (container helper01): "l2 remove tbvx-0a1b2c3d4e" exited 1`},
		{name: "not JSON", answer: "removed", wantErr: `host b: testbed l2 remove tbvx-0a1b2c3d4e printed "removed\n"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &sharedFake{answers: map[string]string{"remove": tc.answer}, exits: map[string]int{"remove": tc.code}}
			got, err := newShared(f).Remove(context.Background(), sharedDevice)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("Remove = %v, %v; want %v", got, err, tc.want)
			}
			checkHelpers(t, f, "l2-remove: l2 remove "+sharedDevice)
		})
	}
}
