package dockernet

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRangeEnds(t *testing.T) {
	for _, tc := range []struct {
		subnet, rng string
		want        map[string]string
	}{
		{"172.29.0.0/16", "172.29.0.0/24", map[string]string{"range-last": "172.29.0.255"}},
		{"172.29.0.0/16", "172.29.1.0/24", map[string]string{"range-first": "172.29.1.0", "range-last": "172.29.1.255"}},
		{"172.29.0.0/16", "172.29.255.0/24", map[string]string{"range-first": "172.29.255.0"}},
		{"bad", "172.29.1.0/24", nil},
	} {
		if d := cmp.Diff(tc.want, rangeEnds(tc.subnet, tc.rng)); d != "" {
			t.Errorf("rangeEnds(%s, %s) (-want +got):\n%s", tc.subnet, tc.rng, d)
		}
	}
}
