package capture

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)

func TestDecode(t *testing.T) {
	ip := netip.MustParseAddr
	payload := []byte("fluidos-announce")
	ann := announce("192.0.2.1", group1, payload)
	padded := append(append([]byte{}, announce("192.0.2.1", group1, []byte("a"))...), make([]byte, 20)...)
	big := announce("192.0.2.1", group1, pad(1000))
	v3 := igmpFrame("192.0.2.3", "224.0.0.22", igmpV3(
		v3rec{typ: recChangeToExclude, group: "239.11.11.1"},
		v3rec{typ: recModeIsExclude, group: "239.11.11.2", aux: 1},
		v3rec{typ: recChangeToInclude, group: "239.11.11.3"},
		v3rec{typ: recModeIsInclude, group: "239.11.11.4", sources: []string{"192.0.2.9"}},
		v3rec{typ: 9, group: "239.11.11.5"}, // unknown type: skipped
		v3rec{typ: recChangeToExclude, group: "239.11.11.6", sources: []string{"192.0.2.9", "192.0.2.8"}},
		v3rec{typ: recAllowNew, group: "239.11.11.7", sources: []string{"192.0.2.9"}},
		v3rec{typ: recBlockOld, group: "239.11.11.8", sources: []string{"192.0.2.9"}},
	))
	for _, tc := range []struct {
		name  string
		frame []byte
		want  Packet // compared field by field when err is nil
		err   error
	}{
		{name: "announcement", frame: ann, want: Packet{
			Kind: KindAnnouncement, SrcIP: ip("192.0.2.1"), DstIP: group1.Addr, Group: group1,
			SrcPort: 4000, DstPort: 4000, PayloadLen: len(payload), Hash: HashPayload(payload),
		}},
		{name: "Ethernet padding ignored", frame: padded, want: Packet{
			Kind: KindAnnouncement, SrcIP: ip("192.0.2.1"), DstIP: group1.Addr, Group: group1,
			SrcPort: 4000, DstPort: 4000, PayloadLen: 1, Hash: HashPayload([]byte("a")),
		}},
		{name: "cut by snap length", frame: big[:SnapLen], want: Packet{
			Kind: KindAnnouncement, SrcIP: ip("192.0.2.1"), DstIP: group1.Addr, Group: group1,
			SrcPort: 4000, DstPort: 4000, PayloadLen: 1000, Hash: HashPayload(pad(1000)[:SnapLen-42]), Truncated: true,
		}},
		{name: "IP options", frame: eth(mcastMAC(group2.Addr), etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.2", dst: "239.11.11.2", proto: protoUDP, options: []byte{1, 1, 1, 0, 0x94, 4, 0, 0}}, udp(5000, 4001, []byte("xy")))), want: Packet{
			Kind: KindAnnouncement, SrcIP: ip("192.0.2.2"), DstIP: group2.Addr, Group: group2,
			SrcPort: 5000, DstPort: 4001, PayloadLen: 2, Hash: HashPayload([]byte("xy")),
		}},
		{name: "first fragment", frame: eth(mcastMAC(group1.Addr), etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, frag: 0x2000}, udp(4000, 4000, pad(2000))[:8+16])), want: Packet{
			Kind: KindAnnouncement, SrcIP: ip("192.0.2.1"), DstIP: group1.Addr, Group: group1,
			SrcPort: 4000, DstPort: 4000, PayloadLen: 2000, Hash: HashPayload(pad(16)), Truncated: true, Fragment: true,
		}},
		{name: "IGMPv1 report", frame: igmpFrame("192.0.2.3", "239.11.11.1", igmpMsg(igmpV1Report, 0, "239.11.11.1")), want: Packet{
			Kind: KindMembership, SrcIP: ip("192.0.2.3"), DstIP: group1.Addr, IGMPType: igmpV1Report, IGMPVersion: 1,
			Events: []Membership{{Group: group1.Addr, Op: OpJoin, Version: 1}},
		}},
		{name: "IGMPv2 report", frame: igmpFrame("192.0.2.3", "239.11.11.1", igmpMsg(igmpV2Report, 0, "239.11.11.1")), want: Packet{
			Kind: KindMembership, SrcIP: ip("192.0.2.3"), DstIP: group1.Addr, IGMPType: igmpV2Report, IGMPVersion: 2,
			Events: []Membership{{Group: group1.Addr, Op: OpJoin, Version: 2}},
		}},
		{name: "IGMPv2 leave", frame: igmpFrame("192.0.2.3", "224.0.0.2", igmpMsg(igmpV2Leave, 0, "239.11.11.1")), want: Packet{
			Kind: KindMembership, SrcIP: ip("192.0.2.3"), DstIP: ip("224.0.0.2"), IGMPType: igmpV2Leave, IGMPVersion: 2,
			Events: []Membership{{Group: group1.Addr, Op: OpLeave, Version: 2}},
		}},
		{name: "IGMPv3 report, one event per record", frame: v3, want: Packet{
			Kind: KindMembership, SrcIP: ip("192.0.2.3"), DstIP: ip("224.0.0.22"), IGMPType: igmpV3Report, IGMPVersion: 3,
			Events: []Membership{
				{Group: ip("239.11.11.1"), Op: OpJoin, Version: 3, RecordType: recChangeToExclude},
				{Group: ip("239.11.11.2"), Op: OpJoin, Version: 3, RecordType: recModeIsExclude},
				{Group: ip("239.11.11.3"), Op: OpLeave, Version: 3, RecordType: recChangeToInclude},
				{Group: ip("239.11.11.4"), Op: OpOther, Version: 3, RecordType: recModeIsInclude, Sources: 1},
				{Group: ip("239.11.11.6"), Op: OpOther, Version: 3, RecordType: recChangeToExclude, Sources: 2},
				{Group: ip("239.11.11.7"), Op: OpOther, Version: 3, RecordType: recAllowNew, Sources: 1},
				{Group: ip("239.11.11.8"), Op: OpOther, Version: 3, RecordType: recBlockOld, Sources: 1},
			},
		}},
		{name: "IGMPv3 report cut by snap length keeps whole records", frame: v3[:14+24+8+8+12], want: Packet{
			Kind: KindMembership, SrcIP: ip("192.0.2.3"), DstIP: ip("224.0.0.22"), IGMPType: igmpV3Report, IGMPVersion: 3, Truncated: true,
			Events: []Membership{
				{Group: ip("239.11.11.1"), Op: OpJoin, Version: 3, RecordType: recChangeToExclude},
				{Group: ip("239.11.11.2"), Op: OpJoin, Version: 3, RecordType: recModeIsExclude},
			},
		}},
		{name: "IGMPv3 report, no records", frame: igmpFrame("192.0.2.3", "224.0.0.22", igmpV3()), want: Packet{
			Kind: KindMembership, SrcIP: ip("192.0.2.3"), DstIP: ip("224.0.0.22"), IGMPType: igmpV3Report, IGMPVersion: 3, Events: []Membership{},
		}},
		{name: "IGMPv3 general query", frame: igmpFrame("192.0.2.254", "224.0.0.1", igmpV3Query("0.0.0.0")), want: Packet{
			Kind: KindQuery, SrcIP: ip("192.0.2.254"), DstIP: ip("224.0.0.1"), IGMPType: igmpQuery, IGMPVersion: 3, Group: Group{Addr: ip("0.0.0.0")},
		}},
		{name: "IGMPv2 group query", frame: igmpFrame("192.0.2.254", "239.11.11.1", igmpMsg(igmpQuery, 10, "239.11.11.1")), want: Packet{
			Kind: KindQuery, SrcIP: ip("192.0.2.254"), DstIP: group1.Addr, IGMPType: igmpQuery, IGMPVersion: 2, Group: Group{Addr: group1.Addr},
		}},
		{name: "IGMPv1 query", frame: igmpFrame("192.0.2.254", "224.0.0.1", igmpMsg(igmpQuery, 0, "0.0.0.0")), want: Packet{
			Kind: KindQuery, SrcIP: ip("192.0.2.254"), DstIP: ip("224.0.0.1"), IGMPType: igmpQuery, IGMPVersion: 1, Group: Group{Addr: ip("0.0.0.0")},
		}},
		{name: "other IGMP type", frame: igmpFrame("192.0.2.3", "224.0.0.4", igmpMsg(0x13, 0, "0.0.0.0")), want: Packet{
			Kind: KindIGMPOther, SrcIP: ip("192.0.2.3"), DstIP: ip("224.0.0.4"), IGMPType: 0x13,
		}},

		{name: "ARP", frame: arpFrame(), err: ErrNotDiscovery},
		{name: "IPv6", frame: ipv6UDP(), err: ErrNotDiscovery},
		{name: "VLAN-tagged", frame: vlanTagged(ann), err: ErrNotDiscovery},
		{name: "TCP", frame: tcpTo(group1), err: ErrNotDiscovery},
		{name: "UDP to unicast", frame: eth(srcMAC, etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "192.0.2.2", proto: protoUDP}, udp(1, 2, nil))), err: ErrNotDiscovery},
		{name: "UDP to broadcast", frame: eth(srcMAC, etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "255.255.255.255", proto: protoUDP}, udp(1, 2, nil))), err: ErrNotDiscovery},
		{name: "non-first fragment", frame: eth(mcastMAC(group1.Addr), etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, frag: 185}, pad(40))), err: ErrNotDiscovery},
		{name: "fragmented IGMP", frame: eth(mcastMAC(group1.Addr), etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "224.0.0.22", proto: protoIGMP, frag: 0x2000}, igmpV3())), err: ErrNotDiscovery},

		{name: "empty", frame: nil, err: ErrMalformed},
		{name: "short Ethernet", frame: ann[:13], err: ErrMalformed},
		{name: "short IPv4 header", frame: ann[:14+19], err: ErrMalformed},
		{name: "IP version 6 in IPv4 frame", frame: eth(srcMAC, etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, version: 6}, udp(1, 2, nil))), err: ErrMalformed},
		{name: "IHL 4", frame: eth(srcMAC, etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, ihl: 4}, udp(1, 2, nil))), err: ErrMalformed},
		{name: "IHL past captured bytes", frame: eth(srcMAC, etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, ihl: 15}, nil)), err: ErrMalformed},
		{name: "total length below IHL", frame: eth(srcMAC, etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: "239.11.11.1", proto: protoUDP, total: 19}, udp(1, 2, nil))), err: ErrMalformed},
		{name: "UDP header truncated", frame: ann[:14+20+7], err: ErrMalformed},
		{name: "UDP length below 8", frame: func() []byte { f := announce("192.0.2.1", group1, nil); f[14+20+5] = 7; return f }(), err: ErrMalformed},
		{name: "UDP length past IP payload", frame: func() []byte { f := announce("192.0.2.1", group1, []byte("ab")); f[14+20+5] = 11; return f }(), err: ErrMalformed},
		{name: "IGMP truncated", frame: igmpFrame("192.0.2.3", "224.0.0.22", igmpV3())[:14+24+7], err: ErrMalformed},
		{name: "IGMPv2 report for unicast group", frame: igmpFrame("192.0.2.3", "224.0.0.22", igmpMsg(igmpV2Report, 0, "192.0.2.1")), err: ErrMalformed},
		{name: "IGMPv3 record count past message", frame: func() []byte {
			f := igmpFrame("192.0.2.3", "224.0.0.22", igmpV3(v3rec{typ: 4, group: "239.1.1.1"}))
			f[14+24+7] = 2
			return f
		}(), err: ErrMalformed},
		{name: "IGMPv3 sources past message", frame: func() []byte {
			f := igmpFrame("192.0.2.3", "224.0.0.22", igmpV3(v3rec{typ: 4, group: "239.1.1.1"}))
			f[14+24+8+3] = 1
			return f
		}(), err: ErrMalformed},
		{name: "IGMPv3 record for unicast group", frame: igmpFrame("192.0.2.3", "224.0.0.22", igmpV3(v3rec{typ: 4, group: "10.1.1.1"})), err: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.frame, t0)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Decode error %v, want %v", err, tc.err)
				}
				if !got.Time.IsZero() || got.Kind != 0 {
					t.Errorf("Decode returned %+v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			tc.want.Time, tc.want.SrcMAC = t0, srcMAC
			if !equalPacket(got, tc.want) {
				t.Errorf("Decode =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

// equalPacket compares packets, times by instant (not location).
func equalPacket(a, b Packet) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// TestDecodeTruncations decodes every prefix of valid frames: each is
// either an error or a packet marked Truncated (or complete), never a panic.
func TestDecodeTruncations(t *testing.T) {
	for _, f := range validFrames() {
		for n := range len(f) {
			p, err := Decode(f[:n], t0)
			if err == nil && n < len(f) && !p.Truncated && p.Kind != KindQuery && p.Kind != KindIGMPOther && p.Kind != KindMembership {
				t.Errorf("prefix %d of %d decoded as complete %+v", n, len(f), p)
			}
			if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotDiscovery) {
				t.Errorf("prefix %d: error %v wraps neither sentinel", n, err)
			}
		}
	}
}

func validFrames() [][]byte {
	return [][]byte{
		announce("192.0.2.1", group1, []byte("fluidos-announce")),
		announce("192.0.2.2", group2, pad(300)),
		igmpFrame("192.0.2.3", "239.11.11.1", igmpMsg(igmpV2Report, 0, "239.11.11.1")),
		igmpFrame("192.0.2.3", "224.0.0.2", igmpMsg(igmpV2Leave, 0, "239.11.11.1")),
		igmpFrame("192.0.2.3", "224.0.0.22", igmpV3(v3rec{typ: recChangeToExclude, group: "239.11.11.1"}, v3rec{typ: recAllowNew, group: "239.11.11.2", sources: []string{"192.0.2.1"}, aux: 1})),
		igmpFrame("192.0.2.254", "224.0.0.1", igmpV3Query("0.0.0.0")),
	}
}

func TestKindOpStrings(t *testing.T) {
	for v, want := range map[string]string{
		KindAnnouncement.String(): "announcement", KindMembership.String(): "membership", KindQuery.String(): "query",
		KindIGMPOther.String(): "igmp-other", Kind(0).String(): "kind(0)", OpJoin.String(): "join", OpLeave.String(): "leave",
		OpOther.String(): "other", Op(9).String(): "op(9)", srcMAC.String(): "02:42:ac:12:00:02",
		ReadyByJoin.String(): "igmp-join", ReadyByAnnouncement.String(): "announcement", ReadyBy(0).String(): "none",
	} {
		if v != want {
			t.Errorf("String() = %q, want %q", v, want)
		}
	}
}
