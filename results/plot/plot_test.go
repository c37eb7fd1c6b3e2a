package plot

import (
	"bytes"
	"image/png"
	"slices"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results/internal/svgtest"
	"github.com/fluidos-lab/testbed/results/stats"
)

func TestFigures(t *testing.T) {
	c := stats.Synthesize(stats.SynthOptions{Seed: 5, Peers: 6, Runs: 40, LossPcts: []float64{0, 10, 30},
		IntervalMS: 5000, StartupMS: 900, TimeoutMS: 30000})
	s := stats.Analyze(c)
	cs := &s.Conditions[2]
	kWithData := 0
	for _, k := range cs.ByK {
		if k.N > 0 {
			kWithData++
		}
	}
	mk := func(f *Figure, err error) *Figure {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	sweep := []SweepPoint{
		{Clusters: 6, Condition: "loss-0", LossPct: 0, Stats: stats.Dist{N: 5, Median: 3500, P90: 5500}, Responsiveness: 0.9},
		{Clusters: 3, Condition: "loss-0", LossPct: 0, Stats: stats.Dist{N: 5, Median: 3000, P90: 5000}, Responsiveness: 1},
		{Clusters: 3, Condition: "loss-10", LossPct: 10, Stats: stats.Dist{N: 5, Median: 4000, P90: 9000}, Responsiveness: 0.8},
		{Clusters: 6, Condition: "loss-10", LossPct: 10, Stats: stats.Dist{N: 5, Median: 4500, P90: 9500}, Responsiveness: 0.6},
		{Clusters: 12, Condition: "loss-10", LossPct: 10, Stats: stats.Dist{N: 0}},
	}
	tests := []struct {
		fig           *Figure
		curves, boxes int
	}{
		{mk(CDF(s.Conditions)), 6, 0},            // measured + model per condition
		{mk(Responsiveness(s.Conditions)), 6, 0}, // one peer + all peers per condition
		{mk(RunCurves(cs, 10)), 10, 0},
		{mk(RunCurves(cs, 100)), 40, 0},
		{mk(Box(cs)), 1, kWithData}, // boxes + model median line
		{mk(Sweep("all-peers time", sweep)), 4, 0},
		{mk(SweepResponsiveness("reference-agent", sweep)), 2, 0}, // one line per condition
		{phaseFig(t), 0, stats.PhaseBins},
	}
	for _, tc := range tests {
		if tc.fig.Curves != tc.curves || tc.fig.Boxes != tc.boxes {
			t.Errorf("%s: curves=%d boxes=%d, want %d, %d", tc.fig.Name, tc.fig.Curves, tc.fig.Boxes, tc.curves, tc.boxes)
		}
		svg, err := tc.fig.SVG()
		if err != nil {
			t.Fatal(err)
		}
		svgtest.Check(t, tc.fig.Name, svg)
		pb, err := tc.fig.PNG()
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(pb))
		if err != nil {
			t.Fatalf("%s: PNG: %v", tc.fig.Name, err)
		}
		if img.Bounds().Dx() < 500 {
			t.Errorf("%s: PNG only %d px wide", tc.fig.Name, img.Bounds().Dx())
		}
	}
	if kWithData != 6 {
		t.Errorf("box test data has %d k values with data, want 6", kWithData)
	}
	h := mk(Histogram(cs))
	if h.Boxes < 5 {
		t.Errorf("histogram has %d bins", h.Boxes)
	}
}

// phaseFig is the phase histogram of a locked condition: 9 runs in one bin.
func phaseFig(t *testing.T) *Figure {
	t.Helper()
	hist := make([]int, stats.PhaseBins)
	hist[7] = 9
	cs := &stats.Condition{Name: "loss-0", Runs: 10, PhaseHist: hist, PhaseBinMS: 250, OffCycleRuns: 1}
	f := Phase(cs)
	if f == nil {
		t.Fatal("Phase returned no figure for a condition with phases")
	}
	if Phase(&stats.Condition{Name: "old"}) != nil {
		t.Error("Phase drew a figure for a condition that records no phase")
	}
	return f
}

// TestIntegerTicks: count axes get whole-number labels only, with minor
// ticks only between labels at least 2 apart.
func TestIntegerTicks(t *testing.T) {
	cases := []struct {
		lo, hi float64
		labels []string
	}{
		{0, 3, []string{"0", "1", "2", "3"}},
		{0, 2.5, []string{"0", "1", "2"}},
		{0, 23, []string{"0", "5", "10", "15", "20"}},
	}
	for _, tc := range cases {
		var got []string
		for _, tk := range (niceTicks{n: 6, integer: true}).Ticks(tc.lo, tc.hi) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			} else if tk.Value != float64(int(tk.Value)) && tc.hi < 6 {
				t.Errorf("[%v, %v]: minor tick at %v on a unit axis", tc.lo, tc.hi, tk.Value)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.labels, ",") {
			t.Errorf("[%v, %v]: labels %v, want %v", tc.lo, tc.hi, got, tc.labels)
		}
	}
}

// TestLargeSampleFiguresStayBounded: a condition of 10^5 pooled samples
// draws at most MaxPoints points per curve, so the CDF's SVG is about the
// size of a small campaign's (it was 633 MB at 10^6 runs), and the thinned
// CDF keeps the sample's exact minimum, maximum and median step.
func TestLargeSampleFiguresStayBounded(t *testing.T) {
	c := stats.Synthesize(stats.SynthOptions{Seed: 9, Peers: 23, Runs: 5000, LossPcts: []float64{10},
		IntervalMS: 5000, StartupMS: 900, TimeoutMS: 60000})
	s := stats.Analyze(c)
	cs := &s.Conditions[0]
	if n := len(cs.Samples.AnyPeer); n < 100000 {
		t.Fatalf("only %d samples", n)
	}
	cdf, err := CDF(s.Conditions)
	if err != nil {
		t.Fatal(err)
	}
	svg, err := cdf.SVG()
	if err != nil {
		t.Fatal(err)
	}
	if len(svg) > 1<<20 {
		t.Errorf("CDF of %d samples is %d bytes of SVG, want under 1 MiB", len(cs.Samples.AnyPeer), len(svg))
	}
	box, err := Box(cs)
	if err != nil {
		t.Fatal(err)
	}
	bsvg, err := box.SVG()
	if err != nil {
		t.Fatal(err)
	}
	if len(bsvg) > 2<<20 || !strings.Contains(box.Caption, "evenly spaced order statistics") {
		t.Errorf("box plot: %d bytes, caption %q", len(bsvg), box.Caption)
	}
	idx := thinIndex(100001, MaxPoints)
	if len(idx) != MaxPoints || idx[0] != 0 || idx[len(idx)-1] != 100000 {
		t.Errorf("thinIndex: %d indices from %d to %d", len(idx), idx[0], idx[len(idx)-1])
	}
	for i := 1; i < len(idx); i++ {
		if idx[i] <= idx[i-1] {
			t.Fatalf("thinIndex not increasing at %d", i)
		}
	}
}

// TestSortedHist: the histogram of a sorted sample counts every value once,
// in sqrt(n) bins between 5 and 60, the maximum in the last bin.
func TestSortedHist(t *testing.T) {
	cases := []struct {
		s    []float64
		bins int
		want []float64 // counts, when checked
	}{
		{[]float64{1000, 1000, 1000}, 5, nil},
		{[]float64{0, 1000, 2000, 3000, 4000, 5000}, 5, []float64{1, 1, 1, 1, 2}},
		{make([]float64, 10000), 60, nil},
	}
	for i := range cases[2].s {
		cases[2].s[i] = float64(i)
	}
	for _, tc := range cases {
		h := sortedHist(tc.s)
		total := 0.0
		var got []float64
		for _, b := range h.Bins {
			total += b.Weight
			got = append(got, b.Weight)
		}
		if len(h.Bins) != tc.bins || total != float64(len(tc.s)) {
			t.Errorf("%d values: %d bins holding %v, want %d bins holding all", len(tc.s), len(h.Bins), total, tc.bins)
		}
		if tc.want != nil && !slices.Equal(got, tc.want) {
			t.Errorf("counts %v, want %v", got, tc.want)
		}
	}
}
