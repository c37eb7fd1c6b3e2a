package compare

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

// Verdicts of a comparison row.
const (
	VerdictRegression   = "regression"
	VerdictImprovement  = "improvement"
	VerdictNoChange     = "no change"
	VerdictInsufficient = "insufficient data"
)

// Metric names of comparison rows and thresholds: firstPeer, allPeers,
// anyPeer (pooled single-peer times) and k<N> (time to the N-th peer).
const (
	MetricFirstPeer = "firstPeer"
	MetricAllPeers  = "allPeers"
	MetricAnyPeer   = "anyPeer"
)

// Defaults and bounds of Options.
const (
	DefaultAlpha     = 0.05
	DefaultBootstrap = 2000
	// MinBootstrap and MaxBootstrap bound Options.Bootstrap. A resample
	// costs O(1) time and two float64s per metric (the bootstrap median is
	// drawn from the order statistics of the sorted sample, not by copying
	// it), so 100000 resamples hold under 2 MB per row; fewer than 100 give
	// no usable 95 % interval.
	MinBootstrap = 100
	MaxBootstrap = 100_000
)

// Options tune a comparison.
type Options struct {
	// Alpha is the significance level for a verdict, in (0, 1).
	Alpha float64
	// Bootstrap is the number of bootstrap resamples, in
	// [MinBootstrap, MaxBootstrap].
	Bootstrap int
	// Seed makes the bootstrap deterministic.
	Seed uint64
}

// Validate reports options that would make a comparison meaningless:
// Alpha must be a finite number strictly between 0 and 1 and Bootstrap
// within [MinBootstrap, MaxBootstrap]. Nothing is replaced by a default.
func (o Options) Validate() error {
	var errs []error
	if math.IsNaN(o.Alpha) || math.IsInf(o.Alpha, 0) || o.Alpha <= 0 || o.Alpha >= 1 {
		errs = append(errs, fmt.Errorf("alpha %v is not a significance level: give a number strictly between 0 and 1 (e.g. %g)", o.Alpha, DefaultAlpha))
	}
	if o.Bootstrap < MinBootstrap || o.Bootstrap > MaxBootstrap {
		errs = append(errs, fmt.Errorf("bootstrap %d is out of range: give between %d and %d resamples (e.g. %d)", o.Bootstrap, MinBootstrap, MaxBootstrap, DefaultBootstrap))
	}
	return errors.Join(errs...)
}

// WithDefaults returns o with a zero Alpha or Bootstrap replaced by its
// default; any other value is kept as is (Validate still judges it).
func (o Options) WithDefaults() Options {
	if o.Alpha == 0 {
		o.Alpha = DefaultAlpha
	}
	if o.Bootstrap == 0 {
		o.Bootstrap = DefaultBootstrap
	}
	return o
}

// Result is a candidate campaign measured against a baseline.
type Result struct {
	Baseline  string  `json:"baseline"`
	Candidate string  `json:"candidate"`
	Alpha     float64 `json:"alpha"`
	Bootstrap int     `json:"bootstrap"`
	Seed      uint64  `json:"seed"`
	Rows      []Row   `json:"rows"`
	// Unmatched lists conditions present in only one campaign.
	Unmatched []string `json:"unmatched,omitempty"`
	Note      string   `json:"note"`
	// Warnings are the readers' warnings about both campaigns (baseline
	// first), each naming its file and line; print them with
	// store.WriteWarnings.
	Warnings []string `json:"warnings,omitempty"`
}

// Row compares one metric of one condition.
type Row struct {
	Condition string     `json:"condition"`
	Metric    string     `json:"metric"`
	Baseline  stats.Dist `json:"baseline"`
	Candidate stats.Dist `json:"candidate"`
	// MedianDeltaMS is candidate − baseline median; CI is the 95 %
	// percentile bootstrap interval of that delta.
	MedianDeltaMS  float64 `json:"medianDeltaMS"`
	MedianDeltaPct float64 `json:"medianDeltaPct"`
	CILowMS        float64 `json:"ciLowMS"`
	CIHighMS       float64 `json:"ciHighMS"`
	// MannWhitneyP is the two-sided Mann–Whitney U p-value (normal
	// approximation, tie and continuity corrected); KSP the two-sample
	// Kolmogorov–Smirnov p-value (asymptotic), KSD its statistic.
	MannWhitneyP float64 `json:"mannWhitneyP"`
	KSD          float64 `json:"ksD"`
	KSP          float64 `json:"ksP"`
	// AdjustedP is MannWhitneyP after Holm's correction over every row of
	// the comparison (many conditions × metrics are tested at once).
	AdjustedP float64 `json:"adjustedP"`
	Verdict   string  `json:"verdict"`
}

// Campaigns compares two in-memory campaigns (see Compare). Zero Alpha and
// Bootstrap take their defaults (WithDefaults); any other invalid option
// is a programming error and panics: validate user input with
// Options.Validate, or call Compare, which returns the error.
func Campaigns(base, cand *store.Campaign, o Options) *Result {
	r, err := Compare(base, cand, o.WithDefaults())
	if err != nil {
		panic("compare.Campaigns: " + err.Error())
	}
	return r
}

// Compare analyses both campaigns and compares every condition they share,
// metric by metric. A verdict is a regression (improvement) when the
// Holm-adjusted Mann–Whitney p-value is below Alpha and the bootstrap CI of
// the median delta lies entirely above (below) zero. Invalid options are an
// error (Options.Validate); nothing falls back to a default.
func Compare(base, cand *store.Campaign, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return Collections(stats.CollectSamples(base), stats.CollectSamples(cand), o)
}

// Dirs compares the campaigns in two directories, streaming each once (see
// stats.CollectDir): memory holds one float64 per discovered (run, peer)
// pair of both campaigns, never their runs. The readers' warnings are in
// Result.Warnings. It stops with ctx's error when ctx ends.
func Dirs(ctx context.Context, baseDir, candDir string, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	b, _, err := stats.CollectDir(ctx, baseDir)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	c, _, err := stats.CollectDir(ctx, candDir)
	if err != nil {
		return nil, fmt.Errorf("candidate: %w", err)
	}
	return collections(ctx, b, c, o)
}

// Collections compares collected samples (see Compare).
func Collections(bs, cs *stats.Collection, o Options) (*Result, error) {
	return collections(context.Background(), bs, cs, o)
}

// collections is Collections, stopping with ctx's error between two rows
// once ctx ends (at 250000 runs a side and 23 peers, a k-th peer row takes
// about 0.1 s, the pooled anyPeer row about 2 s).
func collections(ctx context.Context, bs, cs *stats.Collection, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	out := &Result{Baseline: bs.Campaign, Candidate: cs.Campaign, Alpha: o.Alpha, Bootstrap: o.Bootstrap, Seed: o.Seed,
		Note:     "anyPeer pools several peers per run; they are correlated, so its p-values are optimistic",
		Warnings: append(append([]string(nil), bs.Warnings...), cs.Warnings...)}
	byName := map[string]*stats.CondSamples{}
	for i := range cs.Conditions {
		byName[cs.Conditions[i].Name] = &cs.Conditions[i]
	}
	seen := map[string]bool{}
	for i := range bs.Conditions {
		b := &bs.Conditions[i]
		c, ok := byName[b.Name]
		if !ok {
			out.Unmatched = append(out.Unmatched, b.Name+" (baseline only)")
			continue
		}
		seen[b.Name] = true
		for _, p := range metricPairs(b, c) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			out.Rows = append(out.Rows, compareSamples(b.Name, p.metric, p.x, p.y, o))
		}
	}
	holm(out.Rows)
	for i := range out.Rows {
		r := &out.Rows[i]
		switch {
		case r.Verdict == VerdictInsufficient:
		case r.AdjustedP < o.Alpha && r.CILowMS > 0:
			r.Verdict = VerdictRegression
		case r.AdjustedP < o.Alpha && r.CIHighMS < 0:
			r.Verdict = VerdictImprovement
		default:
			r.Verdict = VerdictNoChange
		}
	}
	for _, c := range cs.Conditions {
		if !seen[c.Name] {
			out.Unmatched = append(out.Unmatched, c.Name+" (candidate only)")
		}
	}
	return out, nil
}

// metricPair is one metric's samples of a condition in both campaigns.
type metricPair struct {
	metric string
	x, y   stats.Sorted
}

// metricPairs lists the metrics compared for condition b (baseline) and c
// (candidate): first, all and any peer, then the k-th peer for every k of
// either.
func metricPairs(b, c *stats.CondSamples) []metricPair {
	pairs := []metricPair{
		{MetricFirstPeer, b.FirstPeer, c.FirstPeer},
		{MetricAllPeers, b.AllPeers, c.AllPeers},
		{MetricAnyPeer, b.AnyPeer, c.AnyPeer},
	}
	for k := 0; k < max(len(b.ByK), len(c.ByK)); k++ {
		var x, y stats.Sorted
		if k < len(b.ByK) {
			x = b.ByK[k]
		}
		if k < len(c.ByK) {
			y = c.ByK[k]
		}
		pairs = append(pairs, metricPair{"k" + strconv.Itoa(k+1), x, y})
	}
	return pairs
}

// compareSamples compares two ascending samples.
func compareSamples(cond, metric string, x, y stats.Sorted, o Options) Row {
	r := Row{Condition: cond, Metric: metric, Baseline: x.Describe(), Candidate: y.Describe()}
	if x.Len() < 2 || y.Len() < 2 {
		r.Verdict = VerdictInsufficient
		r.MannWhitneyP, r.KSP, r.AdjustedP = 1, 1, 1
		return r
	}
	r.MedianDeltaMS = r.Candidate.Median - r.Baseline.Median
	if r.Baseline.Median != 0 {
		r.MedianDeltaPct = 100 * r.MedianDeltaMS / r.Baseline.Median
	}
	h := fnv.New64a()
	h.Write([]byte(cond + "\x00" + metric))
	r.CILowMS, r.CIHighMS = bootstrapMedianDelta(x, y, o.Bootstrap, rand.New(rand.NewPCG(o.Seed, h.Sum64())))
	r.MannWhitneyP = mannWhitneyP(x, y)
	r.KSD, r.KSP = ksTwoSample(x, y)
	return r
}

// holm sets AdjustedP by Holm's step-down method over the rows with data.
func holm(rows []Row) {
	var idx []int
	for i := range rows {
		rows[i].AdjustedP = 1
		if rows[i].Verdict != VerdictInsufficient {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return rows[idx[a]].MannWhitneyP < rows[idx[b]].MannWhitneyP })
	m := len(idx)
	prev := 0.0
	for j, i := range idx {
		adj := math.Min(1, float64(m-j)*rows[i].MannWhitneyP)
		prev = math.Max(prev, adj)
		rows[i].AdjustedP = prev
	}
}

// bootstrapMedianDelta returns the 2.5 % and 97.5 % percentiles of
// median(y*) − median(x*) over b resamples with replacement. A resample's
// median is drawn directly: the k-th smallest of n indices drawn uniformly
// from 0..n-1 is ⌊n·U₍ₖ₎⌋ with U₍ₖ₎ ~ Beta(k, n−k+1), the k-th order
// statistic of n uniforms (and for an even n the next one is
// U₍ₖ₊₁₎ = U₍ₖ₎ + (1−U₍ₖ₎)·(1 − W^{1/(n−k)})), so each resample costs O(1)
// instead of O(n) and its distribution is exactly that of resampling the
// sorted sample.
func bootstrapMedianDelta(x, y stats.Sorted, b int, rng *rand.Rand) (float64, float64) {
	mx := bootstrapMedians(x, b, rng)
	my := bootstrapMedians(y, b, rng)
	deltas := make([]float64, b)
	for i := range deltas {
		deltas[i] = my[i] - mx[i]
	}
	sort.Float64s(deltas)
	return stats.Quantile(deltas, 0.025), stats.Quantile(deltas, 0.975)
}

// bootstrapMedians returns b bootstrap medians (type 7) of s.
func bootstrapMedians(s stats.Sorted, b int, rng *rand.Rand) []float64 {
	n := s.Len()
	even := n%2 == 0
	k := (n + 1) / 2 // 1-based rank of the (lower) middle order statistic
	index := func(u float64) int { return min(int(float64(n)*u), n-1) }
	lo := make([]int, b)
	var hi []int
	if even {
		hi = make([]int, b)
	}
	for i := range lo {
		u := betaSample(rng, float64(k), float64(n-k+1))
		lo[i] = index(u)
		if even {
			v := -math.Expm1(math.Log(rng.Float64()) / float64(n-k)) // 1 − W^{1/(n−k)}
			hi[i] = max(lo[i], index(u+(1-u)*v))
		}
	}
	ranks := append(append([]int(nil), lo...), hi...)
	sort.Ints(ranks)
	vals := s.At(ranks)
	value := func(r int) float64 { return vals[sort.SearchInts(ranks, r)] }
	out := make([]float64, b)
	for i := range out {
		a := value(lo[i])
		if even {
			// The same arithmetic as stats.Median.
			a += 0.5 * (value(hi[i]) - a)
		}
		out[i] = a
	}
	return out
}

// betaSample draws Beta(a, b) for a, b ≥ 1 as Ga/(Ga+Gb).
func betaSample(rng *rand.Rand, a, b float64) float64 {
	x, y := gammaSample(rng, a), gammaSample(rng, b)
	return x / (x + y)
}

// gammaSample draws Gamma(shape a ≥ 1, scale 1) (Marsaglia and Tsang 2000).
func gammaSample(rng *rand.Rand, a float64) float64 {
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// MannWhitneyP is the two-sided p-value of the Mann–Whitney U test of two
// ascending samples: normal approximation with tie correction
// σ² = n1·n2/12·((n+1) − Σ(t³−t)/(n(n−1))) and continuity correction 0.5.
func MannWhitneyP(x, y []float64) float64 { return mannWhitneyP(stats.SortedOf(x), stats.SortedOf(y)) }

// peek is a cursor with one value of lookahead.
type peek struct {
	c  *stats.Cursor
	v  float64
	ok bool
}

func newPeek(s stats.Sorted) *peek {
	p := &peek{c: s.Cursor()}
	p.v, p.ok = p.c.Next()
	return p
}

func (p *peek) next() { p.v, p.ok = p.c.Next() }

func mannWhitneyP(xs, ys stats.Sorted) float64 {
	n1, n2 := float64(xs.Len()), float64(ys.Len())
	if n1 == 0 || n2 == 0 {
		return 1
	}
	// Merge and rank with average ranks for ties.
	x, y := newPeek(xs), newPeek(ys)
	rank := 1.0
	r1 := 0.0
	tie := 0.0
	for x.ok || y.ok {
		var v float64
		switch {
		case !y.ok || (x.ok && x.v <= y.v):
			v = x.v
		default:
			v = y.v
		}
		cx, cy := 0, 0
		for x.ok && x.v == v {
			x.next()
			cx++
		}
		for y.ok && y.v == v {
			y.next()
			cy++
		}
		t := float64(cx + cy)
		avg := rank + (t-1)/2
		r1 += float64(cx) * avg
		rank += t
		tie += t*t*t - t
	}
	n := n1 + n2
	u := r1 - n1*(n1+1)/2
	mu := n1 * n2 / 2
	v := n1 * n2 / 12 * ((n + 1) - tie/(n*(n-1)))
	if v <= 0 {
		return 1
	}
	z := math.Max(0, math.Abs(u-mu)-0.5) / math.Sqrt(v)
	return math.Erfc(z / math.Sqrt2)
}

// KSTwoSample returns the two-sample KS statistic D = sup|F₁ − F₂| of two
// ascending samples (counted exactly, in integers) and its asymptotic
// p-value Q_KS((√ne + 0.12 + 0.11/√ne)·D), ne = n1·n2/(n1+n2) (Numerical
// Recipes, 14.3).
func KSTwoSample(x, y []float64) (float64, float64) {
	return ksTwoSample(stats.SortedOf(x), stats.SortedOf(y))
}

func ksTwoSample(xs, ys stats.Sorted) (float64, float64) {
	n, m := int64(xs.Len()), int64(ys.Len())
	if n == 0 || m == 0 {
		return math.NaN(), 1
	}
	x, y := newPeek(xs), newPeek(ys)
	var i, j, best int64
	for x.ok && y.ok {
		v := min(x.v, y.v)
		for x.ok && x.v == v {
			x.next()
			i++
		}
		for y.ok && y.v == v {
			y.next()
			j++
		}
		best = max(best, abs64(i*m-j*n))
	}
	d := float64(best) / (float64(n) * float64(m))
	ne := float64(n) * float64(m) / float64(n+m)
	en := math.Sqrt(ne)
	return d, qKS((en + 0.12 + 0.11/en) * d)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// qKS is the Kolmogorov distribution's survival function
// 2 Σ_{j≥1} (−1)^{j−1} exp(−2 j² λ²).
func qKS(lambda float64) float64 {
	if lambda < 1e-3 {
		return 1
	}
	sum, sign := 0.0, 1.0
	for j := 1; j <= 100; j++ {
		term := sign * 2 * math.Exp(-2*float64(j*j)*lambda*lambda)
		sum += term
		if math.Abs(term) < 1e-12 {
			break
		}
		sign = -sign
	}
	return math.Min(1, math.Max(0, sum))
}

// Regressions lists the rows judged regressions.
func (c *Result) Regressions() []Row {
	var out []Row
	for _, r := range c.Rows {
		if r.Verdict == VerdictRegression {
			out = append(out, r)
		}
	}
	return out
}

// isMetric reports whether name is a comparison metric.
func isMetric(name string) bool {
	switch name {
	case MetricFirstPeer, MetricAllPeers, MetricAnyPeer:
		return true
	}
	if k, ok := strings.CutPrefix(name, "k"); ok {
		n, err := strconv.Atoi(k)
		return err == nil && n >= 1 && strconv.Itoa(n) == k
	}
	return false
}

func (r Row) String() string {
	return fmt.Sprintf("%s/%s", r.Condition, r.Metric)
}
