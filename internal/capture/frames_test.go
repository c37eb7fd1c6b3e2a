package capture

import (
	"encoding/binary"
	"net/netip"
)

// Hand-built frames for the tests. Everything is built byte by byte, so a
// test states exactly what is on the wire.

var (
	group1 = Group{Addr: netip.MustParseAddr("239.11.11.1"), Port: 4000}
	group2 = Group{Addr: netip.MustParseAddr("239.11.11.2"), Port: 4001}
	srcMAC = MAC{0x02, 0x42, 0xac, 0x12, 0x00, 0x02}
)

// mcastMAC is the Ethernet address of an IPv4 multicast group.
func mcastMAC(a netip.Addr) MAC {
	b := a.As4()
	return MAC{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}
}

func eth(dst MAC, etherType uint16, payload []byte) []byte {
	f := make([]byte, 0, ethLen+len(payload))
	f = append(f, dst[:]...)
	f = append(f, srcMAC[:]...)
	f = binary.BigEndian.AppendUint16(f, etherType)
	return append(f, payload...)
}

// ipSpec describes an IPv4 header; zero fields take defaults.
type ipSpec struct {
	src, dst string
	proto    byte
	options  []byte // padded to 4 bytes by the caller
	frag     uint16 // flags (0x2000 = MF) | offset in 8-byte units
	total    int    // total length override (0: computed)
	ihl      int    // IHL override in 32-bit words (0: computed)
	version  byte   // 0: 4
}

func ipv4(s ipSpec, payload []byte) []byte {
	hl := 20 + len(s.options)
	h := make([]byte, 20, hl+len(payload))
	v := s.version
	if v == 0 {
		v = 4
	}
	ihl := s.ihl
	if ihl == 0 {
		ihl = hl / 4
	}
	h[0] = v<<4 | byte(ihl)
	total := s.total
	if total == 0 {
		total = hl + len(payload)
	}
	binary.BigEndian.PutUint16(h[2:], uint16(total))
	binary.BigEndian.PutUint16(h[4:], 0x1234)
	binary.BigEndian.PutUint16(h[6:], s.frag)
	h[8] = 1 // TTL
	h[9] = s.proto
	src, dst := netip.MustParseAddr(s.src).As4(), netip.MustParseAddr(s.dst).As4()
	copy(h[12:], src[:])
	copy(h[16:], dst[:])
	h = append(h, s.options...)
	return append(h, payload...)
}

func udp(sport, dport uint16, payload []byte) []byte {
	u := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	return append(u, payload...)
}

// announce is an untagged UDP frame from src to group g.
func announce(src string, g Group, payload []byte) []byte {
	return eth(mcastMAC(g.Addr), etherTypeIPv4, ipv4(ipSpec{src: src, dst: g.Addr.String(), proto: protoUDP}, udp(4000, g.Port, payload)))
}

var routerAlert = []byte{0x94, 0x04, 0x00, 0x00}

// igmpFrame is an IGMP message from src to dst with the Router Alert
// option, as Linux sends it.
func igmpFrame(src, dst string, msg []byte) []byte {
	return eth(mcastMAC(netip.MustParseAddr(dst)), etherTypeIPv4, ipv4(ipSpec{src: src, dst: dst, proto: protoIGMP, options: routerAlert}, msg))
}

func igmpMsg(typ, maxResp byte, group string) []byte {
	m := make([]byte, 8)
	m[0], m[1] = typ, maxResp
	g := netip.MustParseAddr(group).As4()
	copy(m[4:], g[:])
	return m
}

type v3rec struct {
	typ     byte
	group   string
	sources []string
	aux     int // aux data words
}

func igmpV3(recs ...v3rec) []byte {
	m := make([]byte, 8)
	m[0] = igmpV3Report
	binary.BigEndian.PutUint16(m[6:], uint16(len(recs)))
	for _, r := range recs {
		g := netip.MustParseAddr(r.group).As4()
		m = append(m, r.typ, byte(r.aux))
		m = binary.BigEndian.AppendUint16(m, uint16(len(r.sources)))
		m = append(m, g[:]...)
		for _, s := range r.sources {
			a := netip.MustParseAddr(s).As4()
			m = append(m, a[:]...)
		}
		m = append(m, make([]byte, 4*r.aux)...)
	}
	return m
}

func igmpV3Query(group string) []byte {
	m := igmpMsg(igmpQuery, 100, group)
	return append(m, 0x02, 125, 0, 0) // S/QRV, QQIC, 0 sources
}

func arpFrame() []byte {
	arp := []byte{0, 1, 8, 0, 6, 4, 0, 1}
	arp = append(arp, srcMAC[:]...)
	arp = append(arp, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2)
	return eth(MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0x0806, arp)
}

// ipv6UDP is an IPv6 UDP datagram to ff02::1 port 4000.
func ipv6UDP() []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], 8+4)
	h[6], h[7] = 17, 1
	h[8], h[23] = 0xfe, 1
	h[24], h[25], h[39] = 0xff, 0x02, 1
	return eth(MAC{0x33, 0x33, 0, 0, 0, 1}, 0x86dd, append(h, udp(4000, 4000, []byte("ping"))...))
}

func vlanTagged(f []byte) []byte {
	out := append([]byte{}, f[:12]...)
	out = append(out, 0x81, 0x00, 0x00, 0x0a)
	return append(out, f[12:]...)
}

func tcpTo(g Group) []byte {
	t := make([]byte, 20)
	binary.BigEndian.PutUint16(t[0:], 40000)
	binary.BigEndian.PutUint16(t[2:], g.Port)
	t[12] = 5 << 4
	return eth(mcastMAC(g.Addr), etherTypeIPv4, ipv4(ipSpec{src: "192.0.2.1", dst: g.Addr.String(), proto: 6}, t))
}

func pad(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
