package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

const (
	// DefaultRingSize is the default bound on the Packets a Capture holds:
	// at 168 bytes each (amd64), 11 MB when full. 24 peers announcing
	// every 5 s fill it in about 3.8 hours.
	DefaultRingSize = 1 << 16
	// MaxRingSize is the hard bound on Options.RingSize.
	MaxRingSize = 1 << 20
	// DefaultRecvBuf is the default kernel receive buffer of the socket.
	DefaultRecvBuf = 1 << 20
)

// Options tune a Capture. The zero value is the default.
type Options struct {
	// RingSize is the most Packets kept; beyond it the oldest are dropped
	// (Stats.RingDropped). 0 means DefaultRingSize; at most MaxRingSize.
	RingSize int
	// SnapLen is the bytes kept of an announcement frame. 0 means SnapLen;
	// at least 82 (all headers with 40 bytes of IP options), at most
	// 65535. IGMP frames are kept up to IGMPSnapLen bytes regardless.
	SnapLen int
	// NoPromisc leaves the interface out of promiscuous mode. On a Linux
	// bridge, promiscuous mode is what makes the bridge device see every
	// frame forwarded between its ports: without it, once multicast
	// snooping is in effect (a querier exists on the segment), datagrams
	// to groups that only ports joined are not passed up to the bridge
	// device and go uncaptured. Leave it false on a bridge.
	NoPromisc bool
	// RecvBuf is the socket's kernel receive buffer in bytes (0 means
	// DefaultRecvBuf). Frames arriving while it is full are counted in
	// Stats.KernelDropped.
	RecvBuf int
	// Pcap, when set, receives every frame the filter accepted, as a
	// nanosecond pcap stream (Ethernet link type) written by pcapgo, with
	// the kernel timestamp. Writes are synchronous: a slow writer makes
	// the kernel drop frames.
	Pcap io.Writer
}

// Stats count what a Capture saw since Open.
type Stats struct {
	// KernelReceived and KernelDropped are PACKET_STATISTICS summed over
	// the capture: frames the filter accepted (dropped ones included, as
	// the kernel counts them) and those dropped for lack of buffer room.
	KernelReceived, KernelDropped uint64
	// Read is the frames read from the socket.
	Read uint64
	// Kept is the Packets appended to the ring; RingDropped the oldest
	// of them dropped because the ring was full.
	Kept, RingDropped uint64
	// DecodeErrors is the frames Decode found malformed.
	DecodeErrors uint64
	// Ignored is well-formed frames that are not wanted: VLAN-tagged
	// (tag stripped by the NIC, reported in auxdata), announcements to
	// another group, and anything Decode calls ErrNotDiscovery.
	Ignored uint64
	// NoKernelTime is the frames that came without a kernel timestamp and
	// were stamped with time.Now instead (never expected).
	NoKernelTime uint64
	// PcapErrors is the failed writes to Options.Pcap.
	PcapErrors uint64
}

// Capture captures discovery traffic on one interface. Its methods are
// safe for concurrent use.
type Capture struct {
	ifname string
	groups map[Group]bool
	f      *os.File
	rc     syscall.RawConn
	buf    []byte
	oob    []byte
	pcap   *pcapgo.Writer

	mu      sync.Mutex
	ring    *ring
	stats   Stats
	pcapErr error
	readErr error
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
}

var (
	auxSpace  = unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))
	tsSpace   = unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))
	htonsAll  = binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, unix.ETH_P_ALL))
	errClosed = errors.New("capture: closed")
)

// Open opens a capture on interface ifname of the network namespace of
// the calling OS thread (the host namespace, unless the caller has
// locked its thread into another; the socket keeps its namespace after).
// The filter (Filter) is attached before the socket is bound to the
// interface, so no other frame is ever queued. The interface is put in
// promiscuous mode unless opts.NoPromisc (it leaves it when the socket
// closes). Nothing is read until Start. Needs CAP_NET_RAW.
func Open(ifname string, groups []Group, opts Options) (*Capture, error) {
	if opts.RingSize == 0 {
		opts.RingSize = DefaultRingSize
	}
	if opts.RingSize < 0 || opts.RingSize > MaxRingSize {
		return nil, fmt.Errorf("capture: ring size %d out of range 1..%d", opts.RingSize, MaxRingSize)
	}
	if opts.SnapLen == 0 {
		opts.SnapLen = SnapLen
	}
	if opts.SnapLen < minSnapLen || opts.SnapLen > 65535 {
		return nil, fmt.Errorf("capture: snap length %d out of range %d..65535", opts.SnapLen, minSnapLen)
	}
	if opts.RecvBuf == 0 {
		opts.RecvBuf = DefaultRecvBuf
	}
	prog, err := filter(groups, uint32(opts.SnapLen))
	if err != nil {
		return nil, err
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("capture: interface %s: %w", ifname, err)
	}
	fd, err := openSocket(ifi.Index, prog, opts)
	if err != nil {
		return nil, fmt.Errorf("capture: on %s: %w", ifname, err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+ifname) // non-blocking: runtime poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("capture: on %s: %w", ifname, err)
	}
	c := &Capture{
		ifname: ifname,
		groups: make(map[Group]bool, len(groups)),
		f:      f,
		rc:     rc,
		buf:    make([]byte, max(opts.SnapLen, IGMPSnapLen)),
		oob:    make([]byte, auxSpace+tsSpace),
		ring:   newRing(opts.RingSize),
		done:   make(chan struct{}),
	}
	for _, g := range groups {
		c.groups[g] = true
	}
	if opts.Pcap != nil {
		c.pcap = pcapgo.NewWriterNanos(opts.Pcap)
		if err := c.pcap.WriteFileHeader(uint32(len(c.buf)), layers.LinkTypeEthernet); err != nil {
			f.Close()
			return nil, fmt.Errorf("capture: write pcap header: %w", err)
		}
	}
	return c, nil
}

func openSocket(ifindex int, prog []bpf.RawInstruction, opts Options) (int, error) {
	// Protocol 0: the socket receives nothing until bound below.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open AF_PACKET socket: %w", err)
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: %w", what, err)
	}
	f := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		f[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}); err != nil {
		return fail("attach BPF filter", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fail("enable SO_TIMESTAMPNS", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return fail("enable PACKET_AUXDATA", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, opts.RecvBuf); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, opts.RecvBuf); err != nil {
			return fail("set receive buffer", err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htonsAll, Ifindex: ifindex}); err != nil {
		return fail("bind", err)
	}
	if !opts.NoPromisc {
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fail("enter promiscuous mode", err)
		}
	}
	return fd, nil
}

// Interface is the captured interface's name.
func (c *Capture) Interface() string { return c.ifname }

// Start starts reading in a goroutine, until ctx is done or Close.
func (c *Capture) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return errClosed
	case c.started:
		return errors.New("capture: already started")
	}
	c.started = true
	ctx, c.cancel = context.WithCancel(ctx)
	go c.run(ctx)
	return nil
}

func (c *Capture) run(ctx context.Context) {
	defer close(c.done)
	// A past read deadline wakes the blocked read when ctx is done.
	stop := context.AfterFunc(ctx, func() { _ = c.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		n, oobn, err := c.recv()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.mu.Lock()
			c.readErr = fmt.Errorf("capture: read on %s: %w", c.ifname, err)
			c.mu.Unlock()
			return
		}
		c.handle(c.buf[:min(n, len(c.buf))], c.oob[:oobn])
	}
}

func (c *Capture) recv() (n, oobn int, err error) {
	var rerr error
	err = c.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), c.buf, c.oob, unix.MSG_TRUNC)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err == nil {
		err = rerr
	}
	return n, oobn, err
}

// handle decodes one frame and keeps it.
func (c *Capture) handle(frame, oob []byte) {
	var ts time.Time
	wire, tagged := len(frame), false
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		oob = rest
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			t := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			ts = time.Unix(int64(t.Sec), int64(t.Nsec))
		case h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && len(data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})):
			a := (*unix.TpacketAuxdata)(unsafe.Pointer(&data[0]))
			wire = int(a.Len)
			tagged = a.Status&unix.TP_STATUS_VLAN_VALID != 0
		}
	}
	noTime := ts.IsZero()
	if noTime {
		ts = time.Now()
	}
	var werr error
	if c.pcap != nil {
		werr = c.pcap.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: max(wire, len(frame))}, frame)
	}
	p, derr := Decode(frame, ts)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Read++
	if noTime {
		c.stats.NoKernelTime++
	}
	if werr != nil {
		c.stats.PcapErrors++
		if c.pcapErr == nil {
			c.pcapErr = fmt.Errorf("capture: write pcap: %w", werr)
		}
	}
	switch {
	case errors.Is(derr, ErrMalformed):
		c.stats.DecodeErrors++
	case derr != nil, tagged, p.Kind == KindAnnouncement && !c.groups[p.Group]:
		c.stats.Ignored++
	default:
		c.ring.push(p)
		c.stats.Kept++
	}
}

// Done is closed when the reader started by Start has returned (ctx
// done, Close, or a read error, which Close returns).
func (c *Capture) Done() <-chan struct{} { return c.done }

// Packets returns copies of the kept Packets with from <= Time < to, in
// arrival order (time order unless the wall clock stepped). A zero from
// or to leaves that side open.
func (c *Capture) Packets(from, to time.Time) []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ring.between(from, to)
}

// Stats returns the counters since Open; the kernel's are read now (the
// last read before Close, after it).
func (c *Capture) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.readKernelStats()
	}
	s := c.stats
	s.RingDropped = c.ring.dropped
	return s
}

// readKernelStats adds PACKET_STATISTICS, which the kernel resets on
// every read, to the totals. Called with c.mu held.
func (c *Capture) readKernelStats() {
	_ = c.rc.Control(func(fd uintptr) {
		st, err := unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err == nil {
			c.stats.KernelReceived += uint64(st.Packets)
			c.stats.KernelDropped += uint64(st.Drops)
		}
	})
}

// Close stops the reader, waits for it to return and closes the socket.
// It returns the error that stopped the reader early, if any, else the
// first pcap write error. Closing twice is a no-op.
func (c *Capture) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	started := c.started
	if started {
		c.cancel()
	}
	c.mu.Unlock()
	if started {
		<-c.done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readKernelStats()
	c.closed = true
	err := c.f.Close()
	if err != nil {
		err = fmt.Errorf("capture: close %s: %w", c.ifname, err)
	}
	return errors.Join(c.readErr, c.pcapErr, err)
}
