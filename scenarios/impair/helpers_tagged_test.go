//go:build integration || e2e

package impair

import "math"

// deref reads an optional measurement; NaN when it was not taken.
func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
