package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"sort"
	"strconv"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/fluidos-lab/testbed/results/stats"
)

// Figure is one plot, ready to render as SVG or PNG. Curves and Boxes count
// the line and box plotters it holds.
type Figure struct {
	Name    string // file stem, e.g. "hist-loss-10"
	Title   string
	Caption string
	Plot    *gplot.Plot
	Width   vg.Length
	Height  vg.Length
	Curves  int
	Boxes   int
}

// SVG renders the figure as SVG (fonts referenced by name, not embedded).
func (f *Figure) SVG() ([]byte, error) { return f.render("svg") }

// PNG renders the figure as PNG at 96 dpi (fast compression: the plots
// are flat colour and compress well anyway).
func (f *Figure) PNG() ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(96))
	f.Plot.Draw(draw.New(c))
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, c.Image()); err != nil {
		return nil, fmt.Errorf("rendering %s as png: %w", f.Name, err)
	}
	return b.Bytes(), nil
}

func (f *Figure) render(format string) ([]byte, error) {
	wt, err := f.Plot.WriterTo(f.Width, f.Height, format)
	if err != nil {
		return nil, fmt.Errorf("rendering %s as %s: %w", f.Name, format, err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("rendering %s as %s: %w", f.Name, format, err)
	}
	return b.Bytes(), nil
}

func newFigure(name, title, caption, xlabel, ylabel string) *Figure {
	p := gplot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.X.Tick.Marker = niceTicks{n: 8}
	p.Y.Tick.Marker = niceTicks{n: 6}
	p.Add(plotter.NewGrid())
	return &Figure{Name: name, Title: title, Caption: caption, Plot: p, Width: 18 * vg.Centimeter, Height: 11 * vg.Centimeter}
}

func (f *Figure) addLine(label string, xys plotter.XYs, c color.Color, dashes []vg.Length, step bool) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("%s: line %q: %w", f.Name, label, err)
	}
	l.LineStyle.Color = c
	l.LineStyle.Width = vg.Points(1.5)
	l.LineStyle.Dashes = dashes
	if step {
		l.StepStyle = plotter.PostStep
	}
	f.Plot.Add(l)
	if label != "" {
		f.Plot.Legend.Add(label, l)
	}
	f.Curves++
	return nil
}

// wide enlarges an overlay figure so its legend does not crowd the curves.
func (f *Figure) wide() {
	f.Width, f.Height = 26*vg.Centimeter, 14*vg.Centimeter
	f.Plot.Legend.TextStyle.Font.Size = vg.Points(10)
	f.Plot.Legend.Padding = vg.Points(2)
}

func seconds(ms float64) float64 { return ms / 1000 }

func dashed() []vg.Length { return []vg.Length{vg.Points(6), vg.Points(4)} }
func dotted() []vg.Length { return []vg.Length{vg.Points(2), vg.Points(3)} }

func condLabel(cs *stats.Condition) string {
	l := fmt.Sprintf("%s (loss %g %%", cs.Name, cs.RequestedLossPct)
	if cs.AchievedLossPct != nil {
		l += fmt.Sprintf(", achieved %.1f %%", *cs.AchievedLossPct)
	}
	return l + ")"
}

// Histogram is the histogram of single-peer discovery times of one
// condition (reference figures 6.1–6.10).
func Histogram(cs *stats.Condition) (*Figure, error) {
	f := newFigure("hist-"+cs.Name, "Discovery time, "+condLabel(cs),
		fmt.Sprintf("Histogram of the time node A took to discover each peer (%d samples from %d runs).", len(cs.Samples.AnyPeer), cs.Runs),
		"discovery time of one peer (s)", "count of (run, peer) samples")
	f.Plot.Y.Tick.Marker = niceTicks{n: 6, integer: true}
	if len(cs.Samples.AnyPeer) == 0 {
		return f, nil
	}
	h := sortedHist(cs.Samples.AnyPeer)
	h.FillColor = plotutil.Color(0)
	h.LineStyle.Color = color.White
	f.Plot.Add(h)
	f.Boxes = len(h.Bins)
	return f, nil
}

// Phase plots a condition's achieved start phases (stats.Condition
// PhaseHist): the runs' starts modulo the announce period T. A locked
// campaign (the reference study's fixed cycle) fills one bar; a random
// phase spreads the runs over the period. Nil when the runs record no phase.
func Phase(cs *stats.Condition) *Figure {
	if cs.PhaseHist == nil {
		return nil
	}
	bins := len(cs.PhaseHist)
	caption := fmt.Sprintf("Histogram of node A's start phase (start modulo T = %.1f s, from the first run's start) over %d runs.",
		seconds(cs.PhaseBinMS*float64(bins)), cs.Runs)
	if cs.OffCycleRuns > 0 {
		caption += fmt.Sprintf(" %d run(s) overran the cycle and started off cycle.", cs.OffCycleRuns)
	}
	f := newFigure("phase-"+cs.Name, "Start phase, "+condLabel(cs), caption, "start phase (s)", "runs")
	f.Plot.Y.Tick.Marker = niceTicks{n: 6, integer: true}
	h := &plotter.Histogram{Width: seconds(cs.PhaseBinMS), FillColor: plotutil.Color(1)}
	for i, n := range cs.PhaseHist {
		h.Bins = append(h.Bins, plotter.HistogramBin{Min: seconds(float64(i) * cs.PhaseBinMS), Max: seconds(float64(i+1) * cs.PhaseBinMS), Weight: float64(n)})
	}
	h.LineStyle.Width = vg.Points(0.5)
	h.LineStyle.Color = color.White
	f.Plot.Add(h)
	f.Boxes = bins
	return f
}

// RunCurves plots peers discovered against time for up to maxRuns
// runs spread evenly over the condition (reference figures 6.11–6.17).
func RunCurves(cs *stats.Condition, maxRuns int) (*Figure, error) {
	n := len(cs.Samples.Curves)
	shown := min(n, maxRuns)
	f := newFigure("runs-"+cs.Name, "Peers discovered over time, "+condLabel(cs),
		fmt.Sprintf("Number of peers node A had discovered against time since t0, for %d of %d runs (evenly spaced sample).", shown, n),
		"time since node A restart (s)", "peers discovered")
	f.Plot.Y.Tick.Marker = niceTicks{n: 6, integer: true}
	// Every curve runs to the same right edge so its final level shows.
	end := 0.0
	for i := 0; i < shown; i++ {
		if c := cs.Samples.Curves[i*n/shown]; len(c) > 0 {
			end = math.Max(end, c[len(c)-1])
		}
	}
	end *= 1.03
	for i := 0; i < shown; i++ {
		j := i * n / shown
		times := cs.Samples.Curves[j]
		xys := plotter.XYs{{X: 0, Y: 0}}
		for k, t := range times {
			xys = append(xys, plotter.XY{X: seconds(t), Y: float64(k + 1)})
		}
		xys = append(xys, plotter.XY{X: seconds(end), Y: float64(len(times))})
		// Colours repeat after 7; vary the dash pattern with them.
		if err := f.addLine(fmt.Sprintf("run %d", cs.Samples.CurveIndex[j]), xys, plotutil.Color(i), plotutil.Dashes(i/7), true); err != nil {
			return nil, err
		}
	}
	f.Plot.Y.Min = 0
	f.Plot.Y.Max = float64(cs.Peers) + 0.5
	f.Plot.Legend.Top = false
	f.Plot.Legend.Left = false
	return f, nil
}

// Box draws one box of discovery time per number of peers discovered
// (reference figures 6.18–6.21).
func Box(cs *stats.Condition) (*Figure, error) {
	f := newFigure("box-"+cs.Name, "Time to discover k peers, "+condLabel(cs),
		"Box plot of the time until node A had discovered k peers (box: p25–p75, line: median, whiskers: 1.5·IQR, dots: outliers).",
		"number of peers discovered k", "time since node A restart (s)")
	var names []string
	thinned := false
	for k, s := range cs.Samples.ByK {
		names = append(names, strconv.Itoa(k+1))
		if len(s) == 0 {
			continue
		}
		idx := thinIndex(len(s), MaxPoints)
		if len(idx) < len(s) {
			thinned = true
		}
		vals := make(plotter.Values, len(idx))
		for i, j := range idx {
			vals[i] = seconds(s[j])
		}
		w := vg.Points(math.Max(4, math.Min(24, 300/float64(max(1, len(cs.Samples.ByK))))))
		b, err := plotter.NewBoxPlot(w, float64(k), vals)
		if err != nil {
			return nil, fmt.Errorf("%s: box k=%d: %w", f.Name, k+1, err)
		}
		b.FillColor = plotutil.Color(0)
		b.GlyphStyle.Radius = vg.Points(1.5)
		f.Plot.Add(b)
		f.Boxes++
	}
	// The model's median time to the k-th peer (independent peers), dashed.
	if m := cs.Model; m != nil && f.Boxes > 0 {
		var xys plotter.XYs
		for k := range cs.Samples.ByK {
			med := m.KthQuantile(k+1, cs.Peers, 0.5)
			xys = append(xys, plotter.XY{X: float64(k), Y: seconds(med)})
		}
		if err := f.addLine("model median (independent peers)", xys, color.Black, dashed(), false); err != nil {
			return nil, err
		}
		f.Plot.Legend.Top = true
		f.Plot.Legend.Left = true
	}
	if thinned {
		f.Caption += fmt.Sprintf(" Samples larger than %d are drawn from %d evenly spaced order statistics (the tables give the exact quantiles).", MaxPoints, MaxPoints)
	}
	f.Plot.Y.Min = 0
	if len(names) > 0 {
		f.Plot.NominalX(names...)
		f.Plot.X.Label.Text = "number of peers discovered k"
	}
	return f, nil
}

// CDF overlays the empirical CDF of single-peer discovery time of
// every condition, with the model for each condition dashed.
func CDF(conds []stats.Condition) (*Figure, error) {
	f := newFigure("cdf", "Discovery time of one peer: measured (solid) and model (dashed)",
		"Empirical CDF of single-peer discovery time per condition; dashed: periodic-announcer model D = s + U·T + G·T.",
		"discovery time of one peer (s)", "P(discovered ≤ t)")
	for i := range conds {
		cs := &conds[i]
		s := cs.Samples.AnyPeer
		if len(s) == 0 {
			continue
		}
		idx := thinIndex(len(s), MaxPoints)
		xys := make(plotter.XYs, 0, len(idx)+1)
		xys = append(xys, plotter.XY{X: seconds(s[0]), Y: 0})
		for _, j := range idx {
			xys = append(xys, plotter.XY{X: seconds(s[j]), Y: float64(j+1) / float64(len(s))})
		}
		c := plotutil.Color(i)
		if err := f.addLine(cs.Name, xys, c, nil, true); err != nil {
			return nil, err
		}
		if cs.Model != nil {
			hi := s[len(s)-1]
			mxys := make(plotter.XYs, 0, 201)
			for j := 0; j <= 200; j++ {
				d := hi * float64(j) / 200
				mxys = append(mxys, plotter.XY{X: seconds(d), Y: cs.Model.PeerCDF(d)})
			}
			if err := f.addLine(cs.Name+" model", mxys, c, dashed(), false); err != nil {
				return nil, err
			}
		}
	}
	f.Plot.Y.Min, f.Plot.Y.Max = 0, 1
	f.Plot.Legend.Top = false
	f.Plot.Legend.Left = false
	f.wide()
	return f, nil
}

// Responsiveness plots P(discovered within d) over d per condition:
// solid for one given peer, dotted for all peers.
func Responsiveness(conds []stats.Condition) (*Figure, error) {
	f := newFigure("responsiveness", "Responsiveness: probability of discovery within a deadline",
		"Solid: P(a given peer is discovered within d). Dotted: P(all peers are discovered within d). Undiscovered peers count as failures.",
		"deadline d (s)", "probability")
	for i := range conds {
		cs := &conds[i]
		c := plotutil.Color(i)
		if len(cs.Responsiveness) > 0 {
			if err := f.addLine(cs.Name+" one peer", pointsXY(cs.Responsiveness), c, nil, false); err != nil {
				return nil, err
			}
		}
		if len(cs.AllResponsiveness) > 0 {
			if err := f.addLine(cs.Name+" all peers", pointsXY(cs.AllResponsiveness), c, dotted(), false); err != nil {
				return nil, err
			}
		}
	}
	f.Plot.Y.Min, f.Plot.Y.Max = 0, 1
	f.Plot.Legend.Top = false
	f.Plot.Legend.Left = false
	f.wide()
	return f, nil
}

func pointsXY(pts []stats.Point) plotter.XYs {
	xys := make(plotter.XYs, len(pts))
	for i, p := range pts {
		xys[i] = plotter.XY{X: seconds(p.X), Y: p.Y}
	}
	return xys
}

// SweepPoint is one (cluster count, condition) cell of a sweep.
type SweepPoint struct {
	Clusters  int        `json:"clusters"`
	Condition string     `json:"condition"`
	LossPct   float64    `json:"lossPct"`
	Stats     stats.Dist `json:"stats"`
	// Responsiveness is the fraction of the cell's runs in which node A
	// found every peer within the sweep's deadline.
	Responsiveness float64 `json:"responsiveness"`
}

// sweepSeries groups points into one series per key, keys in order of
// first appearance, each series ordered by cluster count.
func sweepSeries[K comparable](points []SweepPoint, key func(SweepPoint) K) ([]K, map[K][]SweepPoint) {
	series := map[K][]SweepPoint{}
	var keys []K
	for _, p := range points {
		k := key(p)
		if _, ok := series[k]; !ok {
			keys = append(keys, k)
		}
		series[k] = append(series[k], p)
	}
	for _, ps := range series {
		sort.Slice(ps, func(a, b int) bool { return ps[a].Clusters < ps[b].Clusters })
	}
	return keys, series
}

// Sweep plots the median (solid) and p90 (dashed) of a metric (the points'
// Stats) against cluster count, one colour per loss level.
func Sweep(metric string, points []SweepPoint) (*Figure, error) {
	f := newFigure("sweep", "Sweep: "+metric+" against cluster count",
		"Median (solid) and p90 (dashed) of "+metric+" per cluster count, one colour per loss level.",
		"clusters in the lab", metric+" (s)")
	f.Plot.X.Tick.Marker = niceTicks{n: 8, integer: true}
	losses, byLoss := sweepSeries(points, func(p SweepPoint) float64 { return p.LossPct })
	sort.Float64s(losses)
	for i, loss := range losses {
		var med, p90 plotter.XYs
		for _, p := range byLoss[loss] {
			if p.Stats.N == 0 {
				continue
			}
			med = append(med, plotter.XY{X: float64(p.Clusters), Y: seconds(p.Stats.Median)})
			p90 = append(p90, plotter.XY{X: float64(p.Clusters), Y: seconds(p.Stats.P90)})
		}
		if len(med) == 0 {
			continue
		}
		c := plotutil.Color(i)
		if err := f.addLine(fmt.Sprintf("loss %g %% median", loss), med, c, nil, false); err != nil {
			return nil, err
		}
		if err := f.addLine(fmt.Sprintf("loss %g %% p90", loss), p90, c, dashed(), false); err != nil {
			return nil, err
		}
		sc, err := plotter.NewScatter(med)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		sc.GlyphStyle.Color = c
		f.Plot.Add(sc)
	}
	f.Plot.Legend.Top = true
	f.Plot.Legend.Left = true
	f.Plot.Y.Min = 0
	return f, nil
}

// SweepResponsiveness plots the points' Responsiveness (all peers found
// within two announce periods) of one protocol against cluster count, one
// line with markers per condition.
func SweepResponsiveness(protocol string, points []SweepPoint) (*Figure, error) {
	p := gplot.New()
	p.Title.Text = "Sweep " + protocol + ": responsiveness against cluster count"
	p.X.Label.Text = "clusters in the lab"
	p.Y.Label.Text = "P(all peers within 2T)"
	p.Y.Min, p.Y.Max = 0, 1.05
	f := &Figure{Name: "sweep-responsiveness", Title: p.Title.Text,
		Caption: "Fraction of runs in which node A found every peer within two announce periods, per cluster count, one line per condition.",
		Plot:    p, Width: 18 * vg.Centimeter, Height: 11 * vg.Centimeter}
	conds, byCond := sweepSeries(points, func(p SweepPoint) string { return p.Condition })
	for i, c := range conds {
		ps := byCond[c]
		xys := make(plotter.XYs, len(ps))
		for j, pt := range ps {
			xys[j] = plotter.XY{X: float64(pt.Clusters), Y: pt.Responsiveness}
		}
		l, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("%s: line %q: %w", f.Name, c, err)
		}
		col := plotutil.Color(i)
		l.Color, sc.Color = col, col
		p.Add(l, sc)
		p.Legend.Add(c, l)
		f.Curves++
	}
	p.Legend.Top = true
	p.BackgroundColor = color.White
	return f, nil
}

// Figures returns every figure for a summary: CDF overlay, responsiveness,
// then per condition histogram, per-run curves and box plot.
func Figures(s *stats.Summary, runsShown int) ([]*Figure, error) {
	var out []*Figure
	cdf, err := CDF(s.Conditions)
	if err != nil {
		return nil, err
	}
	resp, err := Responsiveness(s.Conditions)
	if err != nil {
		return nil, err
	}
	out = append(out, cdf, resp)
	split, err := WireSplit(s.Conditions)
	if err != nil {
		return nil, err
	}
	if split != nil {
		out = append(out, split)
	}
	for i := range s.Conditions {
		cs := &s.Conditions[i]
		h, err := Histogram(cs)
		if err != nil {
			return nil, err
		}
		r, err := RunCurves(cs, runsShown)
		if err != nil {
			return nil, err
		}
		b, err := Box(cs)
		if err != nil {
			return nil, err
		}
		out = append(out, h, r, b)
		if ph := Phase(cs); ph != nil {
			out = append(out, ph)
		}
	}
	return out, nil
}

// sortedHist bins an ascending sample (ms) into sqrt(n) bins (5 to 60) of
// seconds over [min, max], counting by binary search: nothing is copied,
// however large the sample.
func sortedHist(s []float64) *plotter.Histogram {
	n := len(s)
	bins := max(5, min(int(math.Ceil(math.Sqrt(float64(n)))), 60))
	lo, hi := seconds(s[0]), seconds(s[n-1])
	if hi <= lo {
		hi = lo + 1e-3
	}
	w := (hi - lo) / float64(bins)
	h := &plotter.Histogram{Width: w}
	prev := 0
	for i := range bins {
		edge := lo + float64(i+1)*w
		j := n
		if i < bins-1 {
			j = sort.SearchFloat64s(s, edge*1000) // first value at or above the bin's upper edge
		}
		h.Bins = append(h.Bins, plotter.HistogramBin{Min: lo + float64(i)*w, Max: edge, Weight: float64(j - prev)})
		prev = j
	}
	return h
}

// MaxPoints bounds the points a figure draws from one sample: a larger
// sorted sample is drawn from MaxPoints evenly spaced order statistics
// (its minimum and maximum included), so a campaign of 10^6 runs makes
// figures of the same size as one of 100.
const MaxPoints = 2000

// thinIndex returns the indices of the order statistics drawn from a sorted
// sample of n: all of them up to max, else max evenly spaced ones.
func thinIndex(n, max int) []int {
	if n <= max {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := make([]int, max)
	for i := range idx {
		idx[i] = int(math.Round(float64(i) * float64(n-1) / float64(max-1)))
	}
	return idx
}

// niceTicks labels about n evenly spaced round values (1, 2 or 5 × 10^k)
// with an unlabelled minor tick between them.
type niceTicks struct {
	n int
	// integer is set on count axes: whole-number steps and labels only.
	integer bool
}

// Ticks implements gonum/plot's Ticker.
func (t niceTicks) Ticks(lo, hi float64) []gplot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return gplot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / float64(max(t.n, 2))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if t.integer {
		step = math.Max(1, math.Round(step))
	}
	prec := max(0, -int(math.Floor(math.Log10(step))))
	var ticks []gplot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		ticks = append(ticks, gplot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
		if m := v + step/2; m <= hi && (!t.integer || step >= 2) {
			ticks = append(ticks, gplot.Tick{Value: m})
		}
	}
	return ticks
}

// WireSplit stacks, per condition, the mean parts of node A's discovery
// times as the wire capture explains them (stats.WireSplit): start-up,
// announcement wait, lost periods and processing+API. Nil when no
// condition was captured.
func WireSplit(conds []stats.Condition) (*Figure, error) {
	var names []string
	parts := make([]plotter.Values, 4)
	for i := range conds {
		w := conds[i].Wire
		if w == nil || w.Samples == 0 {
			continue
		}
		names = append(names, conds[i].Name)
		for j, v := range []float64{w.StartupMS, w.WaitMS, w.LostMS, w.ProcessingMS} {
			parts[j] = append(parts[j], seconds(max(v, 0)))
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	f := newFigure("wire-split", "Where the discovery time goes (wire capture)",
		"Mean per (run, peer) discovery of node A, split by the capture on the lab's bridge: start-up until A joined the group, the wait for the peer's next announcement, announcements lost on the wire, and the protocol's processing with its API write and the runner's watch.",
		"condition", "mean discovery time (s)")
	f.Plot.X.Tick.Marker = nil
	f.Plot.NominalX(names...)
	w := vg.Points(max(8, min(40, 300/float64(len(names)))))
	labels := []string{"start-up", "announcement wait", "lost periods", "processing+API"}
	var prev *plotter.BarChart
	for j := range parts {
		b, err := plotter.NewBarChart(parts[j], w)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		b.Color = plotutil.Color(j)
		b.LineStyle.Width = 0
		if prev != nil {
			b.StackOn(prev)
		}
		f.Plot.Add(b)
		f.Plot.Legend.Add(labels[j], b)
		prev = b
	}
	f.Plot.Legend.Top = true
	f.Boxes = len(names)
	return f, nil
}
