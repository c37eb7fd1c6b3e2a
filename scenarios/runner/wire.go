package runner

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/fluidos-lab/testbed/internal/capture"
	"github.com/fluidos-lab/testbed/results"
)

// Wire is the capture of the protocol's discovery traffic on the lab
// network: internal/capture.Capture on the lab's bridge in production, a
// recorded packet list in tests.
type Wire interface {
	// Interface names the captured host interface.
	Interface() string
	// Clock samples the clock of the packets' kernel timestamps
	// (CLOCK_REALTIME) against CLOCK_MONOTONIC, the runner's clock.
	Clock() (capture.Clocks, error)
	// Packets returns the captured packets with from <= Time < to.
	Packets(from, to time.Time) []capture.Packet
	// Stats counts what the capture saw and lost so far.
	Stats() capture.Stats
}

// wireMark relates the wire's clock to a run's t0: a clock sample taken
// since after t0 on the runner's clock, and the capture counters then.
type wireMark struct {
	clocks capture.Clocks
	since  time.Duration
	stats  capture.Stats
	ok     bool
}

// Bracketing the wire's clock sample between two readings of the runner's
// clock: a sample whose bracket is wider than wireSampleTight is taken
// again, up to wireSampleTries times, and the tightest one kept.
const (
	wireSampleTries = 8
	wireSampleTight = time.Millisecond
)

// markWire samples the wire's clock right after t0. The sample is placed
// on the runner's clock at the middle of the runner's readings before and
// after it, so a thread descheduled around the sample (a loaded host)
// shifts nothing by more than half the kept bracket; without the bracket,
// a stall after the sample moved every packet later by the stall, and an
// announcement that explains a discovery then seemed to come after it.
func (r *Runner) markWire(st *runState) {
	w := r.o.Wire
	if w == nil {
		return
	}
	var (
		c     capture.Clocks
		err   error
		since time.Duration
		span  = time.Duration(-1)
	)
	for i := 0; i < wireSampleTries; i++ {
		before := r.clk.Now()
		ci, cerr := w.Clock()
		after := r.clk.Now()
		if cerr != nil {
			err = cerr
			break
		}
		if d := after.Sub(before); span < 0 || d < span {
			c, span, since = ci, d, before.Add(d/2).Sub(st.t0)
		}
		if span <= wireSampleTight {
			break
		}
	}
	stats := w.Stats()
	r.mu.Lock() // the watchers record into st concurrently
	defer r.mu.Unlock()
	if err != nil {
		st.errs = append(st.errs, fmt.Sprintf("wire capture on %s: %v", w.Interface(), err))
		return
	}
	st.wire = wireMark{clocks: c, since: since, stats: stats, ok: true}
}

// explainWire adds the wire's view of a concluded run: the capture's
// figures (Run.Wire), the split of each discovery time (PeerTiming.Wire
// and ReverseWire) and the losses over the impairment's counter window.
func (r *Runner) explainWire(st *runState, run *results.Run, imp *impairState) {
	w := r.o.Wire
	if w == nil || !st.wire.ok {
		return
	}
	end, err := w.Clock()
	if err != nil {
		run.Errors = append(run.Errors, fmt.Sprintf("wire capture on %s: %v", w.Interface(), err))
		return
	}
	m := st.wire
	t0 := m.clocks.Realtime.Add(-m.since)
	T := r.s.Protocol.AnnounceInterval
	if T <= 0 {
		T = time.Second
	}
	toReal := func(x time.Time) time.Time { return m.clocks.Realtime.Add(x.Sub(st.t0) - m.since) }
	from := t0
	windows, lo, hi := counterWindows(imp, toReal)
	if len(windows) > 0 && lo.Before(from) {
		from = lo
	}
	// Six periods of history give every peer's phase and period.
	pkts := w.Packets(from.Add(-6*T), end.Realtime.Add(time.Second))
	stats := w.Stats()
	step, tol := capture.Step(m.clocks, end)
	g := r.s.Protocol.AnnounceGroup
	wr := &results.WireRun{
		Interface: w.Interface(), Group: g.String(),
		KernelDropped: stats.KernelDropped - m.stats.KernelDropped,
		RingDropped:   stats.RingDropped - m.stats.RingDropped,
		ClockStepUS:   float64(step) / 1e3, UncertaintyUS: float64(tol) / 1e3,
	}
	in := wireInput{
		group: capture.Group{Addr: g.Addr(), Port: g.Port()}, nodeA: r.s.NodeA, clusters: r.clusters,
		pkts: pkts, t0: t0, period: T, endMS: runEndMS(run),
		toMS: func(t time.Time) float64 { return msOf(m.clocks.ToMonotonic(t) - m.clocks.Monotonic + m.since) },
	}
	in.ss = senders(in) // once for both
	explain(in, wr, run)
	if len(windows) > 0 {
		lost, sent := lostIn(in, windows)
		wr.CounterWindowLost, wr.CounterWindowSent = &lost, &sent
		wr.CounterFromMS, wr.CounterToMS = msOf(lo.Sub(t0)), msOf(hi.Sub(t0))
	}
	run.Wire = wr
}

// runEndMS is when observation stopped, else the latest time recorded.
func runEndMS(run *results.Run) float64 {
	if run.EndMS > 0 {
		return run.EndMS
	}
	end := 0.0
	for _, p := range run.Peers {
		for _, v := range []*float64{p.DiscoveredMS, p.ReverseMS, p.GoneMS} {
			if v != nil && *v > end {
				end = *v
			}
		}
	}
	return end
}

// counterWindows maps the run's complete counter windows to the packets'
// clock, with the earliest start and latest end.
func counterWindows(imp *impairState, toReal func(time.Time) time.Time) (out map[string][2]time.Time, lo, hi time.Time) {
	if imp == nil {
		return nil, lo, hi
	}
	for c, w := range imp.windows {
		if w[0].IsZero() || w[1].IsZero() {
			continue
		}
		if out == nil {
			out = map[string][2]time.Time{}
		}
		f, t := toReal(w[0]), toReal(w[1])
		out[c] = [2]time.Time{f, t}
		if lo.IsZero() || f.Before(lo) {
			lo = f
		}
		if t.After(hi) {
			hi = t
		}
	}
	return out, lo, hi
}

// tailMargin is how long before the end of a window an announcement due
// after the sender's last one must have been due to count as lost: the
// capture has it within microseconds, so this only absorbs jitter.
const tailMargin = 50 * time.Millisecond

// lostIn is the announcements of the clusters with a counter window lost
// on the wire within it (from, to), and those sent there. Past a sender's last announcement,
// the sends due at its period before to (less tailMargin) are lost too:
// the window ends with the counters' read, after which nothing due
// inside it can still arrive. A peer (not node A, which starts inside
// the window) announced all along: when the capture holds nothing of it
// before from (the campaign's first run), the sends due before its first
// announcement in the window are lost too.
func lostIn(in wireInput, windows map[string][2]time.Time) (lost, sent int) {
	for name, s := range in.senderMap() {
		w, ok := windows[name]
		if !ok || s.period <= 0 {
			continue
		}
		from, to := w[0], w[1]
		lost += capture.Lost(s.tl, s.period, from, to).Count
		var first, last time.Time
		before := false
		for _, a := range s.tl.Announcements {
			switch {
			case !a.Time.After(from):
				before = true
			case a.Time.Before(to):
				sent++
				if first.IsZero() {
					first = a.Time
				}
				last = a.Time
			}
		}
		if last.IsZero() {
			continue
		}
		if due := to.Add(-tailMargin).Sub(last); due >= s.period {
			lost += int(due / s.period)
		}
		if due := first.Sub(from.Add(tailMargin)); !before && name != in.nodeA && due >= s.period {
			lost += int(due / s.period)
		}
	}
	return lost, sent
}

// wireInput is what explain needs: the packets, the lab's address plan and
// the mapping of kernel timestamps to ms since t0.
type wireInput struct {
	group    capture.Group
	nodeA    string
	clusters []Cluster
	pkts     []capture.Packet
	t0       time.Time // t0 on the packets' clock
	period   time.Duration
	endMS    float64
	toMS     func(time.Time) float64
	// ss are the senders of pkts, when already sorted (else built on use).
	ss map[string]*sender
}

// senderMap returns in's senders, sorting the packets only when needed.
func (in wireInput) senderMap() map[string]*sender {
	if in.ss != nil {
		return in.ss
	}
	return senders(in)
}

// sender is one cluster's timeline on the wire: every address of its
// discovery subnet merged (node A's pod may get a new address each run).
type sender struct {
	cluster string
	addr    netip.Addr // the latest address seen
	tl      capture.Timeline
	period  time.Duration
}

// senders sorts the packets into one timeline per lab cluster, by the
// cluster's discovery subnet. Packets from outside every subnet are
// ignored (another lab's, or a host's own).
func senders(in wireInput) map[string]*sender {
	out := map[string]*sender{}
	for _, p := range in.pkts {
		var c *Cluster
		for i := range in.clusters {
			if in.clusters[i].Macvlan.IsValid() && in.clusters[i].Macvlan.Contains(p.SrcIP) {
				c = &in.clusters[i]
				break
			}
		}
		if c == nil {
			continue
		}
		s := out[c.Name]
		if s == nil {
			s = &sender{cluster: c.Name}
			out[c.Name] = s
		}
		if p.Kind == capture.KindAnnouncement || !s.addr.IsValid() {
			s.addr = p.SrcIP
		}
		p.SrcIP = c.Macvlan.Addr() // one timeline per cluster
		s.tl.Add(p)
	}
	for _, s := range out {
		s.tl = s.tl.Only(in.group)
		s.period = capture.PeriodNear(s.tl.Times(), in.period)
	}
	return out
}

// explain fills the run's wire figures from the packets: per sender
// traffic and phase, the split of every discovery time, and the achieved
// loss inside A's listening window.
func explain(in wireInput, wr *results.WireRun, run *results.Run) {
	ss := in.senderMap()
	endT := in.t0.Add(time.Duration(in.endMS * float64(time.Millisecond)))
	for _, p := range in.pkts {
		if !p.Time.Before(in.t0) && !p.Time.After(endT) {
			wr.Packets++
		}
	}
	for _, c := range in.clusters {
		s := ss[c.Name]
		if s == nil {
			continue
		}
		ws := results.WireSender{Cluster: c.Name, Address: s.addr.String()}
		for _, a := range s.tl.Announcements {
			if !a.Time.Before(in.t0) && !a.Time.After(endT) {
				ws.Announcements++
				ws.Bytes += a.PayloadLen
			}
		}
		if a, ok := capture.FirstAfter(s.tl, in.t0); ok {
			ws.PhaseMS = new(in.toMS(a.Time))
		}
		if c.Name != in.nodeA {
			wr.Lost += capture.Lost(s.tl, s.period, in.t0, endT).Count
		}
		wr.Senders = append(wr.Senders, ws)
	}
	a := ss[in.nodeA]
	if a == nil {
		return // A never reached the wire: nothing to explain
	}
	ready, by, ok := capture.Ready(a.tl, in.group, in.t0)
	var lost, seen int
	for i := range run.Peers {
		pt := &run.Peers[i]
		p := ss[pt.Peer]
		if p == nil {
			continue
		}
		if ok && pt.DiscoveredMS != nil {
			pt.Wire = forward(in, p, ready, by, *pt.DiscoveredMS)
		}
		if pt.ReverseMS != nil {
			pt.ReverseWire = reverse(in, a, *pt.ReverseMS)
		}
		if ok && ready.Before(endT) {
			lost += capture.Lost(p.tl, p.period, ready, endT).Count
			for _, x := range p.tl.Announcements {
				if x.Time.After(ready) && x.Time.Before(endT) {
					seen++
				}
			}
		}
	}
	if lost+seen > 0 {
		wr.WindowLossPct = new(100 * float64(lost) / float64(lost+seen))
	}
}

// forward splits A's discovery of peer p at discovered (ms since t0): A was
// ready at ready; the peer's first announcement after that; the ones lost
// in between at the peer's period; the rest is processing. An
// announcement that A demonstrably heard before it looked ready (a
// discovery before the first announcement after ready) moves ready back
// to it ("heard"). Nil when the wire shows no announcement that can
// explain the discovery.
func forward(in wireInput, p *sender, ready time.Time, by capture.ReadyBy, discovered float64) *results.WireTiming {
	readyBy := by.String()
	first, ok := capture.FirstAfter(p.tl, ready)
	if !ok || in.toMS(first.Time) > discovered {
		heard, found := lastAtOrBefore(p.tl, in, discovered)
		if !found || heard.Time.Before(in.t0) {
			return nil
		}
		first, ready, readyBy = heard, heard.Time, "heard"
	}
	w := &results.WireTiming{ReadyBy: readyBy, PeriodMS: msOf(p.period)}
	w.ReadyMS, w.FirstMS = in.toMS(ready), in.toMS(first.Time)
	w.Lost = capture.Lost(p.tl, p.period, ready, first.Time).Count
	w.StartupMS = w.ReadyMS
	w.LostMS = float64(w.Lost) * w.PeriodMS
	w.WaitMS = w.FirstMS - w.ReadyMS - w.LostMS
	w.ProcessingMS = discovered - w.FirstMS
	return w
}

// reverse splits a peer's discovery of A at discovered: the peer listened
// all along, so the wait is A's start-up until its first announcement on
// the wire, and the rest is processing. Nil when A's first announcement
// after t0 comes after the discovery (then it cannot explain it).
func reverse(in wireInput, a *sender, discovered float64) *results.WireTiming {
	first, ok := capture.FirstAfter(a.tl, in.t0)
	if !ok || in.toMS(first.Time) > discovered {
		return nil
	}
	f := in.toMS(first.Time)
	return &results.WireTiming{ReadyBy: "listening", FirstMS: f, PeriodMS: msOf(a.period),
		StartupMS: f, ProcessingMS: discovered - f}
}

// lastAtOrBefore is the sender's last announcement at or before ms (since
// t0).
func lastAtOrBefore(tl capture.Timeline, in wireInput, ms float64) (capture.Announcement, bool) {
	for i := len(tl.Announcements) - 1; i >= 0; i-- {
		if in.toMS(tl.Announcements[i].Time) <= ms {
			return tl.Announcements[i], true
		}
	}
	return capture.Announcement{}, false
}
