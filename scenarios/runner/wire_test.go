package runner

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/internal/capture"
	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/impair"
)

var (
	wireT0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	wireGroup = capture.Group{Addr: scenarios.ReferenceAgentGroup.Addr(), Port: scenarios.ReferenceAgentGroup.Port()}
)

// wireClusters is a, b, c on 10.100.{0,1,2}.0/24.
func wireClusters() []Cluster {
	var out []Cluster
	for i, n := range []string{"a", "b", "c"} {
		out = append(out, Cluster{Name: n, Macvlan: netip.MustParsePrefix(fmt.Sprintf("10.100.%d.0/24", i))})
	}
	return out
}

// ann is an announcement of src at ms since t0.
func ann(src string, ms float64) capture.Packet {
	return capture.Packet{Time: wireT0.Add(time.Duration(ms * 1e6)), Kind: capture.KindAnnouncement,
		SrcIP: netip.MustParseAddr(src), DstIP: wireGroup.Addr, Group: wireGroup, DstPort: wireGroup.Port, PayloadLen: 100}
}

// join is src's IGMP join of the group at ms since t0.
func join(src string, ms float64) capture.Packet {
	return capture.Packet{Time: wireT0.Add(time.Duration(ms * 1e6)), Kind: capture.KindMembership,
		SrcIP: netip.MustParseAddr(src), Events: []capture.Membership{{Op: capture.OpJoin, Group: wireGroup.Addr, Version: 3}}}
}

// every is src's announcements at first + k·5000 ms for k in [from, to].
func every(src string, first float64, from, to int, skip ...int) []capture.Packet {
	var out []capture.Packet
next:
	for k := from; k <= to; k++ {
		for _, s := range skip {
			if s == k {
				continue next
			}
		}
		out = append(out, ann(src, first+float64(k)*5000))
	}
	return out
}

func cat(ps ...[]capture.Packet) []capture.Packet {
	var out []capture.Packet
	for _, p := range ps {
		out = append(out, p...)
	}
	return out
}

func TestExplainSplitsEveryDiscovery(t *testing.T) {
	const A, B = "10.100.0.7", "10.100.1.9"
	tests := []struct {
		name       string
		pkts       []capture.Packet
		discovered float64
		want       *results.WireTiming // nil: no split
	}{
		{"joined then the next announcement", cat([]capture.Packet{join(A, 800)}, every(A, 1000, 0, 3), every(B, 700, -4, 3)),
			5710, &results.WireTiming{ReadyMS: 800, ReadyBy: "igmp-join", FirstMS: 5700, PeriodMS: 5000, StartupMS: 800, WaitMS: 4900, ProcessingMS: 10}},
		{"one lost in the window", cat([]capture.Packet{join(A, 500)}, every(A, 1000, 0, 3), every(B, 700, -4, 3, 0)),
			5712, &results.WireTiming{ReadyMS: 500, ReadyBy: "igmp-join", FirstMS: 5700, Lost: 1, PeriodMS: 5000, StartupMS: 500, WaitMS: 200, LostMS: 5000, ProcessingMS: 12}},
		{"no join: A's first announcement", cat(every(A, 300, 0, 3), every(B, 700, -4, 3)),
			704, &results.WireTiming{ReadyMS: 300, ReadyBy: "announcement", FirstMS: 700, PeriodMS: 5000, StartupMS: 300, WaitMS: 400, ProcessingMS: 4}},
		{"heard before its first announcement", cat(every(A, 2000, 0, 3), every(B, 1500, -4, 3)),
			1510, &results.WireTiming{ReadyMS: 1500, ReadyBy: "heard", FirstMS: 1500, PeriodMS: 5000, StartupMS: 1500, ProcessingMS: 10}},
		{"A never on the wire", every(B, 700, -4, 3), 710, nil},
		{"discovery the wire cannot explain", cat([]capture.Packet{join(A, 800)}, every(A, 1000, 0, 3), every(B, -4300, -3, 0)), 500, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &results.Run{Peers: []results.PeerTiming{{Peer: "b", DiscoveredMS: new(tt.discovered)}}}
			wr := &results.WireRun{}
			explain(wireInput{group: wireGroup, nodeA: "a", clusters: wireClusters(), pkts: tt.pkts, t0: wireT0,
				period: 5 * time.Second, endMS: 20000, toMS: func(x time.Time) float64 { return msOf(x.Sub(wireT0)) }}, wr, run)
			got := run.Peers[0].Wire
			if tt.want == nil {
				if got != nil {
					t.Fatalf("split %+v, want none", *got)
				}
				return
			}
			if got == nil {
				t.Fatal("no split")
			}
			if !near(*got, *tt.want) {
				t.Errorf("split\n got %+v\nwant %+v", *got, *tt.want)
			}
			if math.Abs(got.Sum()-tt.discovered) > 1e-6 {
				t.Errorf("parts sum to %v, discovery %v", got.Sum(), tt.discovered)
			}
		})
	}
}

// near compares two splits to 1 µs.
func near(a, b results.WireTiming) bool {
	f := func(x, y float64) bool { return math.Abs(x-y) < 1e-3 }
	return a.ReadyBy == b.ReadyBy && a.Lost == b.Lost && f(a.ReadyMS, b.ReadyMS) && f(a.FirstMS, b.FirstMS) &&
		f(a.PeriodMS, b.PeriodMS) && f(a.StartupMS, b.StartupMS) && f(a.WaitMS, b.WaitMS) && f(a.LostMS, b.LostMS) && f(a.ProcessingMS, b.ProcessingMS)
}

func TestExplainRunFigures(t *testing.T) {
	const A, B, C = "10.100.0.7", "10.100.1.9", "10.100.2.3"
	pkts := cat([]capture.Packet{join(A, 500)}, every(A, 600, 0, 3), every(B, 700, -4, 3, 1), every(C, 1200, -4, 3),
		every("10.200.0.1", 100, 0, 3), // another lab's sender
		[]capture.Packet{{Time: wireT0.Add(time.Second), Kind: capture.KindQuery, SrcIP: netip.MustParseAddr("172.30.0.1")}})
	run := &results.Run{Peers: []results.PeerTiming{
		{Peer: "b", DiscoveredMS: new(710.0), ReverseMS: new(608.0)},
		{Peer: "c", DiscoveredMS: new(1205.0)},
	}}
	wr := &results.WireRun{}
	in := wireInput{group: wireGroup, nodeA: "a", clusters: wireClusters(), pkts: pkts, t0: wireT0,
		period: 5 * time.Second, endMS: 16000, toMS: func(x time.Time) float64 { return msOf(x.Sub(wireT0)) }}
	explain(in, wr, run)
	// The impairment counters' window is B's, 4.5 s before t0 to 20 s.
	if n, sent := lostIn(in, win(wireT0.Add(-4500*time.Millisecond), wireT0.Add(20*time.Second), "b")); n != 1 || sent != 4 {
		t.Errorf("B's counter window: lost %d sent %d, want 1 and 4", n, sent)
	}
	// C's first announcements in the window without history before it: a
	// peer announced all along, so the two due before 1.2 s were lost.
	var late []capture.Packet
	for _, p := range pkts {
		if p.Time.After(wireT0.Add(-5 * time.Second)) {
			late = append(late, p)
		}
	}
	lateIn := in
	lateIn.pkts = late
	if n, sent := lostIn(lateIn, win(wireT0.Add(-9900*time.Millisecond), wireT0.Add(11*time.Second), "c")); n != 1 || sent != 3 {
		t.Errorf("C's counter window without history: lost %d sent %d, want 1 (due at -8.8 s) and 3", n, sent)
	}
	// Read 10.3 s after B's last announcement: the two due since are lost.
	if n, sent := lostIn(in, win(wireT0.Add(-4500*time.Millisecond), wireT0.Add(26*time.Second), "b")); n != 3 || sent != 4 {
		t.Errorf("B's counter window to 26 s: lost %d sent %d, want 3 and 4", n, sent)
	}
	if n, sent := lostIn(in, win(wireT0.Add(-20*time.Second), wireT0.Add(20*time.Second), "c", "a")); n != 0 || sent != 12 {
		t.Errorf("A's and C's counter window: lost %d sent %d, want 0 and 12", n, sent)
	}
	// In [t0, 16 s]: A join + 4, B 3 (one lost), C 3, the other lab's 4, the query.
	if wr.Lost != 1 {
		t.Errorf("lost %d, want 1 (B's at 5.7 s)", wr.Lost)
	}
	if wr.Packets != 16 {
		t.Errorf("packets %d, want 16", wr.Packets)
	}
	want := []results.WireSender{{Cluster: "a", Address: A, Announcements: 4, Bytes: 400}, {Cluster: "b", Address: B, Announcements: 3, Bytes: 300},
		{Cluster: "c", Address: C, Announcements: 3, Bytes: 300}}
	wantPhase := []float64{600, 700, 1200}
	if len(wr.Senders) != len(want) {
		t.Fatalf("senders %+v", wr.Senders)
	}
	for i, s := range wr.Senders {
		if s.Cluster != want[i].Cluster || s.Address != want[i].Address || s.Announcements != want[i].Announcements || s.Bytes != want[i].Bytes || ms(s.PhaseMS) != wantPhase[i] {
			t.Errorf("sender %d: %+v phase %v, want %+v phase %v", i, s, ms(s.PhaseMS), want[i], wantPhase[i])
		}
	}
	// The window (500 ms, 16 s): B sent 700, 10700, 15700 and lost 5700;
	// C sent 1200, 6200, 11200: 1 lost of 7.
	if wr.WindowLossPct == nil || math.Abs(*wr.WindowLossPct-100.0/7) > 1e-9 {
		t.Errorf("window loss %v, want %v", ms(wr.WindowLossPct), 100.0/7)
	}
	rw := run.Peers[0].ReverseWire
	if rw == nil || rw.ReadyBy != "listening" || rw.FirstMS != 600 || rw.StartupMS != 600 || math.Abs(rw.ProcessingMS-8) > 1e-9 || math.Abs(rw.Sum()-608) > 1e-9 {
		t.Errorf("reverse split %+v", rw)
	}
	if run.Peers[1].ReverseWire != nil {
		t.Errorf("c has no reverse time but a split %+v", run.Peers[1].ReverseWire)
	}
}

// fakeWire plays, for every run, A joining at 500 ms and announcing from
// 600 ms, b announcing at 790 ms and c at 1290 ms (and every 5 s around
// them), relative to the run's t0 (the run's first clock sample, taken
// right after t0 on the test clock, which stands still meanwhile).
type fakeWire struct {
	clk    *testClock
	mu     sync.Mutex
	clocks int
	// play, when set, replaces the default packets (times relative to
	// wireT0, shifted to the run's t0).
	play []capture.Packet
	t0   time.Time // the run's t0: the first clock sample of each run
}

func (w *fakeWire) Interface() string { return "br-fake" }
func (w *fakeWire) Clock() (capture.Clocks, error) {
	now := w.clk.Now()
	w.mu.Lock()
	w.clocks++
	if w.clocks%2 == 1 { // the runner samples right after t0, then at the end
		w.t0 = now
	}
	w.mu.Unlock()
	return capture.Clocks{Realtime: now, Monotonic: now.Sub(w.clk.base) + time.Hour, Uncertainty: time.Microsecond}, nil
}
func (w *fakeWire) Stats() capture.Stats { return capture.Stats{} }
func (w *fakeWire) Packets(_, _ time.Time) []capture.Packet {
	w.mu.Lock()
	t0 := w.t0
	w.mu.Unlock()
	shift := func(ps []capture.Packet) []capture.Packet {
		for i := range ps {
			ps[i].Time = t0.Add(ps[i].Time.Sub(wireT0))
		}
		return ps
	}
	if w.play != nil {
		return shift(append([]capture.Packet(nil), w.play...))
	}
	return shift(cat([]capture.Packet{join("10.100.0.7", 500)}, every("10.100.0.7", 600, 0, 3),
		every("10.100.1.9", 790, -3, 3), every("10.100.2.3", 1290, -3, 3)))
}

func TestRunRecordsWire(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b", "c")
	w := &fakeWire{clk: clk}
	r, err := New(testScenario(2, 0), lab.clusters, Options{Interface: "eth1", Clock: clk, Wire: w})
	if err != nil {
		t.Fatal(err)
	}
	var seq atomic.Int64
	lab.onStart = standardWorld(r, clk, &seq)
	dir := t.TempDir()
	if _, err := r.Run(context.Background(), Campaign{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	runs := readRuns(t, dir)
	if len(runs) != 2 || w.clocks != 4 {
		t.Fatalf("%d runs, %d clock samples; want 2 and 4 (start and end of each run)", len(runs), w.clocks)
	}
	// standardWorld: b found at 800, c at 1300; they found A at 1000, 1500.
	want := map[string][2]float64{"b": {790, 10}, "c": {1290, 10}}
	for _, run := range runs {
		if run.Wire == nil || run.Wire.Interface != "br-fake" || run.Wire.Group != "239.11.11.2:4001" || len(run.Wire.Senders) != 3 {
			t.Fatalf("run %d wire %+v", run.Index, run.Wire)
		}
		for _, p := range run.Peers {
			pw, rw := p.Wire, p.ReverseWire
			if pw == nil || rw == nil {
				t.Fatalf("run %d peer %s: split %v reverse %v", run.Index, p.Peer, pw, rw)
			}
			if pw.ReadyMS != 500 || pw.ReadyBy != "igmp-join" || pw.FirstMS != want[p.Peer][0] || math.Abs(pw.ProcessingMS-want[p.Peer][1]) > 1e-6 ||
				math.Abs(pw.Sum()-ms(p.DiscoveredMS)) > 1e-6 {
				t.Errorf("run %d peer %s: split %+v of %v", run.Index, p.Peer, *pw, ms(p.DiscoveredMS))
			}
			if rw.FirstMS != 600 || math.Abs(rw.Sum()-ms(p.ReverseMS)) > 1e-6 {
				t.Errorf("run %d peer %s: reverse split %+v of %v", run.Index, p.Peer, *rw, ms(p.ReverseMS))
			}
		}
	}
}

// BenchmarkExplain24Peers is the per-run cost of the wire split on the
// reference scale: 24 clusters announcing every 5 s over 15 s of history
// and a 60 s run.
func BenchmarkExplain24Peers(b *testing.B) {
	var clusters []Cluster
	var pkts []capture.Packet
	var peers []results.PeerTiming
	for i := range 24 {
		name := fmt.Sprintf("c%02d", i)
		clusters = append(clusters, Cluster{Name: name, Macvlan: netip.MustParsePrefix(fmt.Sprintf("10.100.%d.0/24", i))})
		src := fmt.Sprintf("10.100.%d.101", i)
		pkts = append(pkts, every(src, float64(i*200+50), -3, 12)...)
		if i == 0 {
			pkts = append(pkts, join(src, 20))
		} else {
			peers = append(peers, results.PeerTiming{Peer: name, DiscoveredMS: new(float64(i*200 + 55)), ReverseMS: new(float64(i*200 + 80))})
		}
	}
	in := wireInput{group: wireGroup, nodeA: "c00", clusters: clusters, pkts: pkts, t0: wireT0, period: 5 * time.Second, endMS: 60000,
		toMS: func(x time.Time) float64 { return msOf(x.Sub(wireT0)) }}
	b.ReportAllocs()
	for b.Loop() {
		run := &results.Run{Peers: append([]results.PeerTiming(nil), peers...)}
		explain(in, &results.WireRun{}, run)
		if run.Peers[22].Wire == nil {
			b.Fatal("not explained")
		}
	}
	b.ReportMetric(float64(len(pkts)), "packets/run")
}

// TestRunCountsLossInTheCounterWindow: b announces every second on the
// wire but for one at t0+2.1 s, inside the impairment's counter window
// whatever the random pause; c is not impaired.
func TestRunCountsLossInTheCounterWindow(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b", "c")
	cond := scenarios.Condition{Name: "loss-25", Runs: 2, Target: scenarios.TargetPeers, Impairment: impair.Spec{LossPct: 25, Seed: 7}}
	s := testScenario(0, 0, cond)
	s.Measurements = []string{scenarios.MeasureDiscovery}
	s.Protocol.AnnounceInterval = time.Second
	imp := newFakeImpairment()
	w := &fakeWire{clk: clk, play: cat([]capture.Packet{join("10.100.0.7", 50)}, every("10.100.0.7", 60, 0, 8),
		everyP("10.100.1.9", 100, 1000, -20, 10, 2), everyP("10.100.2.3", 300, 1000, -20, 10))}
	r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk, Wire: w, Impairments: func(impair.Spec) (impair.Impairment, error) { return imp, nil }})
	if err != nil {
		t.Fatal(err)
	}
	var seq atomic.Int64
	lab.onStart = func(l *fakeLab) {
		waitState(r, func(s *runState) bool { return s.started != nil })
		clk.Advance(5200 * time.Millisecond)
		l.create("a", "b", "i"+time.Duration(seq.Add(1)).String(), 0)
		l.create("a", "c", "j"+time.Duration(seq.Add(1)).String(), 0)
	}
	dir := t.TempDir()
	if _, err := r.Run(context.Background(), Campaign{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	for _, run := range readRuns(t, dir) {
		if run.Wire == nil || run.Wire.CounterWindowLost == nil || *run.Wire.CounterWindowLost != 1 {
			t.Errorf("run %d: wire %+v", run.Index, run.Wire)
		}
	}
}

// everyP is every with period ms.
func everyP(src string, first, period float64, from, to int, skip ...int) []capture.Packet {
	out := every(src, 0, from, to, skip...)
	for i := range out {
		k := float64(out[i].Time.Sub(wireT0)) / 5e9
		out[i].Time = wireT0.Add(time.Duration((first + k*period) * 1e6))
	}
	return out
}

// win is the same counter window (from, to) for every named cluster.
func win(from, to time.Time, clusters ...string) map[string][2]time.Time {
	out := map[string][2]time.Time{}
	for _, c := range clusters {
		out[c] = [2]time.Time{from, to}
	}
	return out
}

// stallWire is a wire whose clock samples stall the runner's clock (a
// descheduled thread) after reading it, by the next of stalls each.
type stallWire struct {
	fakeWire
	stalls  []time.Duration
	samples []time.Time // the realtime each sample read
}

func (w *stallWire) Clock() (capture.Clocks, error) {
	now := w.clk.Now()
	w.samples = append(w.samples, now)
	if len(w.stalls) > 0 {
		w.clk.Advance(w.stalls[0])
		w.stalls = w.stalls[1:]
	}
	return capture.Clocks{Realtime: now, Monotonic: now.Sub(w.clk.base), Uncertainty: time.Microsecond}, nil
}

// The wire's clock sample is placed on the runner's clock by the tightest
// bracket: a stall after a sample is measured and the sample taken again.
func TestMarkWireBracketsTheSample(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stalls    []time.Duration
		samples   int
		wantError time.Duration // |since - (sample - t0)| at most
	}{
		{"no stall", nil, 1, 0},
		{"one 40 ms stall, then tight", []time.Duration{40 * time.Millisecond, 0}, 2, 0},
		{"stalls every time: the tightest kept", msList(40, 30, 20, 6, 9, 8, 7, 10), wireSampleTries, 3 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newTestClock()
			w := &stallWire{fakeWire: fakeWire{clk: clk}, stalls: tc.stalls}
			lab := newFakeLab(t, clk, "a", "b")
			r, err := New(testScenario(1, 0), lab.clusters, Options{Interface: "eth1", Clock: clk, Wire: w})
			if err != nil {
				t.Fatal(err)
			}
			st := newRunState("a", []string{"b"}, false)
			st.t0 = clk.Now()
			clk.Advance(5 * time.Millisecond) // the sample comes a little after t0
			r.markWire(st)
			if !st.wire.ok || len(w.samples) != tc.samples {
				t.Fatalf("ok %v, %d samples, want %d", st.wire.ok, len(w.samples), tc.samples)
			}
			kept := st.wire.clocks.Realtime
			if got := st.wire.since - kept.Sub(st.t0); got < -tc.wantError || got > tc.wantError {
				t.Errorf("since %v for a sample %v after t0: off by %v, want within %v", st.wire.since, kept.Sub(st.t0), got, tc.wantError)
			}
		})
	}
}

func msList(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}
