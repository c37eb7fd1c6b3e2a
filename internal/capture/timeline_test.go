package capture

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// at is t0 plus a number of milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// every returns n instants from start (ms), step apart (ms), skipping
// the indexes in lost, each moved by jitter[i % len(jitter)] ms.
func every(start, step, n int, lost []int, jitter []int) []time.Time {
	var out []time.Time
	for i := range n {
		if slices.Contains(lost, i) {
			continue
		}
		j := 0
		if len(jitter) > 0 {
			j = jitter[i%len(jitter)]
		}
		out = append(out, at(start+i*step+j))
	}
	return out
}

// jitter is a deterministic ±250 ms pattern (5 % of a 5 s period).
var jitter = []int{0, 180, -120, 250, -250, 60, -30, 140, -200, 90}

func timelineOf(times []time.Time) Timeline {
	tl := Timeline{Sender: netip.MustParseAddr("192.0.2.1")}
	for _, t := range times {
		tl.Announcements = append(tl.Announcements, Announcement{Time: t, Group: group1})
	}
	return tl
}

func TestPeriod(t *testing.T) {
	for _, tc := range []struct {
		name  string
		times []time.Time
		want  time.Duration
		tol   time.Duration
		ok    bool
	}{
		{"regular 5 s", every(0, 5000, 20, nil, nil), 5 * time.Second, 0, true},
		// The median is exact to within the gaps' jitter (here ±500 ms).
		{"jittery 5 s", every(0, 5000, 40, nil, jitter), 5 * time.Second, 500 * time.Millisecond, true},
		{"lost run of 3", every(0, 5000, 20, []int{7, 8, 9}, nil), 5 * time.Second, 0, true},
		{"jittery with lost runs", every(0, 5000, 40, []int{3, 4, 5, 20, 31, 32}, jitter), 5 * time.Second, 500 * time.Millisecond, true},
		{"a duplicate", slices.Insert(every(0, 5000, 10, nil, nil), 4, at(15000)), 5 * time.Second, 0, true},
		{"period change 5 s to 2 s: most gaps win", slices.Concat(every(0, 5000, 10, nil, nil), every(47000, 2000, 20, nil, nil)), 2 * time.Second, 0, true},
		{"period change 5 s to 2 s: window after it", every(47000, 2000, 20, nil, nil), 2 * time.Second, 0, true},
		{"exactly 3", every(0, 5000, 3, nil, nil), 5 * time.Second, 0, true},
		{"2 announcements", every(0, 5000, 2, nil, nil), 0, 0, false},
		{"1 announcement", every(0, 5000, 1, nil, nil), 0, 0, false},
		{"none", nil, 0, 0, false},
		{"all at one instant", []time.Time{at(0), at(0), at(0), at(0)}, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Period(tc.times)
			if ok != tc.ok || ok && (got < tc.want-tc.tol || got > tc.want+tc.tol) {
				t.Errorf("Period = %v, %v; want %v ± %v, %v", got, ok, tc.want, tc.tol, tc.ok)
			}
		})
	}
}

func TestLost(t *testing.T) {
	const p = 5 * time.Second
	for _, tc := range []struct {
		name      string
		times     []time.Time
		period    time.Duration
		from, to  time.Time
		want      []time.Time
		tol       time.Duration
		bracketed bool
	}{
		{"none lost", every(0, 5000, 10, nil, nil), p, at(2000), at(40000), nil, 0, true},
		{"lost run of 3", every(0, 5000, 20, []int{7, 8, 9}, nil), p, at(1000), at(90000), []time.Time{at(35000), at(40000), at(45000)}, 0, true},
		{"lost run of 3, window cuts it", every(0, 5000, 20, []int{7, 8, 9}, nil), p, at(38000), at(90000), []time.Time{at(40000), at(45000)}, 0, true},
		{"window open: instant on its edge excluded", every(0, 5000, 20, []int{7, 8, 9}, nil), p, at(35000), at(45000), []time.Time{at(40000)}, 0, true},
		{"window between two announcements", every(0, 5000, 20, []int{7, 8, 9}, nil), p, at(36000), at(44000), []time.Time{at(40000)}, 0, true},
		{"jittery, one lost", every(0, 5000, 20, []int{6}, jitter), p, at(0), at(95000), []time.Time{at(30000 - 15)}, 250 * time.Millisecond, true},
		{"jittery, none lost", every(0, 5000, 40, nil, jitter), p, at(0), at(190000), nil, 0, true},
		{"no announcements", nil, p, at(0), at(60000), nil, 0, false},
		{"one announcement", every(0, 5000, 1, nil, nil), p, at(0), at(60000), nil, 0, false},
		{"sender stopped: nothing expected after its last", every(0, 5000, 5, nil, nil), p, at(10000), at(60000), nil, 0, false},
		{"sender not started: nothing expected before its first", every(30000, 5000, 5, nil, nil), p, at(0), at(40000), nil, 0, false},
		{"period change 5 s to 10 s, at 5 s: looks like loss", slices.Concat(every(0, 5000, 5, nil, nil), every(30000, 10000, 4, nil, nil)), p, at(0), at(60000), []time.Time{at(25000), at(35000), at(45000), at(55000)}, 0, true},
		{"period change 5 s to 10 s, at 10 s after it", slices.Concat(every(0, 5000, 5, nil, nil), every(30000, 10000, 4, nil, nil)), 2 * p, at(30000), at(60000), nil, 0, true},
		{"no period", every(0, 5000, 10, []int{4}, nil), 0, at(0), at(45000), nil, 0, true},
		{"empty window", every(0, 5000, 10, []int{4}, nil), p, at(30000), at(10000), nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Lost(timelineOf(tc.times), tc.period, tc.from, tc.to)
			if got.Count != len(tc.want) || len(got.Expected) != len(tc.want) || got.Bracketed != tc.bracketed {
				t.Fatalf("Lost = %+v, want %d lost %v, bracketed %v", got, len(tc.want), tc.want, tc.bracketed)
			}
			for i, w := range tc.want {
				if d := got.Expected[i].Sub(w); d < -tc.tol || d > tc.tol {
					t.Errorf("expected[%d] = %v, want %v ± %v", i, got.Expected[i].Sub(t0), w.Sub(t0), tc.tol)
				}
			}
		})
	}
}

// TestLostBounded: a period far too short lists at most MaxExpected
// instants, counts them all, and returns at once.
func TestLostBounded(t *testing.T) {
	tl := timelineOf([]time.Time{at(0), at(1000)})
	got := Lost(tl, time.Microsecond, at(0), at(1000))
	if got.Count != 999999 || len(got.Expected) != MaxExpected {
		t.Errorf("Lost with a 1 µs period over 1 s: count %d, %d listed", got.Count, len(got.Expected))
	}
}

func TestReady(t *testing.T) {
	other := Group{Addr: group1.Addr, Port: 4999}
	tl := Timeline{
		Sender: netip.MustParseAddr("192.0.2.3"),
		Announcements: []Announcement{
			{Time: at(500), Group: group1},
			{Time: at(1500), Group: other},
			{Time: at(2500), Group: group1},
		},
		Joins: []MembershipEvent{
			{Time: at(1000), Membership: Membership{Group: group1.Addr, Op: OpJoin, Version: 3}},
			{Time: at(1200), Membership: Membership{Group: group2.Addr, Op: OpJoin, Version: 3}},
		},
	}
	for _, tc := range []struct {
		name  string
		group Group
		after time.Time
		at    time.Time
		by    ReadyBy
		ok    bool
	}{
		{"join first", group1, at(0), at(1000), ReadyByJoin, true},
		{"join at the instant counts", group1, at(1000), at(1000), ReadyByJoin, true},
		{"join before after: first announcement after", group1, at(1001), at(2500), ReadyByAnnouncement, true},
		{"announcement to another port does not count", other, at(1300), at(1500), ReadyByAnnouncement, true},
		{"join of group2", group2, at(0), at(1200), ReadyByJoin, true},
		{"nothing after", group1, at(3000), time.Time{}, 0, false},
		{"unknown group", Group{Addr: netip.MustParseAddr("239.1.1.1"), Port: 1}, at(0), time.Time{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotAt, by, ok := Ready(tl, tc.group, tc.after)
			if !gotAt.Equal(tc.at) || by != tc.by || ok != tc.ok {
				t.Errorf("Ready = %v, %v, %v; want %v, %v, %v", gotAt, by, ok, tc.at, tc.by, tc.ok)
			}
		})
	}
	if _, _, ok := Ready(Timeline{}, group1, at(0)); ok {
		t.Error("Ready on an empty timeline")
	}
}

func TestFirstAfter(t *testing.T) {
	tl := timelineOf([]time.Time{at(0), at(5000), at(5000), at(10000)})
	tl.Announcements[2].Hash = 2
	for _, tc := range []struct {
		name string
		t    time.Time
		want time.Time
		hash uint64
		ok   bool
	}{
		{"before all", at(-1), at(0), 0, true},
		{"at one: that one", at(0), at(0), 0, true},
		{"between", at(1), at(5000), 0, true},
		{"at a duplicate instant: the first", at(5000), at(5000), 0, true},
		{"at the last", at(10000), at(10000), 0, true},
		{"after the last", at(10001), time.Time{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := FirstAfter(tl, tc.t)
			if ok != tc.ok || !a.Time.Equal(tc.want) || a.Hash != tc.hash {
				t.Errorf("FirstAfter = %+v, %v; want %v, %v", a, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := FirstAfter(Timeline{}, at(0)); ok {
		t.Error("FirstAfter on an empty timeline")
	}
}

func TestTimelines(t *testing.T) {
	ip := netip.MustParseAddr
	a, b := ip("192.0.2.1"), ip("192.0.2.2")
	pkts := []Packet{
		{Time: at(10), Kind: KindAnnouncement, SrcIP: b, Group: group2, Hash: 1},
		{Time: at(20), Kind: KindMembership, SrcIP: a, Events: []Membership{
			{Group: group1.Addr, Op: OpJoin, Version: 3},
			{Group: group2.Addr, Op: OpLeave, Version: 3},
			{Group: ip("239.1.1.1"), Op: OpOther, Version: 3},
		}},
		{Time: at(30), Kind: KindAnnouncement, SrcIP: a, Group: group1, Hash: 3},
		{Time: at(25), Kind: KindAnnouncement, SrcIP: a, Group: group2, Hash: 2}, // out of order
		{Time: at(40), Kind: KindQuery, SrcIP: ip("192.0.2.254")},
		{Time: at(50), Kind: KindAnnouncement, SrcIP: a, Group: group1, Hash: 4},
	}
	tls := Timelines(pkts)
	if len(tls) != 2 || tls[0].Sender != a || tls[1].Sender != b {
		t.Fatalf("Timelines = %+v", tls)
	}
	ta := tls[0]
	if hashes := func() (h []uint64) {
		for _, an := range ta.Announcements {
			h = append(h, an.Hash)
		}
		return
	}(); !slices.Equal(hashes, []uint64{2, 3, 4}) {
		t.Errorf("announcements of a, in time order: %v", hashes)
	}
	if len(ta.Joins) != 1 || ta.Joins[0].Group != group1.Addr || len(ta.Leaves) != 1 || ta.Leaves[0].Group != group2.Addr {
		t.Errorf("joins %+v leaves %+v", ta.Joins, ta.Leaves)
	}
	only := ta.Only(group1)
	if len(only.Announcements) != 2 || len(only.Joins) != 1 || len(only.Leaves) != 0 {
		t.Errorf("Only(group1) = %+v", only)
	}
	if len(ta.Only(group2).Leaves) != 1 {
		t.Errorf("Only(group2) lost the leave")
	}
	if !slices.Equal(ta.Times(), []time.Time{at(25), at(30), at(50)}) {
		t.Errorf("Times = %v", ta.Times())
	}
	var tl Timeline
	if !tl.Add(pkts[0]) || tl.Sender != b || tl.Add(pkts[2]) || tl.Add(Packet{SrcIP: b, Kind: KindQuery}) {
		t.Errorf("Add: sender %v", tl.Sender)
	}
}

func TestRing(t *testing.T) {
	r := newRing(3)
	for i := range 5 {
		r.push(Packet{Time: at(i), Events: []Membership{{Version: uint8(i)}}})
	}
	if r.len() != 3 || r.dropped != 2 {
		t.Fatalf("len %d dropped %d", r.len(), r.dropped)
	}
	all := r.between(time.Time{}, time.Time{})
	if len(all) != 3 || !all[0].Time.Equal(at(2)) || !all[2].Time.Equal(at(4)) {
		t.Fatalf("between = %+v", all)
	}
	all[0].Events[0].Version = 99
	if r.between(time.Time{}, time.Time{})[0].Events[0].Version != 2 {
		t.Error("between shares Events with the ring")
	}
	for _, tc := range []struct {
		from, to time.Time
		n        int
	}{
		{at(3), time.Time{}, 2}, {time.Time{}, at(3), 1}, {at(3), at(4), 1}, {at(4), at(3), 0}, {at(5), time.Time{}, 0},
	} {
		if got := len(r.between(tc.from, tc.to)); got != tc.n {
			t.Errorf("between(%v, %v) = %d packets, want %d", tc.from, tc.to, got, tc.n)
		}
	}
}

func TestClockSample(t *testing.T) {
	a, err := ClockSample()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ClockSample()
	if err != nil {
		t.Fatal(err)
	}
	if a.Uncertainty < 0 || a.Uncertainty > 50*time.Millisecond || b.Monotonic < a.Monotonic {
		t.Errorf("samples %+v, %+v", a, b)
	}
	if got := a.ToMonotonic(a.Realtime); got != a.Monotonic {
		t.Errorf("ToMonotonic(Realtime) = %v, want %v", got, a.Monotonic)
	}
	if d := time.Since(a.Realtime); d < 0 || d > time.Minute {
		t.Errorf("Realtime %v is %v from now", a.Realtime, d)
	}
	step, tol := Step(a, b)
	if tol != a.Uncertainty+b.Uncertainty || step < -time.Millisecond || step > time.Millisecond {
		t.Errorf("Step = %v ± %v between two samples in a row", step, tol)
	}
	// A wall clock stepped 2 s forward between the samples.
	c := b
	c.Realtime = c.Realtime.Add(2 * time.Second)
	if step, _ := Step(a, c); step < 2*time.Second-time.Millisecond || step > 2*time.Second+time.Millisecond {
		t.Errorf("Step over a 2 s wall-clock step = %v", step)
	}
}

func TestPeriodNear(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(ms ...float64) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m*1e6)))
		}
		return out
	}
	T := 5 * time.Second
	tests := []struct {
		name  string
		times []time.Time
		T     time.Duration
		want  time.Duration
	}{
		// As many double gaps as single ones: the gaps' median would say 7.5 s.
		{"half the gaps double", at(0, 5000, 15000, 20000, 30000), T, 5 * time.Second},
		{"jitter", at(0, 5001, 10001, 15003), T, 5001 * time.Millisecond},
		{"one announcement", at(0), T, T},
		{"no nominal period", at(0, 2000, 4000, 6000), 0, 2 * time.Second},
	}
	for _, tt := range tests {
		if got := PeriodNear(tt.times, tt.T); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
