package l2

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"time"
)

// The host-pair probe: Listen answers every probe datagram with the size
// it received; Probe sends datagrams that must not be fragmented (the DF
// bit) of given IP packet sizes and reports which sizes got an answer.
//
// A probe datagram is probeMagic, a sequence number (uint32, big endian)
// and padding; the answer is probeMagic, the same sequence number and the
// UDP payload length received (uint32): 12 bytes, so the answer itself
// never meets the path MTU of the way back.

const (
	probeMagic = "TBL2"
	probeHead  = len(probeMagic) + 4
	answerLen  = probeHead + 4
	// IPv4UDPHeader is the IPv4 and UDP header length of a probe datagram
	// (no IP options): an IP packet size minus it is the UDP payload.
	IPv4UDPHeader = 28
	// MinProbeSize and MaxProbeSize bound the probed IP packet sizes.
	MinProbeSize = IPv4UDPHeader + probeHead
	MaxProbeSize = 65535
	// ProbeAttempts is how many datagrams Probe sends of each size before
	// it gives the size up.
	ProbeAttempts = 3
)

// Listener is the probe's echo responder on one UDP address.
type Listener struct {
	conn *net.UDPConn
}

// NewListener binds addr (UDP) in the calling thread's network namespace.
func NewListener(addr netip.AddrPort) (*Listener, error) {
	if !addr.Addr().Is4() {
		return nil, fmt.Errorf("listen address %s: want an IPv4 address and port", addr)
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("listening on udp %s: %w", addr, err)
	}
	return &Listener{conn: conn}, nil
}

// Addr is the bound address (with the port the kernel chose for port 0).
func (l *Listener) Addr() netip.AddrPort {
	return l.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close stops Serve and releases the socket.
func (l *Listener) Close() error { return l.conn.Close() }

// Serve answers probe datagrams until ctx ends (nil) or the socket fails.
// Other datagrams are ignored, and an answer that cannot be sent is
// dropped: a vanished prober must not stop the listener.
func (l *Listener) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = l.conn.Close() })
	defer stop()
	buf := make([]byte, 1<<16)
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("probe listener on %s: reading: %w", l.Addr(), err)
		}
		if n < probeHead || string(buf[:len(probeMagic)]) != probeMagic {
			continue
		}
		ans := make([]byte, 0, answerLen)
		ans = append(ans, buf[:probeHead]...)
		ans = binary.BigEndian.AppendUint32(ans, uint32(n))
		_, _ = l.conn.WriteToUDPAddrPort(ans, from)
	}
}

// Listen runs a probe listener on addr until ctx ends.
func Listen(ctx context.Context, addr netip.AddrPort) error {
	l, err := NewListener(addr)
	if err != nil {
		return err
	}
	defer l.Close()
	return l.Serve(ctx)
}

// SizeResult is what one probed IP packet size got.
type SizeResult struct {
	Size int `json:"size"`
	// Echoed: an answer came back.
	Echoed bool `json:"echoed"`
	// RTT is the round trip of the first answer (ns).
	RTT time.Duration `json:"rttNS,omitempty"`
	// Sent is how many datagrams of this size were sent.
	Sent int `json:"sent"`
	// Error is the last error the kernel reported for this size (a
	// datagram too large for the local interface or the path, a refused
	// port); empty when none.
	Error string `json:"error,omitempty"`
	// Skipped: not tried, since a smaller size got no answer.
	Skipped bool `json:"skipped,omitempty"`
}

// ProbeResult is what Probe found on the path to a listener.
type ProbeResult struct {
	To netip.AddrPort `json:"to"`
	// Reachable: at least one size got an answer.
	Reachable bool `json:"reachable"`
	// RTT is the smallest round trip of any answer (ns).
	RTT time.Duration `json:"rttNS"`
	// PathMTU is the largest probed IP packet size that got an answer
	// unfragmented; 0 when none did.
	PathMTU int `json:"pathMTU"`
	// Sizes are the probed sizes, ascending.
	Sizes []SizeResult `json:"sizes"`
}

// Probe sends UDP datagrams with the Don't-Fragment bit, of the given IP
// packet sizes (headers included), to a Listener at to, in ascending order
// of size, up to ProbeAttempts of each, waiting timeout for each answer.
// Once a size gets no answer the larger ones are skipped. The result says
// whether the listener answered, the round trip, and the largest size that
// passed: the usable path MTU, when the sizes bracket it. The error is for
// invalid arguments, a socket that cannot be opened, or ctx.
func Probe(ctx context.Context, to netip.AddrPort, sizes []int, timeout time.Duration) (ProbeResult, error) {
	if err := CheckProbe(to, sizes, timeout); err != nil {
		return ProbeResult{}, err
	}
	sorted := slices.Clone(sizes)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	d := net.Dialer{Control: setDontFragment}
	c, err := d.DialContext(ctx, "udp4", to.String())
	if err != nil {
		return ProbeResult{}, fmt.Errorf("probe to %s: opening a socket: %w", to, err)
	}
	conn := c.(*net.UDPConn)
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	p := &prober{conn: conn, timeout: timeout, sent: map[uint32]sentProbe{}, buf: make([]byte, 64)}
	res := ProbeResult{To: to, Sizes: make([]SizeResult, len(sorted))}
	failed := false
	for i, size := range sorted {
		res.Sizes[i] = SizeResult{Size: size, Skipped: failed}
		if failed {
			continue
		}
		if err := p.probeSize(&res.Sizes[i]); err != nil {
			if ctx.Err() != nil {
				return res, fmt.Errorf("probe to %s: %w", to, ctx.Err())
			}
			return res, fmt.Errorf("probe to %s, size %d: %w", to, size, err)
		}
		failed = !res.Sizes[i].Echoed
		if !failed {
			res.Reachable, res.PathMTU = true, size
			if res.RTT == 0 || res.Sizes[i].RTT < res.RTT {
				res.RTT = res.Sizes[i].RTT
			}
		}
	}
	return res, nil
}

// CheckProbe validates Probe's arguments: a unicast IPv4 address with a
// port, sizes within MinProbeSize..MaxProbeSize, a positive timeout.
func CheckProbe(to netip.AddrPort, sizes []int, timeout time.Duration) error {
	if !to.Addr().Is4() || to.Addr().IsUnspecified() || to.Addr().IsMulticast() || to.Port() == 0 {
		return fmt.Errorf("probe target %s: want a unicast IPv4 address and a port", to)
	}
	if len(sizes) == 0 {
		return errors.New("probe: no sizes")
	}
	for _, s := range sizes {
		if s < MinProbeSize || s > MaxProbeSize {
			return fmt.Errorf("probe size %d out of range %d..%d (IP packet bytes)", s, MinProbeSize, MaxProbeSize)
		}
	}
	if timeout <= 0 {
		return fmt.Errorf("probe timeout %v: must be positive", timeout)
	}
	return nil
}

type sentProbe struct {
	size int
	at   time.Time
}

// prober is one Probe call's socket and the datagrams it sent.
type prober struct {
	conn    *net.UDPConn
	timeout time.Duration
	seq     uint32
	sent    map[uint32]sentProbe
	buf     []byte
}

// probeSize sends up to ProbeAttempts datagrams of r.Size and records the
// first answer. Errors the kernel reports about the path are recorded in
// r; only a closed socket is returned.
func (p *prober) probeSize(r *SizeResult) error {
	for r.Sent < ProbeAttempts && !r.Echoed {
		err := p.send(r)
		if err == nil {
			err = p.await(r)
		}
		switch {
		case err == nil:
		case errors.Is(err, net.ErrClosed):
			return err
		case errors.Is(err, syscall.EMSGSIZE):
			r.Error = describe(err, r.Size)
			return nil // a retry would not fit either
		default:
			r.Error = describe(err, r.Size)
		}
	}
	return nil
}

// send sends one datagram of r.Size.
func (p *prober) send(r *SizeResult) error {
	p.seq++
	msg := make([]byte, r.Size-IPv4UDPHeader)
	copy(msg, probeMagic)
	binary.BigEndian.PutUint32(msg[len(probeMagic):], p.seq)
	p.sent[p.seq] = sentProbe{size: r.Size, at: time.Now()}
	r.Sent++
	_, err := p.conn.Write(msg)
	return err
}

// await reads answers until one for r.Size comes (recorded in r) or the
// timeout passes (nil), or the socket reports an error (returned).
func (p *prober) await(r *SizeResult) error {
	if err := p.conn.SetReadDeadline(time.Now().Add(p.timeout)); err != nil {
		return err
	}
	for {
		n, err := p.conn.Read(p.buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return err
		}
		if n != answerLen || string(p.buf[:len(probeMagic)]) != probeMagic {
			continue
		}
		s, ok := p.sent[binary.BigEndian.Uint32(p.buf[len(probeMagic):])]
		got := int(binary.BigEndian.Uint32(p.buf[probeHead:]))
		// A late answer to an earlier attempt of the same size counts.
		if ok && s.size == r.Size && got == r.Size-IPv4UDPHeader {
			r.Echoed, r.RTT, r.Error = true, time.Since(s.at), ""
			return nil
		}
	}
}

// describe says what a socket error means for a probe of size bytes.
func describe(err error, size int) string {
	switch {
	case errors.Is(err, syscall.EMSGSIZE):
		return fmt.Sprintf("%d bytes do not fit unfragmented: larger than the interface or path MTU (EMSGSIZE)", size)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: the host answered, but nothing listens on the port"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable: " + err.Error()
	}
	return err.Error()
}
