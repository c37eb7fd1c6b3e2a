// Package l2 has one job: join the discovery network's Linux bridges of
// several Docker hosts into one layer-2 broadcast domain, with the kernel's
// VXLAN, and check the underlay path between two hosts.
//
// On each host the discovery network's bridge (a fixed name, set through
// com.docker.network.bridge.name) gets a port that is a VXLAN device (no
// learning, UDP port 4789 by default, one VNI for the lab) bound to the
// underlay interface holding the host's address. Broadcast, multicast and
// unknown unicast go by head-end replication: the device has one all-zeros
// FDB entry (00:00:00:00:00:00 dst PEER) per other host, so the underlay
// needs no multicast routing. The device and the bridge get the underlay's
// MTU minus the encapsulation (Overhead, 50 bytes over IPv4), and the
// bridge's multicast snooping is off: no IGMP querier runs on the lab.
//
// Ensure converges the network namespace of the calling thread on a Spec
// (create or recreate the device, append the missing and delete the stale
// FDB entries, MTU, master, snooping, up) and reports what it changed;
// Remove deletes the device; Inspect reads it. All three speak netlink
// (github.com/vishvananda/netlink) and need CAP_NET_ADMIN in the namespace
// of the bridge: testbed runs them on any host through the hidden command
// `testbed l2` in a helper container with host networking
// (dockerx.RunOnHost).
//
// Listen and Probe measure a host pair's underlay before a lab is built:
// a UDP echo responder, and datagrams sent with the Don't-Fragment bit
// (IP_MTU_DISCOVER=IP_PMTUDISC_DO) of given IP packet sizes, to learn
// whether the peer is reachable, the round trip and the largest size that
// passes (the usable path MTU of that direction).
//
// The decisions (Spec.Validate, which FDB entries to add and delete, when
// a device must be recreated, the MTU) are pure functions; the netlink
// calls only carry them out.
package l2
