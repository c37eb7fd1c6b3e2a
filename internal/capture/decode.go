package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Decode errors. Every error Decode returns wraps exactly one of them.
var (
	// ErrMalformed: the frame is truncated or its lengths are inconsistent.
	ErrMalformed = errors.New("malformed frame")
	// ErrNotDiscovery: a well-formed frame that is not discovery traffic
	// (not untagged IPv4, not UDP or IGMP, UDP to a non-multicast address,
	// a non-first fragment). The capture filter never lets these through.
	ErrNotDiscovery = errors.New("not discovery traffic")
)

// Kind is what a Packet is.
type Kind uint8

const (
	// KindAnnouncement is a UDP datagram to an IPv4 multicast group.
	KindAnnouncement Kind = iota + 1
	// KindMembership is an IGMP report or leave; see Packet.Events.
	KindMembership
	// KindQuery is an IGMP membership query (v1, v2 or v3; general or
	// group-specific): recorded, otherwise ignored.
	KindQuery
	// KindIGMPOther is any other IGMP type (DVMRP, mtrace, ...).
	KindIGMPOther
)

func (k Kind) String() string {
	switch k {
	case KindAnnouncement:
		return "announcement"
	case KindMembership:
		return "membership"
	case KindQuery:
		return "query"
	case KindIGMPOther:
		return "igmp-other"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Op is what one IGMP membership event does to the sender's membership.
type Op uint8

const (
	// OpJoin: an IGMPv1/v2 report, or an IGMPv3 MODE_IS_EXCLUDE or
	// CHANGE_TO_EXCLUDE record with no sources (any-source membership).
	OpJoin Op = iota + 1
	// OpLeave: an IGMPv2 leave, or an IGMPv3 CHANGE_TO_INCLUDE record with
	// no sources.
	OpLeave
	// OpOther: any other IGMPv3 record (source lists, MODE_IS_INCLUDE,
	// ALLOW_NEW_SOURCES, BLOCK_OLD_SOURCES).
	OpOther
)

func (o Op) String() string {
	switch o {
	case OpJoin:
		return "join"
	case OpLeave:
		return "leave"
	case OpOther:
		return "other"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// IGMP message types and IGMPv3 record types (RFC 2236, RFC 3376).
const (
	igmpQuery    = 0x11
	igmpV1Report = 0x12
	igmpV2Report = 0x16
	igmpV2Leave  = 0x17
	igmpV3Report = 0x22

	recModeIsInclude   = 1
	recModeIsExclude   = 2
	recChangeToInclude = 3
	recChangeToExclude = 4
	recAllowNew        = 5
	recBlockOld        = 6
)

// Membership is one IGMP membership event: one v1/v2 report or leave, or
// one group record of a v3 report.
type Membership struct {
	Group      netip.Addr
	Op         Op
	Version    uint8  // IGMP version: 1, 2 or 3
	RecordType uint8  // IGMPv3 record type (1-6); 0 for v1/v2
	Sources    uint16 // IGMPv3 record's number of sources
}

// MAC is an Ethernet address.
type MAC [6]byte

func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// Packet is one decoded discovery frame.
type Packet struct {
	Time   time.Time // kernel receive timestamp (CLOCK_REALTIME)
	Kind   Kind
	SrcMAC MAC
	SrcIP  netip.Addr
	DstIP  netip.Addr

	// Group is, for an announcement, its destination group and port; for
	// a query, the queried group in Addr (0.0.0.0 for a general query).
	Group Group
	// SrcPort and DstPort are an announcement's UDP ports.
	SrcPort, DstPort uint16
	// PayloadLen is an announcement's UDP payload length, from its UDP
	// header (the length on the wire, not the captured length).
	PayloadLen int
	// Hash is the 64-bit FNV-1a hash (HashPayload) of the captured bytes
	// of an announcement's payload, to tell duplicates from repeats.
	Hash uint64
	// Truncated: the frame was cut by the snap length (Hash covers the
	// captured prefix only) or, for IGMPv3, records past the cut are lost.
	Truncated bool
	// Fragment: an announcement that is the first fragment of a datagram.
	Fragment bool

	// IGMPType is the IGMP message type of an IGMP packet.
	IGMPType uint8
	// IGMPVersion is 1, 2 or 3 for reports, leaves and queries.
	IGMPVersion uint8
	// Events are a membership packet's events, one per v1/v2 message or
	// v3 group record, in wire order. Never modified once decoded.
	Events []Membership
}

// HashPayload is the hash in Packet.Hash: 64-bit FNV-1a.
func HashPayload(b []byte) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, c := range b {
		h ^= uint64(c)
		h *= prime
	}
	return h
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("capture: %w: "+format, append([]any{ErrMalformed}, args...)...)
}

func notDiscovery(format string, args ...any) error {
	return fmt.Errorf("capture: %w: "+format, append([]any{ErrNotDiscovery}, args...)...)
}

// Decode decodes one captured Ethernet frame (as many bytes as were
// captured; the wire may have had more) stamped ts. It is pure and never
// panics; its work is linear in len(frame). Lengths are checked (IP total
// length and IHL, UDP length, IGMPv3 records); checksums are not. Ethernet
// padding past the IP total length is ignored. A frame cut by the snap
// length decodes with Truncated set. Errors wrap ErrMalformed or
// ErrNotDiscovery.
func Decode(frame []byte, ts time.Time) (Packet, error) {
	var p Packet
	p.Time = ts
	if len(frame) < ethLen {
		return Packet{}, malformed("%d bytes, shorter than an Ethernet header", len(frame))
	}
	copy(p.SrcMAC[:], frame[6:12])
	if et := binary.BigEndian.Uint16(frame[offEtherType:]); et != etherTypeIPv4 {
		return Packet{}, notDiscovery("EtherType %#04x is not IPv4", et)
	}
	ip := frame[ethLen:]
	if len(ip) < 20 {
		return Packet{}, malformed("IPv4 header truncated at %d bytes", len(ip))
	}
	if v := ip[0] >> 4; v != 4 {
		return Packet{}, malformed("IP version %d in an IPv4 frame", v)
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 {
		return Packet{}, malformed("IHL %d bytes, below 20", ihl)
	}
	if len(ip) < ihl {
		return Packet{}, malformed("IPv4 header of %d bytes truncated at %d", ihl, len(ip))
	}
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if total < ihl {
		return Packet{}, malformed("IP total length %d below header length %d", total, ihl)
	}
	if total < len(ip) {
		ip = ip[:total] // Ethernet padding
	} else if total > len(ip) {
		p.Truncated = true
	}
	frag := binary.BigEndian.Uint16(ip[6:])
	if frag&0x1fff != 0 {
		return Packet{}, notDiscovery("non-first IP fragment")
	}
	p.SrcIP = netip.AddrFrom4([4]byte(ip[12:16]))
	p.DstIP = netip.AddrFrom4([4]byte(ip[16:20]))
	l4 := ip[ihl:]
	l4Wire := total - ihl
	switch ip[9] {
	case protoUDP:
		return decodeUDP(p, l4, l4Wire, frag&0x2000 != 0)
	case protoIGMP:
		if frag&0x2000 != 0 {
			return Packet{}, notDiscovery("fragmented IGMP")
		}
		return decodeIGMP(p, l4)
	default:
		return Packet{}, notDiscovery("IP protocol %d", ip[9])
	}
}

func decodeUDP(p Packet, l4 []byte, l4Wire int, moreFragments bool) (Packet, error) {
	if !p.DstIP.IsMulticast() {
		return Packet{}, notDiscovery("UDP to %s, not a multicast group", p.DstIP)
	}
	if len(l4) < udpLen {
		return Packet{}, malformed("UDP header truncated at %d bytes", len(l4))
	}
	p.Kind = KindAnnouncement
	p.SrcPort = binary.BigEndian.Uint16(l4[0:])
	p.DstPort = binary.BigEndian.Uint16(l4[2:])
	p.Group = Group{Addr: p.DstIP, Port: p.DstPort}
	ulen := int(binary.BigEndian.Uint16(l4[4:]))
	if ulen < udpLen {
		return Packet{}, malformed("UDP length %d below 8", ulen)
	}
	payload := l4[udpLen:]
	if moreFragments {
		p.Fragment = true
		if ulen-udpLen > len(payload) {
			p.Truncated = true
		}
	} else {
		if ulen > l4Wire {
			return Packet{}, malformed("UDP length %d exceeds IP payload %d", ulen, l4Wire)
		}
		if ulen-udpLen < len(payload) {
			payload = payload[:ulen-udpLen]
		}
	}
	p.PayloadLen = ulen - udpLen
	p.Hash = HashPayload(payload)
	return p, nil
}

func decodeIGMP(p Packet, l4 []byte) (Packet, error) {
	if len(l4) < 8 {
		return Packet{}, malformed("IGMP message truncated at %d bytes", len(l4))
	}
	p.IGMPType = l4[0]
	group := netip.AddrFrom4([4]byte(l4[4:8]))
	switch p.IGMPType {
	case igmpQuery:
		p.Kind = KindQuery
		switch {
		case len(l4) >= 12:
			p.IGMPVersion = 3
		case l4[1] == 0:
			p.IGMPVersion = 1
		default:
			p.IGMPVersion = 2
		}
		p.Group = Group{Addr: group}
		p.Truncated = false // a query is complete with its first 8 bytes
		return p, nil
	case igmpV1Report, igmpV2Report, igmpV2Leave:
		if !group.IsMulticast() {
			return Packet{}, malformed("IGMP type %#02x for non-multicast group %s", p.IGMPType, group)
		}
		m := Membership{Group: group, Op: OpJoin, Version: 2}
		switch p.IGMPType {
		case igmpV1Report:
			m.Version = 1
		case igmpV2Leave:
			m.Op = OpLeave
		}
		p.Kind = KindMembership
		p.IGMPVersion = m.Version
		p.Events = []Membership{m}
		p.Truncated = false
		return p, nil
	case igmpV3Report:
		return decodeV3Report(p, l4)
	default:
		p.Kind = KindIGMPOther
		return p, nil
	}
}

// decodeV3Report decodes the group records of an IGMPv3 report (RFC 3376
// 4.2). Records of unknown type are skipped, as the RFC asks. If the frame
// was cut by the snap length, the records before the cut are kept.
func decodeV3Report(p Packet, l4 []byte) (Packet, error) {
	p.Kind = KindMembership
	p.IGMPVersion = 3
	n := int(binary.BigEndian.Uint16(l4[6:]))
	recs := l4[8:]
	p.Events = make([]Membership, 0, min(n, len(recs)/8))
	for i := 0; i < n; i++ {
		if len(recs) < 8 {
			if p.Truncated {
				return p, nil
			}
			return Packet{}, malformed("IGMPv3 record %d of %d truncated", i+1, n)
		}
		rt := recs[0]
		aux := int(recs[1]) * 4
		nsrc := binary.BigEndian.Uint16(recs[2:])
		group := netip.AddrFrom4([4]byte(recs[4:8]))
		size := 8 + 4*int(nsrc) + aux
		if !group.IsMulticast() {
			return Packet{}, malformed("IGMPv3 record %d for non-multicast group %s", i+1, group)
		}
		if rt >= recModeIsInclude && rt <= recBlockOld {
			m := Membership{Group: group, Op: OpOther, Version: 3, RecordType: rt, Sources: nsrc}
			switch {
			case nsrc == 0 && (rt == recModeIsExclude || rt == recChangeToExclude):
				m.Op = OpJoin
			case nsrc == 0 && rt == recChangeToInclude:
				m.Op = OpLeave
			}
			p.Events = append(p.Events, m)
		}
		if size > len(recs) {
			if p.Truncated {
				return p, nil
			}
			return Packet{}, malformed("IGMPv3 record %d of %d bytes, %d left", i+1, size, len(recs))
		}
		recs = recs[size:]
	}
	p.Truncated = false
	return p, nil
}
