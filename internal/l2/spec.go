package l2

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Limits and defaults of a Spec.
const (
	// DefaultPort is the IANA VXLAN port, used when Spec.Port is 0.
	DefaultPort = 4789
	// MaxVNI is the largest 24-bit VXLAN network identifier.
	MaxVNI = 1<<24 - 1
	// MinMTU and MaxMTU bound an explicit Spec.MTU.
	MinMTU = 576
	MaxMTU = 9000
	// Overhead is what VXLAN over IPv4 adds to an inner frame: outer IPv4
	// (20), UDP (8), VXLAN (8) and the inner Ethernet header (14).
	Overhead = 50
	// MaxPeers bounds Spec.Peers (one FDB entry each).
	MaxPeers = 1024
	// maxIfname is IFNAMSIZ - 1.
	maxIfname = 15
)

// Spec is the wanted VXLAN device of one host: it joins the local Linux
// bridge of the discovery network to the same bridge on every peer host,
// with head-end replication (one all-zeros FDB entry per peer).
type Spec struct {
	// Bridge is the Linux bridge of the discovery network
	// (com.docker.network.bridge.name).
	Bridge string `json:"bridge"`
	// Device is the VXLAN device to create.
	Device string `json:"device"`
	// VNI is the VXLAN network identifier, the same on every host.
	VNI int `json:"vni"`
	// Port is the UDP destination port; 0 means DefaultPort.
	Port int `json:"port,omitempty"`
	// Local is this host's underlay IPv4 address: the source of the
	// encapsulated packets. An interface of this network namespace holds it.
	Local netip.Addr `json:"local"`
	// Peers are the other hosts' underlay addresses.
	Peers []netip.Addr `json:"peers"`
	// MTU of the device and the bridge; 0 means the underlay's MTU minus
	// Overhead.
	MTU int `json:"mtu,omitempty"`
	// Snooping is the bridge's multicast snooping; off (false) unless an
	// IGMP querier runs on the discovery network.
	Snooping bool `json:"snooping"`
}

// port is the UDP port in effect.
func (s Spec) port() int {
	if s.Port == 0 {
		return DefaultPort
	}
	return s.Port
}

// Validate reports every invalid field of s, each named by its JSON key.
func (s Spec) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if err := checkIfname(s.Bridge); err != nil {
		add("bridge", "%v", err)
	}
	if err := checkIfname(s.Device); err != nil {
		add("device", "%v", err)
	}
	if s.Device != "" && s.Device == s.Bridge {
		add("device", "%q is also the bridge's name", s.Device)
	}
	if s.VNI < 1 || s.VNI > MaxVNI {
		add("vni", "%d out of range 1..%d", s.VNI, MaxVNI)
	}
	if s.Port < 0 || s.Port > 65535 {
		add("port", "%d out of range 1..65535 (0 means %d)", s.Port, DefaultPort)
	}
	if err := checkUnicast4(s.Local); err != nil {
		add("local", "%v", err)
	}
	if s.MTU != 0 && (s.MTU < MinMTU || s.MTU > MaxMTU) {
		add("mtu", "%d out of range %d..%d (0 means the underlay's MTU - %d)", s.MTU, MinMTU, MaxMTU, Overhead)
	}
	errs = append(errs, checkPeers(s.Peers, s.Local)...)
	return errors.Join(errs...)
}

func checkPeers(peers []netip.Addr, local netip.Addr) []error {
	var errs []error
	if len(peers) > MaxPeers {
		return []error{fmt.Errorf("peers: %d peers, at most %d", len(peers), MaxPeers)}
	}
	seen := make(map[netip.Addr]int, len(peers))
	for i, p := range peers {
		field := fmt.Sprintf("peers[%d]", i)
		if err := checkUnicast4(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			continue
		}
		if local.IsValid() && p == local {
			errs = append(errs, fmt.Errorf("%s: %s is the local address", field, p))
		}
		if j, dup := seen[p]; dup {
			errs = append(errs, fmt.Errorf("%s: %s repeats peers[%d]", field, p, j))
		}
		seen[p] = i
	}
	return errs
}

// checkUnicast4 accepts a unicast IPv4 address that can reach another host.
func checkUnicast4(a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errors.New("missing IPv4 address")
	case !a.Is4():
		return fmt.Errorf("%s is not an IPv4 address", a)
	case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is not a unicast address of another host", a)
	}
	return nil
}

// CheckIfname reports whether name is a valid Linux interface name.
func CheckIfname(name string) error { return checkIfname(name) }

// checkIfname applies the kernel's rule for interface names
// (dev_valid_name): 1 to 15 bytes, not "." or "..", no '/', ':' or white
// space. Control characters are refused as well.
func checkIfname(name string) error {
	switch {
	case name == "":
		return errors.New("missing interface name")
	case len(name) > maxIfname:
		return fmt.Errorf("interface name %q is %d bytes, at most %d", name, len(name), maxIfname)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is reserved", name)
	}
	if i := strings.IndexFunc(name, func(r rune) bool {
		return r == '/' || r == ':' || r <= ' ' || r == 0x7f || r > 0x7e
	}); i >= 0 {
		return fmt.Errorf("interface name %q has an invalid character at byte %d", name, i)
	}
	return nil
}
