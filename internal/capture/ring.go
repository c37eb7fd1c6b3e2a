package capture

import (
	"slices"
	"time"
)

// ring holds at most size Packets, dropping the oldest. It grows on
// demand (doubling, but never past size), so a quiet capture holds only
// what it saw. Not safe for concurrent use.
type ring struct {
	buf     []Packet
	start   int // index of the oldest packet once len(buf) == size
	size    int
	dropped uint64
}

func newRing(size int) *ring { return &ring{size: size} }

func (r *ring) push(p Packet) {
	if len(r.buf) < r.size {
		if len(r.buf) == cap(r.buf) {
			grown := make([]Packet, len(r.buf), min(max(2*cap(r.buf), 64), r.size))
			copy(grown, r.buf)
			r.buf = grown
		}
		r.buf = append(r.buf, p)
		return
	}
	r.buf[r.start] = p
	r.start = (r.start + 1) % r.size
	r.dropped++
}

func (r *ring) len() int { return len(r.buf) }

// between returns deep copies, oldest first, of the packets with
// from <= Time < to; a zero from or to is unbounded on that side.
func (r *ring) between(from, to time.Time) []Packet {
	var out []Packet
	n := len(r.buf)
	for i := range n {
		p := r.buf[(r.start+i)%n]
		if !from.IsZero() && p.Time.Before(from) {
			continue
		}
		if !to.IsZero() && !p.Time.Before(to) {
			continue
		}
		p.Events = slices.Clone(p.Events)
		out = append(out, p)
	}
	return out
}
