package stats

import (
	"math"
	"math/rand/v2"
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

// kthCDF is KthCDF for one n, reusing t.
func (m Model) kthCDF(t *orderTable, k int, d float64) float64 {
	if k < 1 || k > t.n {
		return math.NaN()
	}
	return t.at(m.PeerCDF(d), k)
}

// orderCDF is P(at least k of n independent events with probability f).
func orderCDF(f float64, k, n int) float64 {
	return newOrderCDF(n).at(f, k)
}

// orderTable evaluates orderCDF for one n with its log binomial
// coefficients computed once.
type orderTable struct {
	n  int
	lc []float64 // lc[j] = log C(n, j)
}

func newOrderCDF(n int) *orderTable {
	t := &orderTable{n: n, lc: make([]float64, n+1)}
	for j := 0; j <= n; j++ {
		t.lc[j] = lgammaInt(n+1) - lgammaInt(j+1) - lgammaInt(n-j+1)
	}
	return t
}

// at is Σ_{j=k}^{n} C(n,j) f^j (1-f)^{n-j}: the first term in logs, the
// others by the ratio f/(1−f)·(n−j)/(j+1), falling back to logs for every
// term when the first underflows.
func (t *orderTable) at(f float64, k int) float64 {
	n := t.n
	if f <= 0 {
		return 0
	}
	if f >= 1 {
		return 1
	}
	lf, lg := math.Log(f), math.Log1p(-f)
	term := math.Exp(t.lc[k] + float64(k)*lf + float64(n-k)*lg)
	sum := 0.0
	if term > 1e-280 {
		ratio := f / (1 - f)
		for j := k; j <= n; j++ {
			sum += term
			term *= ratio * float64(n-j) / float64(j+1)
		}
	} else {
		for j := k; j <= n; j++ {
			sum += math.Exp(t.lc[j] + float64(j)*lf + float64(n-j)*lg)
		}
	}
	return math.Min(1, sum)
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
// sup_x |F_n(x) - F(x)| of an ascending sample against a continuous CDF
// (NaN when the sample is empty or the CDF is NaN somewhere on it).
func KSDistance(sorted []float64, cdf func(float64) float64) float64 {
	return ksThinned(sorted, cdf, 1)
}

// ksThinned is KSDistance evaluated at every step-th order statistic (and
// the last): F_n rises by step/n between two of them and F is monotone, so
// the result is within step/n below the exact distance.
func ksThinned(sorted []float64, cdf func(float64) float64, step int) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	fn := float64(n)
	d := 0.0
	eval := func(i int) bool {
		f := cdf(sorted[i])
		if math.IsNaN(f) {
			return false
		}
		if a := float64(i+1)/fn - f; a > d {
			d = a
		}
		if b := f - float64(i)/fn; b > d {
			d = b
		}
		return true
	}
	for i := 0; i < n; i += step {
		if !eval(i) {
			return math.NaN()
		}
	}
	if (n-1)%step != 0 && !eval(n-1) {
		return math.NaN()
	}
	return d
}

// fitPoints bounds the order statistics FitStartup evaluates per
// candidate start-up.
const fitPoints = 1 << 16

// FitStartup returns the start-up s in [0, min(sample)] that minimises the
// KS distance of the pooled per-peer sample to the model, and that distance.
// The search (a grid of 65 values, then 33 around the best) evaluates at
// most 65536 evenly spaced order statistics of a larger sample, which is
// within 1/65536 of the exact distance; the distance returned for the best
// s is exact.
func (m Model) FitStartup(sorted []float64) (float64, float64) {
	if len(sorted) == 0 {
		return math.NaN(), math.NaN()
	}
	step := max(1, (len(sorted)+fitPoints-1)/fitPoints)
	hi := math.Max(sorted[0], 0)
	best, bestD := 0.0, math.Inf(1)
	eval := func(s float64) {
		mm := m
		mm.StartupMS = s
		if d := ksThinned(sorted, mm.PeerCDF, step); d < bestD {
			best, bestD = s, d
		}
	}
	const steps = 64
	for i := 0; i <= steps; i++ {
		eval(hi * float64(i) / steps)
	}
	// Refine around the best grid point.
	gstep := hi / steps
	lo := math.Max(0, best-gstep)
	top := math.Min(hi, best+gstep)
	for i := 0; i <= 32; i++ {
		eval(lo + (top-lo)*float64(i)/32)
	}
	if step > 1 {
		mm := m
		mm.StartupMS = best
		bestD = KSDistance(sorted, mm.PeerCDF)
	}
	return best, bestD
}

func lgammaInt(n int) float64 {
	v, _ := math.Lgamma(float64(n))
	return v
}
