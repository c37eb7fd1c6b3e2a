package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Wire format of one announcement (big endian):
//
//	magic   4 bytes "TBA1"
//	version 1 byte  (WireVersion)
//	kind    1 byte  (KindAnnounce | KindGoodbye)
//	seq     8 bytes
//	sendNS  8 bytes  sender's wall clock, Unix ns, when the packet was sent
//	startNS 8 bytes  sender's wall clock, Unix ns, when the agent started
//	cluster 1-byte length + bytes
//	address 1-byte length + bytes (ip:port)
//	groups  1-byte count, then per group 1-byte length + bytes
//
// A packet is at most MaxPacketSize bytes; anything else is rejected.

// WireVersion is the only protocol version this agent speaks.
const WireVersion = 1

// MaxPacketSize is the hard cap on an encoded announcement.
const MaxPacketSize = 1024

// MaxGroups is the largest number of groups one announcement may carry.
const MaxGroups = 16

// maxNameLen bounds cluster and group names (a DNS label).
const maxNameLen = 63

var magic = [4]byte{'T', 'B', 'A', '1'}

// Kind is the message kind.
type Kind uint8

// Message kinds.
const (
	KindAnnounce Kind = 1
	KindGoodbye  Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindAnnounce:
		return "announce"
	case KindGoodbye:
		return "goodbye"
	default:
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
}

// Message is one decoded announcement or goodbye.
type Message struct {
	Kind    Kind
	Seq     uint64
	SendNS  int64
	StartNS int64
	Cluster string
	Address string // ip:port of the sender's discovery endpoint
	Groups  []string
}

// Decode errors. Every rejected packet wraps one of these.
var (
	ErrTooLarge  = errors.New("packet larger than the size cap")
	ErrMalformed = errors.New("malformed packet")
)

// Encode serialises m, validating it first.
func Encode(m Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+len(m.Cluster)+len(m.Address)+8*len(m.Groups))
	b = append(b, magic[:]...)
	b = append(b, WireVersion, byte(m.Kind))
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(m.SendNS))
	b = binary.BigEndian.AppendUint64(b, uint64(m.StartNS))
	b = appendString(b, m.Cluster)
	b = appendString(b, m.Address)
	b = append(b, byte(len(m.Groups)))
	for _, g := range m.Groups {
		b = appendString(b, g)
	}
	if len(b) > MaxPacketSize {
		return nil, fmt.Errorf("encoding announcement of %q: %d bytes: %w", m.Cluster, len(b), ErrTooLarge)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// Decode parses and validates one packet. It never panics and never
// allocates more than the packet's size.
func Decode(p []byte) (Message, error) {
	var m Message
	if len(p) > MaxPacketSize {
		return m, fmt.Errorf("%d bytes: %w", len(p), ErrTooLarge)
	}
	r := reader{b: p}
	var mg [4]byte
	copy(mg[:], r.bytes(4))
	if r.err != nil || mg != magic {
		return m, fmt.Errorf("bad magic: %w", ErrMalformed)
	}
	if v := r.byte(); r.err == nil && v != WireVersion {
		return m, fmt.Errorf("unsupported version %d: %w", v, ErrMalformed)
	}
	m.Kind = Kind(r.byte())
	m.Seq = r.uint64()
	m.SendNS = int64(r.uint64())
	m.StartNS = int64(r.uint64())
	m.Cluster = r.string()
	m.Address = r.string()
	n := int(r.byte())
	if r.err == nil && n > MaxGroups {
		return m, fmt.Errorf("%d groups: %w", n, ErrMalformed)
	}
	if r.err == nil && n > 0 {
		m.Groups = make([]string, 0, n)
		for i := 0; i < n && r.err == nil; i++ {
			m.Groups = append(m.Groups, r.string())
		}
	}
	if r.err != nil {
		return Message{}, r.err
	}
	if len(r.b) != 0 {
		return Message{}, fmt.Errorf("%d trailing bytes: %w", len(r.b), ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return m, nil
}

// Validate checks the fields of a message.
func (m Message) Validate() error {
	if m.Kind != KindAnnounce && m.Kind != KindGoodbye {
		return fmt.Errorf("unknown kind %d", uint8(m.Kind))
	}
	if err := ValidateName(m.Cluster); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if _, err := netip.ParseAddrPort(m.Address); err != nil {
		return fmt.Errorf("address %q: %w", m.Address, err)
	}
	if len(m.Groups) == 0 || len(m.Groups) > MaxGroups {
		return fmt.Errorf("%d groups, want 1 to %d", len(m.Groups), MaxGroups)
	}
	for _, g := range m.Groups {
		if err := ValidateName(g); err != nil {
			return fmt.Errorf("group: %w", err)
		}
	}
	if m.SendNS <= 0 || m.StartNS <= 0 {
		return fmt.Errorf("non-positive timestamp")
	}
	return nil
}

// ValidateName accepts a DNS label (RFC 1123): lower-case alphanumerics and
// '-', 1 to 63 characters, starting and ending alphanumeric. Cluster names
// become part of Peer object names, so they must be labels.
func ValidateName(s string) error {
	if len(s) == 0 || len(s) > maxNameLen {
		return fmt.Errorf("name %q: length must be 1 to %d", s, maxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return fmt.Errorf("name %q: not a DNS label", s)
		}
	}
	return nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = fmt.Errorf("truncated: %w", ErrMalformed)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	v := r.bytes(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) uint64() uint64 {
	v := r.bytes(8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (r *reader) string() string {
	n := int(r.byte())
	return string(r.bytes(n))
}
