package l2

import (
	"errors"
	"net/netip"
)

// ErrUnsupported is returned by Ensure, Remove and Inspect on systems
// without Linux netlink.
var ErrUnsupported = errors.New("l2: VXLAN devices need Linux")

// Result is what Ensure found and changed.
type Result struct {
	Device string `json:"device"`
	Bridge string `json:"bridge"`
	// Created: the device did not exist, or was replaced (Recreated).
	Created bool `json:"created"`
	// Recreated says why an existing device was replaced (its VNI, port,
	// local address, learning or underlay differed); empty otherwise.
	Recreated string `json:"recreated,omitempty"`
	// FDBAdded and FDBRemoved are the peers whose all-zeros FDB entry was
	// appended or deleted.
	FDBAdded   []netip.Addr `json:"fdbAdded"`
	FDBRemoved []netip.Addr `json:"fdbRemoved"`
	// MTU is the device's and the bridge's MTU after Ensure.
	MTU int `json:"mtu"`
	// MTUChanged: the device's or the bridge's MTU was set.
	MTUChanged bool `json:"mtuChanged"`
	// MasterChanged: the device was attached to the bridge.
	MasterChanged bool `json:"masterChanged"`
	// SnoopingChanged: the bridge's multicast snooping was switched.
	SnoopingChanged bool `json:"snoopingChanged"`
	// BroughtUp: the device was down and was set up.
	BroughtUp bool `json:"broughtUp"`
	// Underlay is the interface holding Spec.Local, and UnderlayMTU its MTU.
	Underlay    string `json:"underlay"`
	UnderlayMTU int    `json:"underlayMTU"`
}

// Changed reports whether Ensure changed anything; a second Ensure with
// the same Spec changes nothing.
func (r Result) Changed() bool {
	return r.Created || len(r.FDBAdded) > 0 || len(r.FDBRemoved) > 0 || r.MTUChanged ||
		r.MasterChanged || r.SnoopingChanged || r.BroughtUp
}

// State is a VXLAN device as the kernel has it (Inspect).
type State struct {
	Device string `json:"device"`
	// Exists is false when there is no link of that name; the other
	// fields are then empty.
	Exists bool `json:"exists"`
	// Kind is the link's type ("vxlan" for a VXLAN device).
	Kind     string     `json:"kind,omitempty"`
	VNI      int        `json:"vni,omitempty"`
	Port     int        `json:"port,omitempty"`
	Local    netip.Addr `json:"local,omitzero"`
	Learning bool       `json:"learning"`
	MTU      int        `json:"mtu,omitempty"`
	Up       bool       `json:"up"`
	// Master is the bridge the device is a port of; empty when none.
	Master string `json:"master,omitempty"`
	// BridgeMTU and Snooping describe Master.
	BridgeMTU int   `json:"bridgeMTU,omitempty"`
	Snooping  *bool `json:"snooping,omitempty"`
	// Underlay is the link the device is bound to.
	Underlay string `json:"underlay,omitempty"`
	// Peers are the destinations of its all-zeros FDB entries.
	Peers []netip.Addr `json:"peers"`
}

// UnderlayInfo is the interface holding a host's underlay address.
type UnderlayInfo struct {
	Interface string `json:"interface"`
	MTU       int    `json:"mtu"`
	// VXLANMTU is the MTU left for the shared network: MTU − Overhead.
	VXLANMTU int `json:"vxlanMTU"`
}
