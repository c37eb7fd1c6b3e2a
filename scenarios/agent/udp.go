package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

// DefaultGroupAddress is the reference agent's multicast group. It differs
// from FLUIDOS's 239.11.11.1:4000 so both protocols can run side by side.
const DefaultGroupAddress = "239.11.11.2:4001"

// UDPTransport is a UDP multicast socket bound to one interface: it joins the
// group on that interface and sends through it (IP_MULTICAST_IF), so the
// pod's default route plays no part.
type UDPTransport struct {
	conn  *net.UDPConn
	pc    *ipv4.PacketConn
	group *net.UDPAddr
	iface *net.Interface
	local netip.Addr
}

var _ StampedTransport = (*UDPTransport)(nil)

// ListenMulticast opens the group (ip:port) on the interface ifname.
func ListenMulticast(ctx context.Context, ifname, group string) (*UDPTransport, error) {
	gap, err := netip.ParseAddrPort(group)
	if err != nil || !gap.Addr().Is4() || !gap.Addr().IsMulticast() {
		return nil, fmt.Errorf("group %q is not an IPv4 multicast ip:port", group)
	}
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("discovery interface %q: %w", ifname, err)
	}
	local, err := interfaceIPv4(iface)
	if err != nil {
		return nil, err
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			if serr == nil {
				serr = enableRecvStamps(fd)
			}
		}); err != nil {
			return err
		}
		return serr
	}}
	// Binding to the group address (not 0.0.0.0) keeps other groups on the
	// same port out of this socket.
	pconn, err := lc.ListenPacket(ctx, "udp4", gap.String())
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", gap, err)
	}
	conn := pconn.(*net.UDPConn) // "udp4" listens with a *net.UDPConn
	pc := ipv4.NewPacketConn(conn)
	g := net.UDPAddrFromAddrPort(gap)
	steps := []struct {
		what string
		fn   func() error
	}{
		{"joining group", func() error { return pc.JoinGroup(iface, &net.UDPAddr{IP: g.IP}) }},
		{"setting IP_MULTICAST_IF", func() error { return pc.SetMulticastInterface(iface) }},
		{"setting multicast TTL", func() error { return pc.SetMulticastTTL(1) }},
		{"setting multicast loopback", func() error { return pc.SetMulticastLoopback(true) }},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%s %s on %s: %w", s.what, gap, ifname, err)
		}
	}
	return &UDPTransport{conn: conn, pc: pc, group: g, iface: iface, local: local}, nil
}

// LocalAddr is the interface's IPv4 address; agents announce it with the
// group's port.
func (t *UDPTransport) LocalAddr() netip.Addr { return t.local }

// Send implements Transport.
func (t *UDPTransport) Send(_ context.Context, p []byte) error {
	if _, err := t.pc.WriteTo(p, nil, t.group); err != nil {
		return fmt.Errorf("sending to %s on %s: %w", t.group, t.iface.Name, err)
	}
	return nil
}

// Recv implements Transport.
func (t *UDPTransport) Recv(ctx context.Context, buf []byte) (int, error) {
	n, _, err := t.RecvStamped(ctx, buf)
	return n, err
}

// RecvStamped implements StampedTransport: the datagram and the kernel's
// receive time (SO_TIMESTAMPNS; zero where the kernel gave none).
func (t *UDPTransport) RecvStamped(_ context.Context, buf []byte) (int, time.Time, error) {
	oob := make([]byte, stampOOB)
	n, oobn, _, _, err := t.conn.ReadMsgUDP(buf, oob)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("reading from %s on %s: %w", t.group, t.iface.Name, err)
	}
	return n, recvStamp(oob[:oobn]), nil
}

// Close implements Transport.
func (t *UDPTransport) Close() error {
	err := t.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func interfaceIPv4(iface *net.Interface) (netip.Addr, error) {
	addrs, err := iface.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", iface.Name, err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			return p.Addr(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no IPv4 address", iface.Name)
}
