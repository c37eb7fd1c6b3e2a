package capture

import (
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

// runFilter runs the filter in x/net/bpf's VM and returns the bytes the
// kernel would keep: min(verdict, frame length).
func runFilter(t *testing.T, raw []bpf.RawInstruction, frame []byte) int {
	t.Helper()
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("filter does not disassemble")
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("bpf.NewVM: %v", err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatalf("vm.Run: %v", err)
	}
	return min(n, len(frame))
}

func TestFilter(t *testing.T) {
	raw, err := Filter([]Group{group1, group2, group1})
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 64 {
		t.Errorf("filter has %d instructions for 2 groups", len(raw))
	}
	ann := announce("192.0.2.1", group1, []byte("hello"))
	big := announce("192.0.2.1", group1, pad(1000))
	// IHL 6 with an option whose last two bytes read 4000 where the UDP
	// destination port would be without options: the filter must look at
	// the real port (5000) through the IHL.
	trap := eth(mcastMAC(group1.Addr), etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, options: []byte{0x94, 0x04, 0x0f, 0xa0}}, udp(4000, 5000, []byte("x"))))
	withOpt := eth(mcastMAC(group1.Addr), etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, options: []byte{0x94, 0x04, 0x00, 0x00}}, udp(5000, 4000, []byte("x"))))
	frag := func(f uint16) []byte {
		return eth(mcastMAC(group1.Addr), etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, frag: f}, udp(4000, 4000, pad(64))))
	}
	igmpBig := igmpFrame("192.0.2.3", "224.0.0.22", igmpV3(func() []v3rec {
		var r []v3rec
		for range 200 {
			r = append(r, v3rec{typ: recModeIsExclude, group: "239.1.1.1"})
		}
		return r
	}()...))
	for _, tc := range []struct {
		name  string
		frame []byte
		want  int // bytes kept; 0 = rejected
	}{
		{"group1 announcement", ann, len(ann)},
		{"group2 announcement", announce("192.0.2.2", group2, []byte("hi")), len(announce("192.0.2.2", group2, []byte("hi")))},
		{"snap length", big, SnapLen},
		{"group1 address, group2 port", announce("192.0.2.1", Group{group1.Addr, group2.Port}, nil), 0},
		{"other group", announce("192.0.2.1", Group{netip.MustParseAddr("239.11.11.3"), 4000}, nil), 0},
		{"other port", announce("192.0.2.1", Group{group1.Addr, 4002}, nil), 0},
		{"TCP to group and port", tcpTo(group1), 0},
		{"ARP", arpFrame(), 0},
		{"IPv6 UDP", ipv6UDP(), 0},
		{"VLAN-tagged announcement", vlanTagged(ann), 0},
		{"IP options, right port", withOpt, len(withOpt)},
		{"IP options, port found only without IHL", trap, 0},
		{"first fragment", frag(0x2000), len(frag(0x2000))},
		{"non-first fragment", frag(0x2000 | 185), 0},
		{"last fragment", frag(185), 0},
		{"DF set", frag(0x4000), len(frag(0x4000))},
		{"IP version 6 in IPv4 EtherType", eth(mcastMAC(group1.Addr), etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, version: 6}, udp(4000, 4000, nil))), 0},
		{"IHL 4", eth(mcastMAC(group1.Addr), etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, ihl: 4}, udp(4000, 4000, nil))), 0},
		{"truncated before the port", announce("192.0.2.1", group1, nil)[:36], 0},
		{"IGMPv2 report", igmpFrame("192.0.2.3", "239.11.11.1", igmpMsg(igmpV2Report, 0, "239.11.11.1")), 46},
		{"IGMPv2 leave", igmpFrame("192.0.2.3", "224.0.0.2", igmpMsg(igmpV2Leave, 0, "239.11.11.1")), 46},
		{"IGMPv3 report", igmpFrame("192.0.2.3", "224.0.0.22", igmpV3(v3rec{typ: recChangeToExclude, group: "239.11.11.1"})), 54},
		{"IGMPv3 query", igmpFrame("192.0.2.254", "224.0.0.1", igmpV3Query("0.0.0.0")), 50},
		{"IGMP kept whole up to IGMPSnapLen", igmpBig, IGMPSnapLen},
		{"IGMP type 0x13 (DVMRP)", igmpFrame("192.0.2.3", "224.0.0.4", igmpMsg(0x13, 0, "0.0.0.0")), 46},
		{"empty", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runFilter(t, raw, tc.frame); got != tc.want {
				t.Errorf("filter kept %d bytes, want %d", got, tc.want)
			}
		})
	}
}

func TestFilterSnap(t *testing.T) {
	raw, err := filter([]Group{group1}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := runFilter(t, raw, announce("192.0.2.1", group1, pad(500))); got != 100 {
		t.Errorf("kept %d bytes, want 100", got)
	}
}

func TestFilterErrors(t *testing.T) {
	many := make([]Group, MaxGroups+1)
	for i := range many {
		many[i] = Group{netip.AddrFrom4([4]byte{239, 0, 0, byte(i)}), 4000}
	}
	for _, tc := range []struct {
		name   string
		groups []Group
		want   string
	}{
		{"none", nil, "at least one group"},
		{"IPv6 group", []Group{{netip.MustParseAddr("ff02::fb"), 5353}}, "only IPv4"},
		{"unicast", []Group{{netip.MustParseAddr("192.0.2.1"), 4000}}, "not an IPv4 multicast"},
		{"broadcast", []Group{{netip.MustParseAddr("255.255.255.255"), 4000}}, "not an IPv4 multicast"},
		{"IPv4-mapped IPv6", []Group{{netip.MustParseAddr("::ffff:239.11.11.1"), 4000}}, "only IPv4"},
		{"no address", []Group{{Port: 4000}}, "no address"},
		{"port 0", []Group{{group1.Addr, 0}}, "port 0"},
		{"too many", many, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Filter(tc.groups)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Filter error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Filter(many[:MaxGroups]); err != nil {
		t.Errorf("Filter with MaxGroups groups: %v", err)
	}
}

func TestParseGroup(t *testing.T) {
	g, err := ParseGroup("239.11.11.1:4000")
	if err != nil || g != group1 || g.String() != "239.11.11.1:4000" {
		t.Errorf("ParseGroup = %v, %v", g, err)
	}
	for _, s := range []string{"239.11.11.1", "10.0.0.1:4000", "[ff02::1]:4000", "239.1.1.1:0"} {
		if _, err := ParseGroup(s); err == nil {
			t.Errorf("ParseGroup(%q) succeeded", s)
		}
	}
}
