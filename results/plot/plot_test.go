package plot

import (
	"bytes"
	"image/png"
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
