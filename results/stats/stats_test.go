package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/store"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestQuantileType7(t *testing.T) {
	oneToTen := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name string
		x    []float64
		p    float64
		want float64
	}{
		// Hand computed: h = (n-1)p, x[⌊h⌋] + frac(h)·(x[⌊h⌋+1]-x[⌊h⌋]).
		{"1..10 p25", oneToTen, 0.25, 3.25},
		{"1..10 median", oneToTen, 0.5, 5.5},
		{"1..10 p75", oneToTen, 0.75, 7.75},
		{"1..10 p90", oneToTen, 0.90, 9.1},
		{"1..10 p99", oneToTen, 0.99, 9.91},
		{"1..10 p0", oneToTen, 0, 1},
		{"1..10 p100", oneToTen, 1, 10},
		{"uneven p25", []float64{10, 20, 40}, 0.25, 15},
		{"uneven p75", []float64{10, 20, 40}, 0.75, 30},
		{"uneven p90", []float64{10, 20, 40}, 0.9, 36},
		{"single", []float64{7}, 0.9, 7},
		{"clamped", []float64{1, 2}, 1.5, 2},
	}
	for _, tc := range tests {
		if got := Quantile(tc.x, tc.p); !near(got, tc.want, 1e-12) {
			t.Errorf("%s: Quantile = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !math.IsNaN(Quantile(nil, 0.5)) {
		t.Error("Quantile of empty sample is not NaN")
	}
}

func TestDescribe(t *testing.T) {
	d := Describe([]float64{10, 3, 7, 1, 9, 2, 8, 4, 6, 5})
	want := Dist{N: 10, Min: 1, P25: 3.25, Median: 5.5, P75: 7.75, P90: 9.1, P99: 9.91, Max: 10, Mean: 5.5, Stdev: math.Sqrt(55.0 / 6), IQR: 4.5}
	if d.N != want.N || d.Min != want.Min || d.Max != want.Max {
		t.Fatalf("Describe = %+v", d)
	}
	for _, name := range StatNames() {
		g, _ := d.Stat(name)
		w, _ := want.Stat(name)
		if !near(g, w, 1e-9) {
			t.Errorf("%s = %v, want %v", name, g, w)
		}
	}
	if (Describe(nil) != Dist{}) {
		t.Error("Describe(nil) is not zero")
	}
	if _, ok := d.Stat("p42"); ok {
		t.Error("unknown stat accepted")
	}
}

func TestModelCDF(t *testing.T) {
	tests := []struct {
		m    Model
		d    float64
		want float64
	}{
		{Model{IntervalMS: 1000, Loss: 0, StartupMS: 500}, 400, 0},
		{Model{IntervalMS: 1000, Loss: 0, StartupMS: 500}, 750, 0.25},
		{Model{IntervalMS: 1000, Loss: 0, StartupMS: 500}, 1500, 1},
		// p=0.5, x=1.5: P(G=0)·1 + P(G=1)·P(U≤0.5) = 0.5 + 0.25·0.5.
		{Model{IntervalMS: 1000, Loss: 0.5}, 1500, 0.625},
		// p=0.1, x=2.25: 1 - 0.01 + 0.01·0.9·0.25.
		{Model{IntervalMS: 2000, Loss: 0.1}, 4500, 0.99225},
	}
	for _, tc := range tests {
		if got := tc.m.PeerCDF(tc.d); !near(got, tc.want, 1e-12) {
			t.Errorf("%+v PeerCDF(%v) = %v, want %v", tc.m, tc.d, got, tc.want)
		}
	}
	m := Model{IntervalMS: 1000, Loss: 0.2, StartupMS: 100}
	for _, d := range []float64{300, 900, 1700, 4000} {
		f := m.PeerCDF(d)
		if got := m.KthCDF(1, 1, d); !near(got, f, 1e-12) {
			t.Errorf("KthCDF(1,1) = %v, want %v", got, f)
		}
		if got := m.KthCDF(3, 3, d); !near(got, f*f*f, 1e-12) {
			t.Errorf("KthCDF(3,3) = %v, want %v", got, f*f*f)
		}
		if got := m.KthCDF(1, 3, d); !near(got, 1-math.Pow(1-f, 3), 1e-12) {
			t.Errorf("KthCDF(1,3) = %v, want %v", got, 1-math.Pow(1-f, 3))
		}
		if q := m.Quantile(f); !near(q, d, 1e-6) {
			t.Errorf("Quantile(PeerCDF(%v)) = %v", d, q)
		}
	}
}

func TestModelKS(t *testing.T) {
	m := Model{IntervalMS: 5000, Loss: 0.25, StartupMS: 1000}
	rng := rand.New(rand.NewPCG(42, 1))
	const n = 3000
	var same, shifted []float64
	for i := 0; i < n; i++ {
		x := m.Sample(rng)
		same = append(same, x)
		shifted = append(shifted, x+2000)
	}
	sort.Float64s(same)
	sort.Float64s(shifted)
	// The 99 % critical value of the one-sample KS test is 1.63/√n ≈ 0.030.
	if d := KSDistance(same, m.PeerCDF); d > 0.03 {
		t.Errorf("KS of model samples = %.4f, want < 0.03", d)
	}
	if d := KSDistance(shifted, m.PeerCDF); d < 0.15 {
		t.Errorf("KS of shifted samples = %.4f, want > 0.15", d)
	}
	s, d := m.FitStartup(shifted)
	if !near(s, 3000, 150) || d > 0.03 {
		t.Errorf("FitStartup(shifted) = %.0f ms, KS %.4f; want ≈3000, < 0.03", s, d)
	}
}

func TestAnalyzeHandMade(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	c := &store.Campaign{
		Manifest: results.Manifest{Campaign: "hand", Phase: "random", Peers: []string{"b", "c"}, AnnounceIntervalMS: 1000,
			Conditions: []results.Condition{{Name: "loss-10", Impairment: results.Impairment{Backend: "nftables", LossPct: 10}}}},
		Runs: []results.Run{
			{Condition: "loss-10", Index: 0, Warmup: true, Peers: []results.PeerTiming{{Peer: "b", DiscoveredMS: f(1)}}},
			{Condition: "loss-10", Index: 1, Pod: results.PodTimeline{ContainerStartMS: f(500)}, EndMS: 60500,
				Impairment: results.Impairment{AchievedLossPct: f(8)},
				Peers: []results.PeerTiming{{Peer: "b", DiscoveredMS: f(1000)}, {Peer: "c", DiscoveredMS: f(3000),
					Flaps: []results.Flap{{Observer: "a", Subject: "c", DeletedMS: 20000}}}}},
			{Condition: "loss-10", Index: 2, Pod: results.PodTimeline{ContainerStartMS: f(700)}, EndMS: 60000,
				Impairment: results.Impairment{AchievedLossPct: f(12)},
				Peers:      []results.PeerTiming{{Peer: "c", DiscoveredMS: f(2000)}, {Peer: "b", DiscoveredMS: f(4000)}}},
			{Condition: "loss-10", Index: 3, Pod: results.PodTimeline{ContainerStartMS: f(600), LeaveMS: f(30000)}, EndMS: 60000, TimedOut: true,
				Peers: []results.PeerTiming{{Peer: "b", DiscoveredMS: f(6000), GoneMS: f(41000)}}, Missing: []string{"c"}},
			{Condition: "loss-10", Index: 4, Aborted: true},
		},
	}
	s := Analyze(c)
	if len(s.Conditions) != 1 {
		t.Fatalf("conditions = %d", len(s.Conditions))
	}
	cs := s.Conditions[0]
	if cs.Runs != 3 || cs.WarmupRuns != 1 || cs.AbortedRuns != 1 || cs.TimedOutRuns != 1 || cs.MissingPeers != 1 || cs.Peers != 2 {
		t.Fatalf("counts: %+v", cs)
	}
	check := func(name string, got, want float64) {
		t.Helper()
		if !near(got, want, 1e-9) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("first median", cs.FirstPeer.Median, 2000) // {1000, 2000, 6000}
	check("first max", cs.FirstPeer.Max, 6000)
	check("all n", float64(cs.AllPeers.N), 2) // {3000, 4000}
	check("all median", cs.AllPeers.Median, 3500)
	check("k2 n", float64(cs.ByK[1].N), 2)
	check("k2 missing", float64(cs.ByK[1].Missing), 1)
	check("peer b median", cs.ByPeer[0].Median, 4000) // b: {1000, 4000, 6000}
	check("peer c missing", float64(cs.ByPeer[1].Missing), 1)
	check("container median", cs.ContainerStart.Median, 600)
	// protocol: 500,2500 | 1300,3300 | 5400
	check("protocol median", cs.Protocol.Median, 2500)
	check("achieved loss", *cs.AchievedLossPct, 10)
	check("gone after leave n", float64(cs.GoneAfterLeave.N), 1)
	check("gone after leave", cs.GoneAfterLeave.Median, 11000)
	check("flaps", float64(cs.Flaps), 1)
	// peer-minutes: (59500+57500+58000+56000+54000)/60000
	check("peer minutes", cs.PeerMinutes, 285000.0/60000)
	check("flap rate", cs.FlapRate, 60000.0/285000)
	// Responsiveness: 5 of 6 (run, peer) pairs by the end; 2 of 3 runs all.
	last := cs.Responsiveness[len(cs.Responsiveness)-1]
	check("responsiveness end", last.Y, 5.0/6)
	check("responsiveness end d", last.X, 6000)
	check("all responsiveness end", cs.AllResponsiveness[len(cs.AllResponsiveness)-1].Y, 2.0/3)
	if cs.PhaseLabel != "random phase" || cs.Backend != "nftables" || cs.RequestedLossPct != 10 {
		t.Errorf("labels: %q %q %v", cs.PhaseLabel, cs.Backend, cs.RequestedLossPct)
	}
	if cs.Model == nil || cs.Model.StartupMS != 600 || cs.Model.LossSource != "achieved" || !near(cs.Model.Loss, 0.1, 1e-12) {
		t.Errorf("model: %+v", cs.Model)
	}
}

func TestAnalyzeSyntheticMatchesModel(t *testing.T) {
	c := Synthesize(SynthOptions{Seed: 7, Peers: 5, Runs: 400, Warmup: 2, LossPcts: []float64{0, 20},
		IntervalMS: 5000, StartupMS: 1000, StartupJitterMS: 0})
	s := Analyze(c)
	for _, cs := range s.Conditions {
		if cs.Runs != 400 || cs.WarmupRuns != 2 {
			t.Fatalf("%s: runs %d warmup %d", cs.Name, cs.Runs, cs.WarmupRuns)
		}
		if cs.Model == nil {
			t.Fatalf("%s: no model", cs.Name)
		}
		// Achieved loss is drawn around the requested loss, so allow some slack.
		if cs.Model.KSPeer > 0.05 {
			t.Errorf("%s: KS peer = %.3f", cs.Name, cs.Model.KSPeer)
		}
		for _, k := range cs.Model.KSByK {
			if k.D > 0.1 {
				t.Errorf("%s: KS k=%d = %.3f", cs.Name, k.K, k.D)
			}
		}
		// Model median vs measured median of a single peer.
		if q := cs.Model.Quantile(0.5); math.Abs(q-cs.AnyPeer.Median) > 250 {
			t.Errorf("%s: model median %.0f vs measured %.0f", cs.Name, q, cs.AnyPeer.Median)
		}
	}
	shifted := Synthesize(SynthOptions{Seed: 7, Peers: 5, Runs: 400, LossPcts: []float64{0}, IntervalMS: 5000, StartupMS: 1000, ShiftMS: 2500})
	if ks := Analyze(shifted).Conditions[0].Model.KSPeer; ks < 0.3 {
		t.Errorf("shifted campaign KS = %.3f, want > 0.3", ks)
	}
}

func TestMedianSelect(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 60; n++ {
		for rep := 0; rep < 5; rep++ {
			s := make([]float64, n)
			for i := range s {
				s[i] = float64(rng.IntN(10)) + rng.Float64()*float64(rep%2) // many ties, or none
			}
			orig := slices.Clone(s)
			sorted := slices.Clone(s)
			sort.Float64s(sorted)
			if got, want := Median(s), Quantile(sorted, 0.5); got != want {
				t.Fatalf("n=%d median=%v want %v (%v)", n, got, want, sorted)
			}
			if !slices.Equal(s, orig) {
				t.Fatalf("n=%d: Median modified its input", n)
			}
			if got, want := Median(sorted), Describe(s).Median; got != want {
				t.Fatalf("n=%d: sorted median=%v, Describe %v", n, got, want)
			}
		}
	}
	if m := Median(nil); !math.IsNaN(m) {
		t.Errorf("Median(nil) = %v, want NaN", m)
	}
	if m := Median([]float64{math.NaN(), 3, math.NaN(), 1}); m != 2 {
		t.Errorf("Median ignoring NaN = %v, want 2", m)
	}
	if m := Median([]float64{math.NaN()}); !math.IsNaN(m) {
		t.Errorf("Median(NaN) = %v, want NaN", m)
	}
}

func TestSortedMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{0, 1, 2, 3, 7, 64, 230} {
		var parts [][]float64
		var all []float64
		for i := 0; i < k; i++ {
			p := make([]float64, rng.IntN(40))
			for j := range p {
				p[j] = float64(rng.IntN(50)) // many ties across parts
			}
			sort.Float64s(p)
			parts = append(parts, p)
			all = append(all, p...)
		}
		sort.Float64s(all)
		s := SortedOf(parts...)
		if got := s.Slice(); !slices.Equal(got, all) && !(len(got) == 0 && len(all) == 0) {
			t.Fatalf("k=%d: merged %v, want %v", k, got, all)
		}
		if s.Len() != len(all) {
			t.Fatalf("k=%d: Len %d", k, s.Len())
		}
		// Describe does not depend on how the sample is held.
		if got, want := s.Describe(), Describe(all); got != want {
			t.Errorf("k=%d: Describe of parts %+v, of the slice %+v", k, got, want)
		}
		if len(all) > 3 {
			ranks := []int{0, 1, 1, len(all) / 2, len(all) - 1}
			got := s.At(ranks)
			for i, r := range ranks {
				if got[i] != all[r] {
					t.Errorf("k=%d: At(%d) = %v, want %v", k, r, got[i], all[r])
				}
			}
		}
	}
}

// TestPhaseHistogram: achieved start phases land in PhaseBins bins of T;
// warm-up runs are left out, off-cycle aligned runs are counted, and runs
// recorded before phases existed leave the histogram nil.
func TestPhaseHistogram(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	run := func(i int, phase *float64, off, warm bool) results.Run {
		r := results.Run{Condition: "loss-0", Index: i, Warmup: warm, Phase: "aligned", PhaseMS: phase,
			Cycle: &results.Cycle{CycleMS: 6000, OffCycle: off}, Peers: []results.PeerTiming{{Peer: "b", DiscoveredMS: f(1000)}}}
		return r
	}
	m := results.Manifest{Phase: "aligned", AnnounceIntervalMS: 5000, Peers: []string{"b"},
		Conditions: []results.Condition{{Name: "loss-0", Runs: 5, Warmup: 1}}}
	c := &store.Campaign{Manifest: m, Runs: []results.Run{
		run(0, f(4999), true, true), // warm-up: not counted
		run(1, f(0), false, false),
		run(2, f(249.9), false, false),
		run(3, f(250), true, false),
		run(4, f(4999.9), false, false),
		run(5, f(12600), false, false), // beyond T: taken mod T (2600 → bin 10)
	}}
	cs := Analyze(c).Conditions[0]
	want := make([]int, PhaseBins)
	want[0], want[1], want[10], want[19] = 2, 1, 1, 1
	if !slices.Equal(cs.PhaseHist, want) || cs.PhaseBinMS != 250 || cs.OffCycleRuns != 1 {
		t.Errorf("phase histogram %v (bin %v ms), off cycle %d; want %v, 250, 1", cs.PhaseHist, cs.PhaseBinMS, cs.OffCycleRuns, want)
	}
	c.Runs = []results.Run{{Condition: "loss-0", Index: 0, Peers: []results.PeerTiming{{Peer: "b", DiscoveredMS: f(1000)}}}}
	if cs := Analyze(c).Conditions[0]; cs.PhaseHist != nil || cs.OffCycleRuns != 0 {
		t.Errorf("a campaign without phases: histogram %v, off cycle %d", cs.PhaseHist, cs.OffCycleRuns)
	}
}

func TestWireSplit(t *testing.T) {
	o := SynthOptions{Seed: 9, Peers: 5, Runs: 30, Warmup: 1, LossPcts: []float64{0, 25}, IntervalMS: 5000, StartupMS: 900, TimeoutMS: 60000}
	plain := Analyze(Synthesize(o))
	o.Wire = true
	s := Analyze(Synthesize(o))
	for i, cs := range s.Conditions {
		if plain.Conditions[i].Wire != nil {
			t.Fatalf("%s: a campaign without capture has a wire split", cs.Name)
		}
		w := cs.Wire
		if w == nil || w.Samples != cs.AnyPeer.N || w.Unexplained != 0 {
			t.Fatalf("%s: wire split %+v for %d samples", cs.Name, w, cs.AnyPeer.N)
		}
		// The means of the parts sum to the mean discovery time.
		if sum := w.StartupMS + w.WaitMS + w.LostMS + w.ProcessingMS; !near(sum, cs.AnyPeer.Mean, 1e-6) {
			t.Errorf("%s: parts sum to %v, mean discovery %v", cs.Name, sum, cs.AnyPeer.Mean)
		}
		// Synthesize puts the creating announcement 1-6 ms before discovery.
		if w.Processing.Min < 1 || w.Processing.Max > 6 || !near(w.ProcessingMS, w.Processing.Mean, 1e-9) {
			t.Errorf("%s: processing %+v, mean %v", cs.Name, w.Processing, w.ProcessingMS)
		}
		if !near(w.AnnouncementsPerSec, 0.2, 1e-9) || !near(w.BytesPerSec, 24, 1e-9) || w.WindowLossPct == nil {
			t.Errorf("%s: rates %v/s %v B/s, window loss %v", cs.Name, w.AnnouncementsPerSec, w.BytesPerSec, w.WindowLossPct)
		}
		if cs.AnyPeer != plain.Conditions[i].AnyPeer {
			t.Errorf("%s: the wire option changed the drawn times", cs.Name)
		}
	}
	if s.Conditions[0].Wire.LostMS != 0 || s.Conditions[1].Wire.LostMS <= 0 {
		t.Errorf("lost periods: %v at 0 %%, %v at 25 %%", s.Conditions[0].Wire.LostMS, s.Conditions[1].Wire.LostMS)
	}
}

func TestAchievedLossIsPooled(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	m := results.Manifest{AnnounceIntervalMS: 5000, Peers: []string{"b"}, Conditions: []results.Condition{{Name: "l", Runs: 2}}}
	run := func(i int, seen, dropped int64) results.Run {
		return results.Run{Condition: "l", Index: i, Peers: []results.PeerTiming{{Peer: "b", DiscoveredMS: f(1000)}},
			Impairment: results.Impairment{Backend: "nftables", PacketsSeen: seen, PacketsDropped: dropped, AchievedLossPct: f(100 * float64(dropped) / float64(seen))}}
	}
	// 1/10 and 30/100: the runs' mean would be 20 %, the pooled ratio is 31/110.
	cs := Analyze(&store.Campaign{Manifest: m, Runs: []results.Run{run(0, 10, 1), run(1, 100, 30)}}).Conditions[0]
	if cs.AchievedLossPct == nil || !near(*cs.AchievedLossPct, 100*31.0/110, 1e-9) {
		t.Errorf("achieved %v, want %v", cs.AchievedLossPct, 100*31.0/110)
	}
}

func TestMeasuredPhaseModel(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	// 60 runs of 5 peers that announce in lock-step: in run r every peer's
	// next announcement after A's ready (900 ms) is at the same phase, so
	// the k-th peer is found when the first is. Independent peers predict
	// a spread the data does not have; the measured phases do not.
	m := results.Manifest{AnnounceIntervalMS: 5000, Peers: []string{"b", "c", "d", "e", "g"}, Conditions: []results.Condition{{Name: "loss-0", Runs: 60}}}
	var runs []results.Run
	for r := range 60 {
		phase := float64((r*2039)%5000) + 0.5
		run := results.Run{Condition: "loss-0", Index: r, EndMS: 40000, Impairment: results.Impairment{Backend: "none"},
			Pod: results.PodTimeline{ContainerStartMS: f(900)}, Wire: &results.WireRun{WindowLossPct: f(0)}}
		for i, p := range m.Peers {
			first := 900 + phase + float64(i) // 1 ms apart
			proc := 3 + float64(r%3)
			run.Peers = append(run.Peers, results.PeerTiming{Peer: p, DiscoveredMS: f(first + proc),
				Wire: &results.WireTiming{ReadyMS: 900, ReadyBy: "igmp-join", FirstMS: first, PeriodMS: 5000, StartupMS: 900, WaitMS: first - 900, ProcessingMS: proc}})
		}
		runs = append(runs, run)
	}
	cs := Analyze(&store.Campaign{Manifest: m, Runs: runs}).Conditions[0]
	if cs.Model == nil || cs.Model.Measured == nil {
		t.Fatalf("no measured-phase model: %+v", cs.Model)
	}
	mf := cs.Model.Measured
	if mf.Runs != 60 || len(mf.KSByK) != 5 || mf.ProcessingMS != 4 {
		t.Errorf("measured fit %+v", mf)
	}
	worstIndep := 0.0
	for _, k := range cs.Model.KSByK {
		worstIndep = math.Max(worstIndep, k.D)
	}
	for _, k := range mf.KSByK {
		if k.D > 0.1 {
			t.Errorf("k=%d: measured-phase KS %.3f, want <= 0.1", k.K, k.D)
		}
	}
	if mf.KSPeer > 0.1 || worstIndep < 0.2 {
		t.Errorf("measured KS one peer %.3f (want <= 0.1); independent model's worst k-th KS %.3f (want > 0.2 on lock-step peers)", mf.KSPeer, worstIndep)
	}
	// With loss the prediction follows the geometric lost periods: the
	// synthetic model campaign (independent peers, 25 % loss) fits too.
	s := Analyze(Synthesize(SynthOptions{Seed: 2, Peers: 4, Runs: 100, LossPcts: []float64{0, 25}, IntervalMS: 5000, StartupMS: 900, TimeoutMS: 60000, Wire: true}))
	for _, c := range s.Conditions {
		for _, k := range c.Model.Measured.KSByK {
			if k.D > 0.15 {
				t.Errorf("synthetic %s k=%d: measured-phase KS %.3f, want <= 0.15", c.Name, k.K, k.D)
			}
		}
	}
}

// TestFaultedRunsAreExcluded marks two runs of a clean condition as
// disturbed by the lab (a peer's node paused; the engine's events lost):
// both analyses leave them out, count them and describe them, and the
// statistics equal those of the campaign without them.
func TestFaultedRunsAreExcluded(t *testing.T) {
	o := SynthOptions{Seed: 11, Peers: 3, Runs: 12, LossPcts: []float64{0}, IntervalMS: 5000, StartupMS: 900}
	c := Synthesize(o)
	c.Runs[3].Faults = []results.LabFault{{AtMS: -27100, Cluster: "p-03", Container: "p-03-control-plane", Event: "pause"}, {AtMS: 2900, Cluster: "p-03", Container: "p-03-control-plane", Event: "unpause"}}
	c.Runs[7].Faults = []results.LabFault{{AtMS: 100, Event: "engine-events-lost", Detail: "unexpected EOF"}}
	s := Analyze(c)
	cs := s.Conditions[0]
	if cs.Runs != 10 || cs.FaultedRuns != 2 || len(cs.Faults) != 2 {
		t.Fatalf("runs %d faulted %d faults %q, want 10, 2, 2", cs.Runs, cs.FaultedRuns, cs.Faults)
	}
	if want := "run 3: p-03-control-plane pause at -27.1 s, p-03-control-plane unpause at 2.9 s"; cs.Faults[0] != want {
		t.Errorf("fault line %q, want %q", cs.Faults[0], want)
	}
	if want := "run 7: engine engine-events-lost (unexpected EOF) at 0.1 s"; cs.Faults[1] != want {
		t.Errorf("fault line %q, want %q", cs.Faults[1], want)
	}
	clean := Synthesize(o)
	clean.Runs = append(append(clean.Runs[:3:3], clean.Runs[4:7]...), clean.Runs[8:]...)
	ref := Analyze(clean).Conditions[0]
	if cs.AllPeers != ref.AllPeers || cs.FirstPeer != ref.FirstPeer {
		t.Errorf("with faulted runs marked: all peers %+v first %+v; without them: %+v %+v", cs.AllPeers, cs.FirstPeer, ref.AllPeers, ref.FirstPeer)
	}
	col := CollectSamples(c)
	refCol := CollectSamples(clean)
	if len(col.Conditions) != 1 || col.Conditions[0].AllPeers.Len() != refCol.Conditions[0].AllPeers.Len() {
		t.Errorf("samples for compare include faulted runs: %d all-peers samples, want %d", col.Conditions[0].AllPeers.Len(), refCol.Conditions[0].AllPeers.Len())
	}
}
