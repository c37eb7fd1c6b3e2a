//go:build linux

package l2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Ensure converges the network namespace of the calling thread on s: the
// VXLAN device exists with s's VNI, port and local address and no
// learning (replaced when one of these, or its underlay, differs), has
// exactly one all-zeros FDB entry per peer, has the MTU (also set on the
// bridge), is a port of the bridge, and is up; the bridge's multicast
// snooping is s.Snooping. Running it again with the same s changes nothing
// (Result.Changed is false). On an error the steps done so far stay done;
// Ensure again converges.
func Ensure(ctx context.Context, s Spec) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, fmt.Errorf("invalid spec: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return Result{}, fmt.Errorf("opening netlink: %w", err)
	}
	defer h.Close()
	e := &ensurer{h: h, s: s, r: Result{Device: s.Device, Bridge: s.Bridge, FDBAdded: []netip.Addr{}, FDBRemoved: []netip.Addr{}}}
	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"finding the underlay", e.findUnderlay},
		{"finding the bridge", e.findBridge},
		{"creating the device", e.ensureDevice},
		{"setting the FDB", e.ensureFDB},
		{"attaching to the bridge", e.ensureMaster},
		{"setting the MTU", e.ensureMTU},
		{"setting multicast snooping", e.ensureSnooping},
		{"bringing the device up", e.ensureUp},
	} {
		if err := ctx.Err(); err != nil {
			return e.r, fmt.Errorf("vxlan %s: %s: %w", s.Device, step.name, err)
		}
		if err := step.do(); err != nil {
			return e.r, fmt.Errorf("vxlan %s: %w", s.Device, err)
		}
	}
	return e.r, nil
}

// ensurer carries one Ensure call's handle, spec, links and result.
type ensurer struct {
	h        *netlink.Handle
	s        Spec
	r        Result
	underlay netlink.Link
	bridge   *netlink.Bridge
	dev      *netlink.Vxlan
}

func (e *ensurer) findUnderlay() error {
	addrs, err := e.h.AddrList(nil, unix.AF_INET)
	if err != nil {
		return fmt.Errorf("listing IPv4 addresses: %w", err)
	}
	list := make([]ifAddr, 0, len(addrs))
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			list = append(list, ifAddr{Index: a.LinkIndex, Addr: ip.Unmap()})
		}
	}
	idx, ok := underlayIndex(list, e.s.Local)
	if !ok {
		return fmt.Errorf("no interface of this network namespace holds the local address %s: is it this host's underlay address?", e.s.Local)
	}
	link, err := e.h.LinkByIndex(idx)
	if err != nil {
		return fmt.Errorf("reading the link holding %s (index %d): %w", e.s.Local, idx, err)
	}
	e.underlay = link
	e.r.Underlay, e.r.UnderlayMTU = link.Attrs().Name, link.Attrs().MTU
	e.r.MTU, err = effectiveMTU(e.s.MTU, e.r.Underlay, e.r.UnderlayMTU)
	return err
}

func (e *ensurer) findBridge() error {
	br, err := lookupBridge(e.h, e.s.Bridge)
	e.bridge = br
	return err
}

// lookupBridge reads the bridge named name, with an error saying what is
// missing when it is not there or not a bridge.
func lookupBridge(h *netlink.Handle, name string) (*netlink.Bridge, error) {
	link, err := h.LinkByName(name)
	if isNotFound(err) {
		return nil, fmt.Errorf("bridge %s not found: is the discovery network created?", name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading bridge %s: %w", name, err)
	}
	br, ok := link.(*netlink.Bridge)
	if !ok {
		return nil, fmt.Errorf("%s is a %s link, not a bridge", name, link.Type())
	}
	return br, nil
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

func (e *ensurer) wantParams() vxlanParams {
	return vxlanParams{VNI: e.s.VNI, Port: e.s.port(), Local: e.s.Local, Underlay: e.underlay.Attrs().Index}
}

func (e *ensurer) ensureDevice() error {
	link, err := e.h.LinkByName(e.s.Device)
	if isNotFound(err) {
		e.r.Created = true
		return e.create()
	}
	if err != nil {
		return fmt.Errorf("reading link %s: %w", e.s.Device, err)
	}
	vx, ok := link.(*netlink.Vxlan)
	if !ok {
		return fmt.Errorf("link %s exists and is a %s, not a VXLAN device: remove it or choose another device name", e.s.Device, link.Type())
	}
	if reason := recreateReason(paramsOf(vx), e.wantParams()); reason != "" {
		if err := e.h.LinkDel(vx); err != nil {
			return fmt.Errorf("deleting the device to recreate it (%s): %w", reason, err)
		}
		e.r.Created, e.r.Recreated = true, reason
		return e.create()
	}
	e.dev = vx
	return nil
}

// paramsOf reads the create-time parameters of an existing device.
func paramsOf(vx *netlink.Vxlan) vxlanParams {
	local, _ := netip.AddrFromSlice(vx.SrcAddr)
	return vxlanParams{VNI: vx.VxlanId, Port: vx.Port, Local: local.Unmap(), Learning: vx.Learning, Underlay: vx.VtepDevIndex}
}

func (e *ensurer) create() error {
	w := e.wantParams()
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = e.s.Device, e.r.MTU
	vx := &netlink.Vxlan{
		LinkAttrs:    attrs,
		VxlanId:      w.VNI,
		VtepDevIndex: w.Underlay,
		SrcAddr:      net.IP(w.Local.AsSlice()),
		Port:         w.Port,
		Learning:     false,
	}
	if err := e.h.LinkAdd(vx); err != nil {
		return fmt.Errorf("creating VXLAN device (vni %d, port %d, local %s, underlay %s, mtu %d): %w",
			w.VNI, w.Port, w.Local, e.r.Underlay, e.r.MTU, err)
	}
	link, err := e.h.LinkByName(e.s.Device)
	if err != nil {
		return fmt.Errorf("reading the new device: %w", err)
	}
	created, ok := link.(*netlink.Vxlan)
	if !ok {
		return fmt.Errorf("the new device is a %s, not a VXLAN device", link.Type())
	}
	e.dev = created
	return nil
}

func (e *ensurer) ensureFDB() error {
	have, err := listFDB(e.h, e.dev.Attrs().Index)
	if err != nil {
		return err
	}
	add, del := diffFDB(have, e.s.Peers)
	for _, p := range add {
		if err := e.h.NeighAppend(zeroEntry(e.dev.Attrs().Index, p)); err != nil {
			return fmt.Errorf("appending FDB entry 00:00:00:00:00:00 dst %s: %w", p, err)
		}
		e.r.FDBAdded = append(e.r.FDBAdded, p)
	}
	for _, p := range del {
		if err := e.h.NeighDel(zeroEntry(e.dev.Attrs().Index, p)); err != nil {
			return fmt.Errorf("deleting stale FDB entry 00:00:00:00:00:00 dst %s: %w", p, err)
		}
		e.r.FDBRemoved = append(e.r.FDBRemoved, p)
	}
	return nil
}

// listFDB returns the destinations of the device's all-zeros FDB entries.
func listFDB(h *netlink.Handle, index int) ([]netip.Addr, error) {
	neighs, err := h.NeighList(index, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("listing the FDB: %w", err)
	}
	entries := make([]fdbEntry, 0, len(neighs))
	for _, n := range neighs {
		dst, _ := netip.AddrFromSlice(n.IP)
		entries = append(entries, fdbEntry{MAC: n.HardwareAddr, Dst: dst, Master: n.Flags&netlink.NTF_MASTER != 0})
	}
	return replicationList(entries), nil
}

// zeroEntry is `bridge fdb append 00:00:00:00:00:00 dev DEV dst PEER`
// (permanent, on the device itself).
func zeroEntry(index int, peer netip.Addr) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    index,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_PERMANENT | netlink.NUD_NOARP,
		Flags:        netlink.NTF_SELF,
		IP:           net.IP(peer.AsSlice()),
		HardwareAddr: net.HardwareAddr{0, 0, 0, 0, 0, 0},
	}
}

func (e *ensurer) ensureMaster() error {
	if e.dev.Attrs().MasterIndex == e.bridge.Attrs().Index {
		return nil
	}
	if err := e.h.LinkSetMasterByIndex(e.dev, e.bridge.Attrs().Index); err != nil {
		return fmt.Errorf("attaching to bridge %s: %w", e.s.Bridge, err)
	}
	e.r.MasterChanged = true
	return nil
}

func (e *ensurer) ensureMTU() error {
	// Re-read both: attaching a port may have changed the bridge's MTU.
	for _, name := range []string{e.s.Device, e.s.Bridge} {
		link, err := e.h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if link.Attrs().MTU == e.r.MTU {
			continue
		}
		if err := e.h.LinkSetMTU(link, e.r.MTU); err != nil {
			return fmt.Errorf("setting the MTU of %s to %d (from %d): %w", name, e.r.MTU, link.Attrs().MTU, err)
		}
		e.r.MTUChanged = true
	}
	return nil
}

func (e *ensurer) ensureSnooping() error {
	if cur := e.bridge.MulticastSnooping; cur != nil && *cur == e.s.Snooping {
		return nil
	}
	// A bare Bridge: BridgeSetMcastSnoop sends every attribute of the link
	// it is given, and the one read earlier would also reset the MTU.
	bare := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
	bare.Name, bare.Index = e.bridge.Attrs().Name, e.bridge.Attrs().Index
	if err := e.h.BridgeSetMcastSnoop(bare, e.s.Snooping); err != nil {
		return fmt.Errorf("setting multicast snooping of bridge %s to %v: %w", e.s.Bridge, e.s.Snooping, err)
	}
	e.r.SnoopingChanged = true
	return nil
}

func (e *ensurer) ensureUp() error {
	if e.dev.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := e.h.LinkSetUp(e.dev); err != nil {
		return fmt.Errorf("setting the device up: %w", err)
	}
	e.r.BroughtUp = true
	return nil
}

// Remove deletes the VXLAN device of the calling thread's network
// namespace; removed is false when there was none. A link of that name
// that is not a VXLAN device is left alone, with an error.
func Remove(ctx context.Context, device string) (removed bool, err error) {
	if err := checkIfname(device); err != nil {
		return false, fmt.Errorf("device: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return false, fmt.Errorf("opening netlink: %w", err)
	}
	defer h.Close()
	link, err := h.LinkByName(device)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading link %s: %w", device, err)
	}
	if _, ok := link.(*netlink.Vxlan); !ok {
		return false, fmt.Errorf("link %s is a %s, not a VXLAN device: not removing it", device, link.Type())
	}
	if err := h.LinkDel(link); err != nil {
		return false, fmt.Errorf("deleting VXLAN device %s: %w", device, err)
	}
	return true, nil
}

// Inspect reads the device of the calling thread's network namespace, its
// bridge and its FDB. A missing device is State{Exists: false}, no error.
func Inspect(ctx context.Context, device string) (State, error) {
	st := State{Device: device, Peers: []netip.Addr{}}
	if err := checkIfname(device); err != nil {
		return st, fmt.Errorf("device: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return st, fmt.Errorf("opening netlink: %w", err)
	}
	defer h.Close()
	link, err := h.LinkByName(device)
	if isNotFound(err) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading link %s: %w", device, err)
	}
	st.Exists, st.Kind, st.MTU, st.Up = true, link.Type(), link.Attrs().MTU, link.Attrs().Flags&net.FlagUp != 0
	if err := inspectLinks(h, link, &st); err != nil {
		return st, fmt.Errorf("inspecting %s: %w", device, err)
	}
	vx, ok := link.(*netlink.Vxlan)
	if !ok {
		return st, nil
	}
	p := paramsOf(vx)
	st.VNI, st.Port, st.Local, st.Learning = p.VNI, p.Port, p.Local, p.Learning
	if st.Peers, err = listFDB(h, link.Attrs().Index); err != nil {
		return st, fmt.Errorf("inspecting %s: %w", device, err)
	}
	return st, nil
}

// inspectLinks fills in the master bridge and the underlay of link.
func inspectLinks(h *netlink.Handle, link netlink.Link, st *State) error {
	if mi := link.Attrs().MasterIndex; mi != 0 {
		m, err := h.LinkByIndex(mi)
		if err != nil {
			return fmt.Errorf("reading its master (index %d): %w", mi, err)
		}
		st.Master, st.BridgeMTU = m.Attrs().Name, m.Attrs().MTU
		if br, ok := m.(*netlink.Bridge); ok {
			st.Snooping = br.MulticastSnooping
		}
	}
	if vx, ok := link.(*netlink.Vxlan); ok && vx.VtepDevIndex != 0 {
		u, err := h.LinkByIndex(vx.VtepDevIndex)
		if err != nil {
			return fmt.Errorf("reading its underlay (index %d): %w", vx.VtepDevIndex, err)
		}
		st.Underlay = u.Attrs().Name
	}
	return nil
}

// Underlay names the interface of this network namespace that holds local
// and reports its MTU and the MTU a VXLAN device over it gets by default
// (the underlay's minus Overhead): the shared Docker network is created
// with that MTU before Ensure attaches the device to its bridge.
func Underlay(ctx context.Context, local netip.Addr) (UnderlayInfo, error) {
	if err := ctx.Err(); err != nil {
		return UnderlayInfo{}, err
	}
	if err := checkUnicast4(local); err != nil {
		return UnderlayInfo{}, fmt.Errorf("local: %w", err)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return UnderlayInfo{}, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	e := &ensurer{h: h, s: Spec{Local: local}}
	if err := e.findUnderlay(); err != nil {
		return UnderlayInfo{}, err
	}
	return UnderlayInfo{Interface: e.r.Underlay, MTU: e.r.UnderlayMTU, VXLANMTU: e.r.MTU}, nil
}
