package stats

import (
	"math"
	"sort"

	"github.com/fluidos-lab/testbed/results"
)

// The measured-phase model replaces the model's two assumptions, a uniform
// phase and independent peers, by what the wire capture measured in each
// run: A's ready time, each peer's announce phase after it (the first
// announcement it was due to send, lost or not), the peer's period and the
// achieved loss inside A's listening window. Given those, a peer is found
// at base + G·T + c, with G ~ Geometric(loss) its lost announcements and c
// the condition's processing+API (its distribution, as processingQuantiles
// quantiles, independent of the rest); the peers of one run share the
// measured phases, so the k-th peer prediction keeps their real
// correlation. The prediction mixes the runs and is compared with the
// discovery times of the same runs.
const (
	// MaxMeasuredRuns bounds the runs the measured-phase model mixes and
	// is compared with (the first ones of the condition): the cost grows
	// with its square.
	MaxMeasuredRuns = 64
	// processingQuantiles is how many quantiles of the processing+API
	// distribution the prediction averages over.
	processingQuantiles = 8
)

// MeasuredFit is the measured-phase model's agreement with a condition.
type MeasuredFit struct {
	// Runs is the runs mixed; ProcessingMS the median of the processing+API
	// part, whose distribution the prediction uses.
	Runs         int     `json:"runs"`
	ProcessingMS float64 `json:"processingMS"`
	// KSPeer and KSByK are KS distances of the pooled per-peer sample and
	// of each k-th peer sample to the prediction.
	KSPeer float64 `json:"ksPeer"`
	KSByK  []KSK   `json:"ksByK"`
}

// measuredRun is what the model keeps of one run: per explained peer the
// instant of its first due announcement after A was ready, its period;
// the window's loss probability and when the run's observation ended.
type measuredRun struct {
	base, period []float64
	// times are the same peers' discovery times, ascending.
	times     []float64
	loss, end float64
}

// measuredOf extracts a run's measured phases; ok is false when the wire
// explained none of its discoveries.
func measuredOf(r *results.Run) (measuredRun, bool) {
	m := measuredRun{end: runEnd(*r)}
	if r.Wire.WindowLossPct != nil {
		m.loss = math.Min(math.Max(*r.Wire.WindowLossPct/100, 0), 0.999)
	}
	for i := range r.Peers {
		w := r.Peers[i].Wire
		if w == nil || r.Peers[i].DiscoveredMS == nil || w.PeriodMS <= 0 {
			continue
		}
		m.base = append(m.base, w.FirstMS-w.LostMS)
		m.period = append(m.period, w.PeriodMS)
		m.times = append(m.times, *r.Peers[i].DiscoveredMS)
	}
	sort.Float64s(m.times)
	return m, len(m.base) > 0
}

// found is P(peer i found by d) in run m, with processing spread as the
// quantiles c (equally likely).
func (m *measuredRun) found(i int, d float64, c []float64) float64 {
	sum := 0.0
	for _, cj := range c {
		x := (d - cj - m.base[i]) / m.period[i]
		switch {
		case x < 0:
		case m.loss == 0:
			sum++
		default:
			sum += 1 - math.Pow(m.loss, math.Floor(x)+1)
		}
	}
	return sum / float64(len(c))
}

// atLeast is P(at least k of the run's peers found by d): the
// Poisson-binomial tail, by dynamic programming over the peers on the
// counts 0..k-1.
func (m *measuredRun) atLeast(k int, d float64, c []float64, dp []float64) float64 {
	n := len(m.base)
	if k > n {
		return 0
	}
	dp = dp[:k]
	clear(dp)
	dp[0] = 1
	for i := range n {
		q := m.found(i, d, c)
		for j := k - 1; j >= 1; j-- {
			dp[j] = dp[j]*(1-q) + dp[j-1]*q
		}
		dp[0] *= 1 - q
	}
	below := 0.0
	for _, v := range dp {
		below += v
	}
	return math.Min(1, math.Max(0, 1-below))
}

// fitMeasured compares the discovery times of the condition's captured
// runs with their measured-phase prediction (nil without them). Each
// prediction is conditional on the event being observed before its run
// ended, as the samples are.
func fitMeasured(runs []measuredRun, c []float64, processing float64) *MeasuredFit {
	if len(runs) == 0 || len(c) == 0 {
		return nil
	}
	f := &MeasuredFit{Runs: len(runs), ProcessingMS: processing}
	var pooled []float64
	var byK [][]float64
	den := 0.0
	for r := range runs {
		m := &runs[r]
		pooled = append(pooled, m.times...)
		for k, v := range m.times {
			if k == len(byK) {
				byK = append(byK, nil)
			}
			byK[k] = append(byK[k], v)
		}
		for i := range m.base {
			den += m.found(i, m.end, c)
		}
	}
	sort.Float64s(pooled)
	f.KSPeer = KSDistance(pooled, func(d float64) float64 {
		num := 0.0
		for r := range runs {
			m := &runs[r]
			for i := range m.base {
				num += m.found(i, math.Min(d, m.end), c)
			}
		}
		return ratio(num, den)
	})
	for k, s := range byK {
		f.KSByK = append(f.KSByK, KSK{K: k + 1, N: len(s), D: ksKth(runs, k+1, c, s)})
	}
	return f
}

// ksKth is the KS distance of the k-th peer sample s to the mixed
// prediction.
func ksKth(runs []measuredRun, k int, c []float64, s []float64) float64 {
	sort.Float64s(s)
	dp := make([]float64, k)
	den := 0.0
	for r := range runs {
		den += runs[r].atLeast(k, runs[r].end, c, dp)
	}
	return KSDistance(s, func(d float64) float64 {
		num := 0.0
		for r := range runs {
			num += runs[r].atLeast(k, math.Min(d, runs[r].end), c, dp)
		}
		return ratio(num, den)
	})
}

// ratio is num/den, NaN when den is 0 (a prediction of nothing).
func ratio(num, den float64) float64 {
	if den <= 0 {
		return math.NaN()
	}
	return math.Min(1, num/den)
}
