package stats

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Model is the discovery time of a periodic announcer: a peer announces
// every IntervalMS (T), each announcement is lost independently with
// probability Loss (p), and node A starts listening StartupMS (s) after t0.
// A's discovery time of one peer is
//
//	D = s + U·T + G·T,  U ~ Uniform(0,1) (phase), P(G=g) = p^g (1-p)
//
// so with x = (d-s)/T and m = ⌊x⌋ the CDF has the closed form
//
//	F(d) = Σ_{g<m} p^g(1-p) + p^m(1-p)(x-m) = 1 - p^m + p^m(1-p)(x-m).
//
// The k-th of n peers uses order statistics of n independent draws. Peers
// are NOT independent in the lab (their tickers keep fixed offsets, see
// lab-findings), so the k-th peer model is an approximation.
type Model struct {
	IntervalMS float64 `json:"intervalMS"`
	Loss       float64 `json:"loss"` // probability in [0,1)
	StartupMS  float64 `json:"startupMS"`
}

// PeerCDF is P(D ≤ d) for one peer.
func (m Model) PeerCDF(d float64) float64 {
	if m.IntervalMS <= 0 {
		if d >= m.StartupMS {
			return 1
		}
		return 0
	}
	x := (d - m.StartupMS) / m.IntervalMS
	if x <= 0 || math.IsNaN(x) {
		return 0
	}
	p := math.Min(math.Max(m.Loss, 0), 1)
	if p >= 1 {
		return 0
	}
	if math.IsInf(x, 1) {
		return 1
	}
	mf := math.Floor(x)
	pm := math.Pow(p, mf)
	return 1 - pm + pm*(1-p)*(x-mf)
}

// KthCDF is P(D_(k) ≤ d): the k-th smallest (1-based) of n independent
// peers is within d.
func (m Model) KthCDF(k, n int, d float64) float64 {
	if k < 1 || k > n {
		return math.NaN()
	}
	return orderCDF(m.PeerCDF(d), k, n)
}

// orderCDF is P(at least k of n independent events with probability f).
func orderCDF(f float64, k, n int) float64 {
	if f <= 0 {
		return 0
	}
	if f >= 1 {
		return 1
	}
	// Σ_{j=k}^{n} C(n,j) f^j (1-f)^{n-j}, in logs for stability.
	lf, lg := math.Log(f), math.Log1p(-f)
	sum := 0.0
	for j := k; j <= n; j++ {
		lc := lgammaInt(n+1) - lgammaInt(j+1) - lgammaInt(n-j+1)
		sum += math.Exp(lc + float64(j)*lf + float64(n-j)*lg)
	}
	return math.Min(1, sum)
}

func lgammaInt(n int) float64 {
	v, _ := math.Lgamma(float64(n))
	return v
}

// Sample draws one discovery time from the model.
func (m Model) Sample(rng *rand.Rand) float64 {
	g := 0
	for m.Loss > 0 && rng.Float64() < m.Loss && g < 10000 {
		g++
	}
	return m.StartupMS + (rng.Float64()+float64(g))*m.IntervalMS
}

// Quantile inverts PeerCDF by bisection.
func (m Model) Quantile(q float64) float64 {
	if q <= 0 {
		return m.StartupMS
	}
	return bisect(m.PeerCDF, q, m.StartupMS, m.StartupMS+math.Max(m.IntervalMS, 1))
}

// KthQuantile inverts KthCDF by bisection: the d at which the k-th
// smallest of n independent peers is within d with probability q.
func (m Model) KthQuantile(k, n int, q float64) float64 {
	return bisect(func(d float64) float64 { return m.KthCDF(k, n, d) }, q, m.StartupMS, m.StartupMS+m.IntervalMS)
}

// bisect returns d with cdf(d) ≈ q, growing hi until cdf(hi) ≥ q.
func bisect(cdf func(float64) float64, q, lo, hi float64) float64 {
	if hi <= lo {
		hi = lo + 1
	}
	for i := 0; cdf(hi) < q && i < 60; i++ {
		hi += 2 * (hi - lo)
	}
	for i := 0; i < 60; i++ {
		mid := (lo + hi) / 2
		if cdf(mid) < q {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// KSDistance is the one-sample Kolmogorov–Smirnov statistic
// sup_x |F_n(x) - F(x)| of an ascending sample against a continuous CDF.
func KSDistance(sorted []float64, cdf func(float64) float64) float64 {
	n := float64(len(sorted))
	if n == 0 {
		return math.NaN()
	}
	d := 0.0
	for i, x := range sorted {
		f := cdf(x)
		d = math.Max(d, math.Max(float64(i+1)/n-f, f-float64(i)/n))
	}
	return d
}

// FitStartup returns the start-up s in [0, min(sample)] that minimises the
// KS distance of the pooled per-peer sample to the model, and that distance.
func (m Model) FitStartup(sorted []float64) (float64, float64) {
	if len(sorted) == 0 {
		return math.NaN(), math.NaN()
	}
	hi := math.Max(sorted[0], 0)
	best, bestD := 0.0, math.Inf(1)
	eval := func(s float64) {
		mm := m
		mm.StartupMS = s
		if d := KSDistance(sorted, mm.PeerCDF); d < bestD {
			best, bestD = s, d
		}
	}
	const steps = 64
	for i := 0; i <= steps; i++ {
		eval(hi * float64(i) / steps)
	}
	// Refine around the best grid point.
	step := hi / steps
	lo := math.Max(0, best-step)
	top := math.Min(hi, best+step)
	for i := 0; i <= 32; i++ {
		eval(lo + (top-lo)*float64(i)/32)
	}
	return best, bestD
}

// kthSamples returns, for each k=1..n, the k-th smallest discovery time of
// each run that discovered at least k peers.
func kthSamples(curves [][]float64, n int) [][]float64 {
	out := make([][]float64, n)
	for _, c := range curves {
		for k := 0; k < len(c) && k < n; k++ {
			out[k] = append(out[k], c[k])
		}
	}
	for _, s := range out {
		sort.Float64s(s)
	}
	return out
}
