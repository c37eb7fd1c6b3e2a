package compare

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat"

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

// Options tune Campaigns.
type Options struct {
	// Alpha is the significance level for a verdict (default 0.05).
	Alpha float64
	// Bootstrap is the number of bootstrap resamples (default 2000).
	Bootstrap int
	// Seed makes the bootstrap deterministic.
	Seed uint64
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

// Campaigns analyses both campaigns and compares every condition they share,
// metric by metric. A verdict is a regression (improvement) when the
// Holm-adjusted Mann–Whitney p-value is below Alpha and the bootstrap CI of
// the median delta lies entirely above (below) zero.
func Campaigns(base, cand *store.Campaign, o Options) *Result {
	if o.Alpha <= 0 || o.Alpha >= 1 {
		o.Alpha = 0.05
	}
	if o.Bootstrap <= 0 {
		o.Bootstrap = 2000
	}
	bs, cs := stats.Analyze(base), stats.Analyze(cand)
	out := &Result{Baseline: bs.Campaign, Candidate: cs.Campaign, Alpha: o.Alpha, Bootstrap: o.Bootstrap, Seed: o.Seed,
		Note: "anyPeer pools several peers per run; they are correlated, so its p-values are optimistic"}
	byName := map[string]*stats.Condition{}
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
		type pair struct {
			metric string
			x, y   []float64
		}
		pairs := []pair{
			{MetricFirstPeer, b.Samples.FirstPeer, c.Samples.FirstPeer},
			{MetricAllPeers, b.Samples.AllPeers, c.Samples.AllPeers},
			{MetricAnyPeer, b.Samples.AnyPeer, c.Samples.AnyPeer},
		}
		for k := 0; k < max(len(b.Samples.ByK), len(c.Samples.ByK)); k++ {
			var x, y []float64
			if k < len(b.Samples.ByK) {
				x = b.Samples.ByK[k]
			}
			if k < len(c.Samples.ByK) {
				y = c.Samples.ByK[k]
			}
			pairs = append(pairs, pair{"k" + strconv.Itoa(k+1), x, y})
		}
		for _, p := range pairs {
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
	return out
}

// compareSamples compares two ascending samples.
func compareSamples(cond, metric string, x, y []float64, o Options) Row {
	r := Row{Condition: cond, Metric: metric, Baseline: stats.Describe(x), Candidate: stats.Describe(y)}
	if len(x) < 2 || len(y) < 2 {
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
	r.MannWhitneyP = MannWhitneyP(x, y)
	r.KSD, r.KSP = KSTwoSample(x, y)
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
// median(y*) − median(x*) over b resamples with replacement.
func bootstrapMedianDelta(x, y []float64, b int, rng *rand.Rand) (float64, float64) {
	bx := make([]float64, len(x))
	by := make([]float64, len(y))
	deltas := make([]float64, b)
	for i := range deltas {
		for j := range bx {
			bx[j] = x[rng.IntN(len(x))]
		}
		for j := range by {
			by[j] = y[rng.IntN(len(y))]
		}
		deltas[i] = stats.Median(by) - stats.Median(bx)
	}
	sort.Float64s(deltas)
	return stats.Quantile(deltas, 0.025), stats.Quantile(deltas, 0.975)
}

// MannWhitneyP is the two-sided p-value of the Mann–Whitney U test of two
// ascending samples: normal approximation with tie correction
// σ² = n1·n2/12·((n+1) − Σ(t³−t)/(n(n−1))) and continuity correction 0.5.
func MannWhitneyP(x, y []float64) float64 {
	n1, n2 := float64(len(x)), float64(len(y))
	if n1 == 0 || n2 == 0 {
		return 1
	}
	// Merge and rank with average ranks for ties.
	i, j := 0, 0
	rank := 1.0
	r1 := 0.0
	tie := 0.0
	for i < len(x) || j < len(y) {
		var v float64
		switch {
		case j >= len(y) || (i < len(x) && x[i] <= y[j]):
			v = x[i]
		default:
			v = y[j]
		}
		cx, cy := 0, 0
		for i < len(x) && x[i] == v {
			i++
			cx++
		}
		for j < len(y) && y[j] == v {
			j++
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

// KSTwoSample returns the two-sample KS statistic of two ascending samples
// (gonum) and its asymptotic p-value Q_KS((√ne + 0.12 + 0.11/√ne)·D),
// ne = n1·n2/(n1+n2) (Numerical Recipes, 14.3).
func KSTwoSample(x, y []float64) (float64, float64) {
	if len(x) == 0 || len(y) == 0 {
		return math.NaN(), 1
	}
	d := stat.KolmogorovSmirnov(x, nil, y, nil)
	ne := float64(len(x)) * float64(len(y)) / float64(len(x)+len(y))
	en := math.Sqrt(ne)
	return d, qKS((en + 0.12 + 0.11/en) * d)
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
