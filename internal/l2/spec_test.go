package l2

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func validSpec() Spec {
	return Spec{
		Bridge: "tb-disc0", Device: "tbvx0", VNI: 4242, Port: 0,
		Local: netip.MustParseAddr("192.0.2.1"),
		Peers: []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")},
	}
}

func TestSpecValidate(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   []string // substrings of the error; none: valid
	}{
		{name: "valid, defaults", change: func(*Spec) {}},
		{name: "valid, explicit port and MTU bounds", change: func(s *Spec) { s.Port, s.MTU = 8472, MinMTU }},
		{name: "valid, max MTU and VNI", change: func(s *Spec) { s.MTU, s.VNI = MaxMTU, MaxVNI }},
		{name: "valid, no peers", change: func(s *Spec) { s.Peers = nil }},
		{name: "valid, 15-byte names", change: func(s *Spec) { s.Bridge, s.Device = "br-0123456789ab", "vx-0123456789ab" }},
		{name: "missing names", change: func(s *Spec) { s.Bridge, s.Device = "", "" }, want: []string{"bridge: missing interface name", "device: missing interface name"}},
		{name: "16-byte name", change: func(s *Spec) { s.Device = "vx-0123456789abc" }, want: []string{`device: interface name "vx-0123456789abc" is 16 bytes, at most 15`}},
		{name: "slash", change: func(s *Spec) { s.Bridge = "br/0" }, want: []string{`bridge: interface name "br/0" has an invalid character at byte 2`}},
		{name: "colon", change: func(s *Spec) { s.Device = "eth0:1" }, want: []string{"invalid character at byte 4"}},
		{name: "space", change: func(s *Spec) { s.Device = "vx 0" }, want: []string{"invalid character at byte 2"}},
		{name: "NUL and non-ASCII", change: func(s *Spec) { s.Device, s.Bridge = "vx\x000", "brü" }, want: []string{"device: interface name", "bridge: interface name"}},
		{name: "dot", change: func(s *Spec) { s.Device = ".." }, want: []string{`".." is reserved`}},
		{name: "device is the bridge", change: func(s *Spec) { s.Device = s.Bridge }, want: []string{"is also the bridge's name"}},
		{name: "VNI 0", change: func(s *Spec) { s.VNI = 0 }, want: []string{"vni: 0 out of range 1..16777215"}},
		{name: "VNI too large", change: func(s *Spec) { s.VNI = MaxVNI + 1 }, want: []string{"vni: 16777216 out of range"}},
		{name: "port too large", change: func(s *Spec) { s.Port = 65536 }, want: []string{"port: 65536 out of range 1..65535"}},
		{name: "negative port", change: func(s *Spec) { s.Port = -1 }, want: []string{"port: -1"}},
		{name: "MTU too small", change: func(s *Spec) { s.MTU = 575 }, want: []string{"mtu: 575 out of range 576..9000"}},
		{name: "MTU too large", change: func(s *Spec) { s.MTU = 9001 }, want: []string{"mtu: 9001"}},
		{name: "no local", change: func(s *Spec) { s.Local = netip.Addr{} }, want: []string{"local: missing IPv4 address"}},
		{name: "IPv6 local", change: func(s *Spec) { s.Local = a("2001:db8::1") }, want: []string{"local: 2001:db8::1 is not an IPv4 address"}},
		{name: "mapped local", change: func(s *Spec) { s.Local = a("::ffff:192.0.2.1") }, want: []string{"is not an IPv4 address"}},
		{name: "multicast local", change: func(s *Spec) { s.Local = a("239.1.1.1") }, want: []string{"local: 239.1.1.1 is not a unicast address"}},
		{name: "loopback local", change: func(s *Spec) { s.Local = a("127.0.0.1") }, want: []string{"local: 127.0.0.1 is not a unicast"}},
		{name: "peer is local", change: func(s *Spec) { s.Peers[1] = s.Local }, want: []string{"peers[1]: 192.0.2.1 is the local address"}},
		{name: "repeated peer", change: func(s *Spec) { s.Peers = append(s.Peers, s.Peers[0]) }, want: []string{"peers[2]: 192.0.2.2 repeats peers[0]"}},
		{name: "invalid peer", change: func(s *Spec) { s.Peers[0] = netip.Addr{} }, want: []string{"peers[0]: missing IPv4 address"}},
		{name: "broadcast peer", change: func(s *Spec) { s.Peers[0] = a("255.255.255.255") }, want: []string{"peers[0]: 255.255.255.255 is not a unicast"}},
		{name: "IPv6 peer", change: func(s *Spec) { s.Peers[0] = a("2001:db8::2") }, want: []string{"peers[0]: 2001:db8::2 is not an IPv4"}},
		{name: "too many peers", change: func(s *Spec) { s.Peers = make([]netip.Addr, MaxPeers+1) }, want: []string{"peers: 1025 peers, at most 1024"}},
		{name: "every problem reported", change: func(s *Spec) { s.VNI, s.Port, s.MTU = 0, 70000, 1 },
			want: []string{"vni:", "port:", "mtu:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.change(&s)
			err := s.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestSpecPortDefault(t *testing.T) {
	for _, tc := range []struct{ port, want int }{{0, DefaultPort}, {8472, 8472}} {
		if got := (Spec{Port: tc.port}).port(); got != tc.want {
			t.Errorf("Spec{Port: %d}.port() = %d, want %d", tc.port, got, tc.want)
		}
	}
}

// TestSpecJSON pins the wire form `testbed l2 ensure` reads.
func TestSpecJSON(t *testing.T) {
	in := `{"bridge":"tb-disc0","device":"tbvx0","vni":4242,"local":"192.0.2.1","peers":["192.0.2.2","192.0.2.3"],"snooping":false}`
	var s Spec
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(validSpec(), s, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("decoded spec (-want +got):\n%s", d)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("encoded spec\n got %s\nwant %s", out, in)
	}
}
