package stats

import (
	"math"
	"slices"
	"sort"
)

// Sorted is an ascending sample held as one or more ascending parts (for
// example the k-th peer samples, which together are the pooled any-peer
// sample): its order statistics and summaries are computed by merging the
// parts on the fly, without a concatenated copy.
type Sorted struct {
	parts [][]float64
	n     int
}

// SortedOf is the multiset union of ascending parts (not copied).
func SortedOf(parts ...[]float64) Sorted {
	s := Sorted{}
	for _, p := range parts {
		if len(p) > 0 {
			s.parts = append(s.parts, p)
			s.n += len(p)
		}
	}
	return s
}

// Len is the sample size.
func (s Sorted) Len() int { return s.n }

// Slice returns the sample as one ascending slice: the part itself when
// there is one, else a merged copy.
func (s Sorted) Slice() []float64 {
	switch len(s.parts) {
	case 0:
		return nil
	case 1:
		return s.parts[0]
	}
	out := make([]float64, 0, s.n)
	c := s.Cursor()
	for v, ok := c.Next(); ok; v, ok = c.Next() {
		out = append(out, v)
	}
	return out
}

// Cursor iterates s in ascending order.
func (s Sorted) Cursor() *Cursor {
	c := &Cursor{}
	switch len(s.parts) {
	case 0:
	case 1:
		c.one = s.parts[0]
	default:
		k := len(s.parts)
		c.parts, c.k, c.left = s.parts, k, s.n
		c.pos = make([]int, k)
		c.val = make([]float64, k)
		c.done = make([]bool, k)
		for i, p := range s.parts {
			c.val[i] = p[0]
		}
		// A loser tree: node i (1 ≤ i < k) keeps the loser of the match
		// played there, tree[0] the overall winner; leaf j is node k+j.
		c.tree = make([]int, k)
		winners := make([]int, 2*k)
		for j := 0; j < k; j++ {
			winners[k+j] = j
		}
		for i := k - 1; i >= 1; i-- {
			a, b := winners[2*i], winners[2*i+1]
			if c.beats(a, b) {
				winners[i], c.tree[i] = a, b
			} else {
				winners[i], c.tree[i] = b, a
			}
		}
		c.tree[0] = winners[1]
	}
	return c
}

// Cursor is an ascending iteration over a Sorted (a k-way merge).
type Cursor struct {
	one   []float64
	i     int
	parts [][]float64
	k     int
	left  int
	pos   []int
	val   []float64
	done  []bool
	tree  []int
}

// beats reports whether part a's head comes before part b's.
func (c *Cursor) beats(a, b int) bool {
	switch {
	case c.done[a]:
		return false
	case c.done[b]:
		return true
	}
	return c.val[a] < c.val[b] || (c.val[a] == c.val[b] && a < b)
}

// Next returns the next value; ok is false at the end.
func (c *Cursor) Next() (float64, bool) {
	if c.parts == nil {
		if c.i < len(c.one) {
			c.i++
			return c.one[c.i-1], true
		}
		return 0, false
	}
	if c.left == 0 {
		return 0, false
	}
	c.left--
	w := c.tree[0]
	v := c.val[w]
	c.pos[w]++
	if c.pos[w] < len(c.parts[w]) {
		c.val[w] = c.parts[w][c.pos[w]]
	} else {
		c.done[w] = true
	}
	for node := (w + c.k) / 2; node > 0; node /= 2 {
		if l := c.tree[node]; c.beats(l, w) {
			c.tree[node], w = w, l
		}
	}
	c.tree[0] = w
	return v, true
}

// At returns the values at the given 0-based ranks (ascending ranks,
// repeats allowed), in one merged pass.
func (s Sorted) At(ranks []int) []float64 {
	out := make([]float64, len(ranks))
	if len(s.parts) == 1 {
		for i, r := range ranks {
			out[i] = s.parts[0][r]
		}
		return out
	}
	c := s.Cursor()
	pos, v := -1, 0.0
	for i, r := range ranks {
		for pos < r {
			v, _ = c.Next()
			pos++
		}
		out[i] = v
	}
	return out
}

// Describe summarises the sample (the same Dist as Describe of the
// concatenated values).
func (s Sorted) Describe() Dist {
	n := s.n
	if n == 0 {
		return Dist{}
	}
	probs := []float64{0.25, 0.5, 0.75, 0.90, 0.99}
	var ranks []int
	for _, p := range probs {
		lo := int(math.Floor(float64(n-1) * p))
		ranks = append(ranks, lo, min(lo+1, n-1))
	}
	ranks = append(ranks, 0, n-1)
	sorted := slices.Clone(ranks)
	sort.Ints(sorted)
	// One pass: the ranked values and the sum; a second: the deviations.
	vals := map[int]float64{}
	var sum kahan
	c := s.Cursor()
	next := 0
	for i := 0; i < n; i++ {
		v, _ := c.Next()
		sum.add(v)
		for next < len(sorted) && sorted[next] == i {
			vals[i] = v
			next++
		}
	}
	q := func(p float64) float64 {
		h := float64(n-1) * p
		lo := int(math.Floor(h))
		if lo >= n-1 {
			return vals[n-1]
		}
		return vals[lo] + (h-float64(lo))*(vals[lo+1]-vals[lo])
	}
	d := Dist{N: n, Min: vals[0], Max: vals[n-1], P25: q(0.25), Median: q(0.5), P75: q(0.75), P90: q(0.90), P99: q(0.99)}
	d.Mean = sum.sum() / float64(n)
	if n > 1 {
		var ss, comp kahan
		c := s.Cursor()
		for v, ok := c.Next(); ok; v, ok = c.Next() {
			dv := v - d.Mean
			ss.add(dv * dv)
			comp.add(dv)
		}
		cs := comp.sum()
		d.Stdev = math.Sqrt((ss.sum() - cs*cs/float64(n)) / float64(n-1))
	}
	d.IQR = d.P75 - d.P25
	return d
}

// kahan is a Neumaier compensated sum: deterministic for a given order and
// accurate to a few ulps whatever the sample size.
type kahan struct{ s, c float64 }

func (k *kahan) add(v float64) {
	t := k.s + v
	if math.Abs(k.s) >= math.Abs(v) {
		k.c += (k.s - t) + v
	} else {
		k.c += (v - t) + k.s
	}
	k.s = t
}

func (k *kahan) sum() float64 { return k.s + k.c }

// floats is an append-only sample stored in chunks, so that growing it
// never copies and never leaves a half-empty doubled array behind.
type floats struct {
	chunks [][]float64
	n      int
}

const maxChunk = 1 << 16

func (f *floats) add(v float64) {
	if len(f.chunks) == 0 || len(f.chunks[len(f.chunks)-1]) == cap(f.chunks[len(f.chunks)-1]) {
		f.chunks = append(f.chunks, make([]float64, 0, min(max(64, f.n), maxChunk)))
	}
	last := &f.chunks[len(f.chunks)-1]
	*last = append(*last, v)
	f.n++
}

// take returns the values as one exact-size slice in insertion order and
// empties f, releasing each chunk as soon as it is copied.
func (f *floats) take() []float64 {
	if f.n == 0 {
		f.chunks = nil
		return nil
	}
	out := make([]float64, 0, f.n)
	for i, c := range f.chunks {
		out = append(out, c...)
		f.chunks[i] = nil
	}
	f.chunks, f.n = nil, 0
	return out
}

// sortedParts sorts each chunk in place (NaN dropped) and hands them over:
// a Sorted of the parts needs no concatenated copy.
func (f *floats) sortedParts() Sorted {
	parts := f.chunks
	for i, c := range parts {
		c = slices.DeleteFunc(c, math.IsNaN)
		sort.Float64s(c)
		parts[i] = c
	}
	f.chunks, f.n = nil, 0
	return SortedOf(parts...)
}

// sortedTake is take, sorted ascending (NaN dropped).
func (f *floats) sortedTake() []float64 {
	s := f.take()
	s = slices.DeleteFunc(s, math.IsNaN)
	sort.Float64s(s)
	return s
}
