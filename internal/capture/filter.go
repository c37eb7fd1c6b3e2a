package capture

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
)

// Group is one discovery protocol's IPv4 multicast group and UDP port, for
// example 239.11.11.1:4000 (FLUIDOS Network Manager).
type Group struct {
	Addr netip.Addr
	Port uint16
}

func (g Group) String() string { return netip.AddrPortFrom(g.Addr, g.Port).String() }

// ParseGroup parses "239.11.11.1:4000" into a Group and checks it.
func ParseGroup(s string) (Group, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return Group{}, fmt.Errorf("capture: parse group %q: %w", s, err)
	}
	g := Group{Addr: ap.Addr(), Port: ap.Port()}
	if err := g.check(); err != nil {
		return Group{}, err
	}
	return g, nil
}

func (g Group) check() error {
	switch {
	case !g.Addr.IsValid():
		return errors.New("capture: group has no address")
	case !g.Addr.Is4():
		return fmt.Errorf("capture: group %s: only IPv4 multicast groups are supported", g.Addr)
	case !g.Addr.IsMulticast():
		return fmt.Errorf("capture: group %s is not an IPv4 multicast address (224.0.0.0/4)", g.Addr)
	case g.Port == 0:
		return fmt.Errorf("capture: group %s has port 0", g.Addr)
	}
	return nil
}

const (
	// SnapLen is the default number of bytes kept of an announcement frame:
	// Ethernet (14) + IPv4 (20, or up to 60 with options) + UDP (8) headers
	// and the first bytes of the payload, which are hashed (Packet.Hash).
	// Announcements are timed, not read, so the rest is never needed.
	SnapLen = 256
	// IGMPSnapLen is the number of bytes kept of an IGMP frame: a whole
	// Ethernet frame, so that no IGMPv3 group record (a join) is cut off.
	IGMPSnapLen = 1518
	// MaxGroups bounds the groups of one filter.
	MaxGroups = 64
	// minSnapLen is the smallest announcement snap length that still holds
	// the headers of an announcement with the largest IP header.
	minSnapLen = ethLen + 60 + udpLen
)

// Offsets in an untagged Ethernet II frame.
const (
	ethLen       = 14
	offEtherType = 12
	offIPVerIHL  = ethLen + 0
	offIPFrag    = ethLen + 6
	offIPProto   = ethLen + 9
	offIPDst     = ethLen + 16
	udpLen       = 8

	etherTypeIPv4 = 0x0800
	protoIGMP     = 2
	protoUDP      = 17
)

// Filter returns the classic BPF program that a capture socket runs: it
// accepts an untagged Ethernet II frame carrying IPv4 (version 4, IHL >= 5)
// that is either
//
//   - UDP (protocol 17), not a non-first fragment, whose destination
//     address and destination port are one of groups (the UDP header is
//     found through the IHL, so IP options are respected); SnapLen bytes
//     are kept; or
//   - IGMP (protocol 2), any type; IGMPSnapLen bytes are kept.
//
// Everything else (ARP, IPv6, 802.1Q-tagged frames, TCP, other groups or
// ports, non-first fragments) is rejected in the kernel. (A tag that the
// kernel moved out of the frame data before the filter ran is reported
// in PACKET_AUXDATA, and Capture drops that frame as Ignored.) Groups
// must be IPv4 multicast with a port; duplicates are allowed; at most
// MaxGroups.
func Filter(groups []Group) ([]bpf.RawInstruction, error) {
	return filter(groups, SnapLen)
}

func filter(groups []Group, snap uint32) ([]bpf.RawInstruction, error) {
	if len(groups) == 0 {
		return nil, errors.New("capture: filter needs at least one group")
	}
	if len(groups) > MaxGroups {
		return nil, fmt.Errorf("capture: %d groups, at most %d", len(groups), MaxGroups)
	}
	for _, g := range groups {
		if err := g.check(); err != nil {
			return nil, err
		}
	}
	// Every test jumps over a single "ret #0" that follows it, so no jump
	// is longer than 1 and the program has no length limit of its own.
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offEtherType, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: etherTypeIPv4, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.LoadAbsolute{Off: offIPVerIHL, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.LoadAbsolute{Off: offIPVerIHL, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0f},
		bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: 5, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.LoadAbsolute{Off: offIPProto, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoIGMP, SkipTrue: 1},
		bpf.RetConstant{Val: IGMPSnapLen},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoUDP, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		// Fragment offset (low 13 bits of flags+offset) must be 0.
		bpf.LoadAbsolute{Off: offIPFrag, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpBitsNotSet, Val: 0x1fff, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		// X = IHL*4: the UDP header starts at ethLen+X.
		bpf.LoadMemShift{Off: offIPVerIHL},
	}
	seen := make(map[Group]bool, len(groups))
	for _, g := range groups {
		if seen[g] {
			continue
		}
		seen[g] = true
		a := g.Addr.As4()
		prog = append(prog,
			bpf.LoadAbsolute{Off: offIPDst, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]), SkipFalse: 3},
			bpf.LoadIndirect{Off: ethLen + 2, Size: 2}, // UDP destination port
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(g.Port), SkipFalse: 1},
			bpf.RetConstant{Val: snap},
		)
	}
	prog = append(prog, bpf.RetConstant{Val: 0})
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("capture: assemble filter: %w", err)
	}
	return raw, nil
}
