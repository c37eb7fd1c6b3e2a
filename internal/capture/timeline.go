package capture

import (
	"math"
	"net/netip"
	"slices"
	"time"
)

// Announcement is one announcement of a sender, as seen on the wire.
type Announcement struct {
	Time       time.Time
	Group      Group
	SrcPort    uint16
	PayloadLen int
	Hash       uint64
}

// MembershipEvent is one IGMP membership event of a sender at a time.
type MembershipEvent struct {
	Time time.Time
	Membership
}

// Timeline is what one sender IP put on the wire, in time order.
type Timeline struct {
	Sender        netip.Addr
	SrcMAC        MAC // of the sender's first packet
	Announcements []Announcement
	Joins         []MembershipEvent // OpJoin events
	Leaves        []MembershipEvent // OpLeave events
}

// Add appends p to the timeline if it came from tl.Sender (any sender, if
// tl.Sender is unset, which p then sets) and reports whether it did.
// Announcements and membership events are kept in time order (a packet
// older than the last is inserted in place); queries and other IGMP are
// not part of a timeline.
func (tl *Timeline) Add(p Packet) bool {
	if !tl.Sender.IsValid() {
		tl.Sender, tl.SrcMAC = p.SrcIP, p.SrcMAC
	}
	if p.SrcIP != tl.Sender {
		return false
	}
	switch p.Kind {
	case KindAnnouncement:
		insertByTime(&tl.Announcements, Announcement{Time: p.Time, Group: p.Group, SrcPort: p.SrcPort, PayloadLen: p.PayloadLen, Hash: p.Hash},
			func(a Announcement) time.Time { return a.Time })
	case KindMembership:
		for _, m := range p.Events {
			ev := MembershipEvent{Time: p.Time, Membership: m}
			switch m.Op {
			case OpJoin:
				insertByTime(&tl.Joins, ev, func(e MembershipEvent) time.Time { return e.Time })
			case OpLeave:
				insertByTime(&tl.Leaves, ev, func(e MembershipEvent) time.Time { return e.Time })
			}
		}
	default:
		return false
	}
	return true
}

// insertByTime appends v, or inserts it after the last element not later
// than it: O(1) for packets in order.
func insertByTime[T any](s *[]T, v T, at func(T) time.Time) {
	i := len(*s)
	for i > 0 && at((*s)[i-1]).After(at(v)) {
		i--
	}
	*s = slices.Insert(*s, i, v)
}

// Timelines sorts packets into one Timeline per sender IP, ordered by
// address. Senders with only queries or other IGMP get no timeline.
func Timelines(pkts []Packet) []Timeline {
	idx := make(map[netip.Addr]int)
	var out []Timeline
	for _, p := range pkts {
		if p.Kind != KindAnnouncement && p.Kind != KindMembership {
			continue
		}
		i, ok := idx[p.SrcIP]
		if !ok {
			i = len(out)
			idx[p.SrcIP] = i
			out = append(out, Timeline{Sender: p.SrcIP, SrcMAC: p.SrcMAC})
		}
		out[i].Add(p)
	}
	slices.SortFunc(out, func(a, b Timeline) int { return a.Sender.Compare(b.Sender) })
	return out
}

// Only is tl restricted to group: its announcements to group, and its
// joins and leaves of group's address.
func (tl Timeline) Only(group Group) Timeline {
	out := Timeline{Sender: tl.Sender, SrcMAC: tl.SrcMAC}
	for _, a := range tl.Announcements {
		if a.Group == group {
			out.Announcements = append(out.Announcements, a)
		}
	}
	for _, e := range tl.Joins {
		if e.Group == group.Addr {
			out.Joins = append(out.Joins, e)
		}
	}
	for _, e := range tl.Leaves {
		if e.Group == group.Addr {
			out.Leaves = append(out.Leaves, e)
		}
	}
	return out
}

// Times is the times of tl's announcements.
func (tl Timeline) Times() []time.Time {
	out := make([]time.Time, len(tl.Announcements))
	for i, a := range tl.Announcements {
		out[i] = a.Time
	}
	return out
}

// Period estimates a sender's announce period from its announcement
// times (in order) robustly against lost announcements and jitter:
// m is the median of the consecutive gaps; each gap g is divided by its
// multiple k = round(g/m) (a gap spanning lost announcements counts as k
// periods; gaps with k = 0, duplicates or bursts, are left out); the
// period is the median of those g/k. It is exact to within the jitter
// of the gaps; with a period change it is the period of most of the
// gaps (estimate each side of the change separately). It needs at least
// 3 announcements.
func Period(times []time.Time) (time.Duration, bool) {
	if len(times) < 3 {
		return 0, false
	}
	gaps := make([]time.Duration, 0, len(times)-1)
	for i := 1; i < len(times); i++ {
		gaps = append(gaps, times[i].Sub(times[i-1]))
	}
	m := median(slices.Clone(gaps))
	if m <= 0 {
		return 0, false
	}
	norm := gaps[:0]
	for _, g := range gaps {
		k := math.Round(float64(g) / float64(m))
		if k < 1 {
			continue
		}
		norm = append(norm, time.Duration(float64(g)/k))
	}
	if len(norm) < 2 {
		return 0, false
	}
	return median(norm), true
}

// PeriodNear measures a sender's period from its announcement times,
// given the protocol's nominal period T: each gap g spans k = round(g/T)
// periods (k ≥ 1) and the period is the median of g/k. Unlike a period
// taken from the gaps alone (Period), it holds with few
// announcements and many of them lost (a run's window at 25 % loss can
// have as many double gaps as single ones). T itself when there are no
// gaps or T is unknown and the gaps say nothing.
func PeriodNear(times []time.Time, T time.Duration) time.Duration {
	if T <= 0 {
		if d, ok := Period(times); ok {
			return d
		}
		return 0
	}
	var per []time.Duration
	for i := 1; i < len(times); i++ {
		g := times[i].Sub(times[i-1])
		if k := math.Round(float64(g) / float64(T)); k >= 1 {
			per = append(per, time.Duration(float64(g)/k))
		}
	}
	if len(per) == 0 {
		return T
	}
	return median(per)
}

// median sorts d and returns its median (mean of the two middle values
// for an even count).
func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	n := len(d)
	if n%2 == 1 {
		return d[n/2]
	}
	return d[n/2-1] + (d[n/2]-d[n/2-1])/2
}

// ReadyBy says what made a sender ready.
type ReadyBy uint8

const (
	// ReadyByJoin: its IGMP join of the group.
	ReadyByJoin ReadyBy = iota + 1
	// ReadyByAnnouncement: no join was seen; its first announcement.
	ReadyByAnnouncement
)

func (r ReadyBy) String() string {
	switch r {
	case ReadyByJoin:
		return "igmp-join"
	case ReadyByAnnouncement:
		return "announcement"
	}
	return "none"
}

// Ready is when the sender of tl was first seen ready on group at or
// after after: its first IGMP join of group.Addr at or after after, else
// its first announcement to group at or after after; by says which. ok is
// false if there is neither.
func Ready(tl Timeline, group Group, after time.Time) (at time.Time, by ReadyBy, ok bool) {
	for _, e := range tl.Joins {
		if e.Group == group.Addr && !e.Time.Before(after) {
			return e.Time, ReadyByJoin, true
		}
	}
	for _, a := range tl.Announcements {
		if a.Group == group && !a.Time.Before(after) {
			return a.Time, ReadyByAnnouncement, true
		}
	}
	return time.Time{}, 0, false
}

// FirstAfter is the sender's first announcement (to any group; see Only)
// at or after t.
func FirstAfter(tl Timeline, t time.Time) (Announcement, bool) {
	i, _ := slices.BinarySearchFunc(tl.Announcements, t, func(a Announcement, t time.Time) int { return a.Time.Compare(t) })
	for i > 0 && tl.Announcements[i-1].Time.Equal(t) {
		i--
	}
	if i == len(tl.Announcements) {
		return Announcement{}, false
	}
	return tl.Announcements[i], true
}

// MaxExpected bounds Loss.Expected (a period far too short for the gaps
// would otherwise list millions of instants); Count is still exact.
const MaxExpected = 1 << 16

// Loss is the result of Lost.
type Loss struct {
	// Count is the number of lost announcements.
	Count int
	// Expected is the instants, in order, at which the lost announcements
	// should have been sent (the first MaxExpected of them).
	Expected []time.Time
	// Bracketed: the window lies between the sender's first and last
	// observed announcements. If not, nothing is expected in the parts
	// outside them, so Count is a lower bound there.
	Bracketed bool
}

// Lost counts the announcements of tl's sender that should have been
// sent within the open window (from, to) but never reached the wire. The
// rule: let a_0 < ... < a_n be the sender's observed announcement times
// (all of tl's groups: restrict with Only) and P > 0 the period. Each
// pair of consecutive observations a_i, a_{i+1} with gap g = a_{i+1} − a_i
// spans k = max(1, round(g/P)) periods, so k−1 sends are missing between
// them, expected at a_i + j·g/k for j = 1..k−1 (the gap split evenly: the
// expected phase follows the sender's observed sends on both sides, which
// absorbs jitter and drift). The expected instants strictly inside
// (from, to) are lost. Nothing is expected before a_0 or after a_n (the
// sender may not have started, or may have stopped), which Bracketed
// reports. Gaps near an odd multiple of P/2 are ambiguous (round half
// away from zero); a period change looks like loss at the old period.
func Lost(tl Timeline, period time.Duration, from, to time.Time) Loss {
	as := tl.Announcements
	l := Loss{Bracketed: len(as) > 0 && !from.Before(as[0].Time) && !to.After(as[len(as)-1].Time)}
	if period <= 0 || !from.Before(to) {
		return l
	}
	for i := 1; i < len(as); i++ {
		a, b := as[i-1].Time, as[i].Time
		if !b.After(from) || !a.Before(to) {
			continue
		}
		g := float64(b.Sub(a))
		k := max(1, math.Round(g/float64(period)))
		// Only the j whose instant a + j·g/k falls inside (from, to).
		lo := max(1, math.Floor(float64(from.Sub(a))*k/g)-1)
		hi := min(k-1, math.Ceil(float64(to.Sub(a))*k/g)+1)
		at := func(j float64) time.Time { return a.Add(time.Duration(g * j / k)) }
		in := func(e time.Time) bool { return e.After(from) && e.Before(to) }
		for j := lo; j <= hi; j++ {
			e := at(j)
			if !in(e) {
				continue
			}
			if len(l.Expected) == MaxExpected {
				// Instants grow with j: count the rest without listing.
				last := hi
				for last > j && !in(at(last)) {
					last--
				}
				l.Count += int(last - j + 1)
				break
			}
			l.Expected = append(l.Expected, e)
			l.Count++
		}
	}
	return l
}
