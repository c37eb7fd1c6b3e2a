package l2

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// The pure decisions of Ensure, apart from the netlink calls that carry them
// out, so that they are tested without a kernel.

// fdbEntry is one FDB entry the kernel lists on a VXLAN device.
type fdbEntry struct {
	MAC net.HardwareAddr
	// Dst is the remote VTEP (NDA_DST); invalid when the entry has none.
	Dst netip.Addr
	// Master marks an entry of the bridge the device is a port of
	// (NTF_MASTER), not of the VXLAN device itself.
	Master bool
}

// isZeroMAC reports whether mac is 00:00:00:00:00:00, the default
// destination of a VXLAN device (head-end replication).
func isZeroMAC(mac net.HardwareAddr) bool {
	return len(mac) == 6 && !slices.ContainsFunc(mac, func(b byte) bool { return b != 0 })
}

// replicationList returns the destinations of the device's own all-zeros
// entries, sorted and without repeats.
func replicationList(entries []fdbEntry) []netip.Addr {
	var out []netip.Addr
	for _, e := range entries {
		if e.Master || !isZeroMAC(e.MAC) || !e.Dst.IsValid() {
			continue
		}
		out = append(out, e.Dst.Unmap())
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// diffFDB returns the peers missing from have (to append) and the entries
// of have that are not peers (to delete), both sorted.
func diffFDB(have, want []netip.Addr) (add, del []netip.Addr) {
	wantSet := make(map[netip.Addr]bool, len(want))
	for _, w := range want {
		wantSet[w.Unmap()] = true
	}
	haveSet := make(map[netip.Addr]bool, len(have))
	for _, h := range have {
		h = h.Unmap()
		haveSet[h] = true
		if !wantSet[h] {
			del = append(del, h)
		}
	}
	for w := range wantSet {
		if !haveSet[w] {
			add = append(add, w)
		}
	}
	slices.SortFunc(add, netip.Addr.Compare)
	slices.SortFunc(del, netip.Addr.Compare)
	return slices.Compact(add), slices.Compact(del)
}

// vxlanParams are the properties of a VXLAN device that can only be set
// when it is created.
type vxlanParams struct {
	VNI      int
	Port     int
	Local    netip.Addr
	Learning bool
	// Underlay is the index of the link the device is bound to (0: none).
	Underlay int
}

// recreateReason says why a device with params have must be replaced to
// get want, or "" when it need not be.
func recreateReason(have, want vxlanParams) string {
	var diffs []string
	if have.VNI != want.VNI {
		diffs = append(diffs, fmt.Sprintf("vni %d, want %d", have.VNI, want.VNI))
	}
	if have.Port != want.Port {
		diffs = append(diffs, fmt.Sprintf("port %d, want %d", have.Port, want.Port))
	}
	if have.Local != want.Local {
		diffs = append(diffs, fmt.Sprintf("local %v, want %v", have.Local, want.Local))
	}
	if have.Learning != want.Learning {
		diffs = append(diffs, fmt.Sprintf("learning %v, want %v", have.Learning, want.Learning))
	}
	if have.Underlay != want.Underlay {
		diffs = append(diffs, fmt.Sprintf("underlay link index %d, want %d", have.Underlay, want.Underlay))
	}
	return strings.Join(diffs, "; ")
}

// ifAddr is one address of one link.
type ifAddr struct {
	Index int
	Addr  netip.Addr
}

// underlayIndex returns the index of the link holding local.
func underlayIndex(addrs []ifAddr, local netip.Addr) (int, bool) {
	for _, a := range addrs {
		if a.Addr.Unmap() == local {
			return a.Index, true
		}
	}
	return 0, false
}

// effectiveMTU is the MTU of the device and the bridge: the explicit one,
// or the underlay's minus Overhead. The kernel refuses a VXLAN MTU above
// the underlay's minus Overhead, so that is an error here, named.
func effectiveMTU(spec int, underlay string, underlayMTU int) (int, error) {
	limit := underlayMTU - Overhead
	if limit < 68 {
		return 0, fmt.Errorf("underlay %s has MTU %d: too small for VXLAN (%d bytes of overhead)", underlay, underlayMTU, Overhead)
	}
	if spec == 0 {
		return limit, nil
	}
	if spec > limit {
		return 0, fmt.Errorf("mtu %d exceeds what underlay %s carries: its MTU %d - %d = %d", spec, underlay, underlayMTU, Overhead, limit)
	}
	return spec, nil
}
