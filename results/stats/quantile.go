package stats

import (
	"math"
	"sort"
)

// Dist summarises a sample of times in ms. Quantiles are type 7 (see the
// package documentation); Mean uses a compensated sum in ascending order
// and Stdev is the sample standard deviation (n−1, corrected two-pass), so
// a Dist depends only on the values, not on how they are held.
type Dist struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	P25    float64 `json:"p25"`
	Median float64 `json:"median"`
	P75    float64 `json:"p75"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
	Stdev  float64 `json:"stdev"`
	IQR    float64 `json:"iqr"`
}

// Quantile returns the type-7 quantile of an ascending sample: with
// h = (n-1)p, x[⌊h⌋] + (h-⌊h⌋)(x[⌊h⌋+1]-x[⌊h⌋]). It returns NaN for an
// empty sample and clamps p to [0, 1].
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 || math.IsNaN(p) {
		return math.NaN()
	}
	p = math.Min(1, math.Max(0, p))
	h := float64(n-1) * p
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// Median is the type-7 median of xs, Quantile(sorted xs, 0.5): the middle
// value, or for an even count the two middle values interpolated halfway.
// NaNs are ignored and an empty sample gives NaN. xs need not be sorted and
// is not modified (an unsorted xs is copied and partially sorted, O(n)).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	// Sorted order puts NaNs first, so a sorted xs without a leading NaN
	// has none.
	if sort.Float64sAreSorted(xs) && !math.IsNaN(xs[0]) {
		return Quantile(xs, 0.5)
	}
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	hi := nth(s, n/2)
	if n%2 == 1 {
		return hi
	}
	// nth left s[:n/2] ≤ hi; its largest is the lower middle value.
	lo := s[0]
	for _, v := range s[:n/2] {
		lo = math.Max(lo, v)
	}
	// The same arithmetic as Quantile, so both agree to the last bit.
	return lo + 0.5*(hi-lo)
}

// nth partially sorts s so that s[k] is the k-th smallest, and returns it.
// Elements before k are ≤ s[k].
func nth(s []float64, k int) float64 {
	lo, hi := 0, len(s)-1
	for lo < hi {
		p := s[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for s[i] < p {
				i++
			}
			for s[j] > p {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	return s[k]
}

// Describe summarises xs (which it does not modify).
func Describe(xs []float64) Dist {
	s := sortedCopy(xs)
	return describeSorted(s)
}

func describeSorted(s []float64) Dist { return SortedOf(s).Describe() }

// Stat returns the named statistic: min, p25, median, p75, p90, p99, max,
// mean, stdev, iqr or n.
func (d Dist) Stat(name string) (float64, bool) {
	switch name {
	case "n":
		return float64(d.N), true
	case "min":
		return d.Min, true
	case "p25":
		return d.P25, true
	case "median", "p50":
		return d.Median, true
	case "p75":
		return d.P75, true
	case "p90":
		return d.P90, true
	case "p99":
		return d.P99, true
	case "max":
		return d.Max, true
	case "mean":
		return d.Mean, true
	case "stdev":
		return d.Stdev, true
	case "iqr":
		return d.IQR, true
	}
	return 0, false
}

// StatNames lists the names Dist.Stat accepts.
func StatNames() []string {
	return []string{"n", "min", "p25", "median", "p75", "p90", "p99", "max", "mean", "stdev", "iqr"}
}

func sortedCopy(xs []float64) []float64 {
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	sort.Float64s(s)
	return s
}
