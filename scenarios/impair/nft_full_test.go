package impair

import (
	"strings"
	"testing"
)

// TestNftMatchBounds: nft refuses a numgen constant outside 0..mod-1
// ("Value 1000000 exceeds valid range 0-999999", seen on a real node when
// the runner silenced node A), so 100 % must be written "<= 999999"; the
// parser reads both forms back as the same exclusive threshold.
func TestNftMatchBounds(t *testing.T) {
	tests := []struct {
		loss      float64
		wantRule  string
		listing   string // nft -j rule expression as nft 1.0.6 prints it
		wantThres int64
	}{
		{0, "numgen random mod 1000000 < 0 counter", `{"op": "<", "left": {"numgen": {"mode": "random", "mod": 1000000, "offset": 0}}, "right": 0}`, 0},
		{25, "numgen random mod 1000000 < 250000 counter", `{"op": "<", "left": {"numgen": {"mode": "random", "mod": 1000000, "offset": 0}}, "right": 250000}`, 250000},
		{100, "numgen random mod 1000000 <= 999999 counter", `{"op": "<=", "left": {"numgen": {"mode": "random", "mod": 1000000, "offset": 0}}, "right": 999999}`, 1000000},
	}
	for _, tt := range tests {
		script := nftScript("eth1", tt.loss)
		if !strings.Contains(script, tt.wantRule) {
			t.Errorf("loss %v: script lacks %q:\n%s", tt.loss, tt.wantRule, script)
		}
		if strings.Contains(script, "< 1000000") {
			t.Errorf("loss %v: script has a constant nft refuses:\n%s", tt.loss, script)
		}
		listing := `{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
 {"counter": {"family": "netdev", "name": "seen", "table": "testbed", "handle": 2, "packets": 40, "bytes": 0}},
 {"counter": {"family": "netdev", "name": "dropped", "table": "testbed", "handle": 3, "packets": 40, "bytes": 0}},
 {"chain": {"family": "netdev", "table": "testbed", "name": "egress", "handle": 1, "type": "filter", "hook": "egress", "prio": 0, "policy": "accept"}},
 {"rule": {"family": "netdev", "table": "testbed", "chain": "egress", "handle": 5, "expr": [{"match": ` + tt.listing + `}, {"counter": "dropped"}, {"drop": null}]}}]}`
		st, err := parseNft([]byte(listing))
		if err != nil {
			t.Fatalf("loss %v: parse: %v", tt.loss, err)
		}
		if st.Threshold != tt.wantThres || st.Mod != nftMod || min(nftThreshold(tt.loss), nftMod) != st.Threshold {
			t.Errorf("loss %v: parsed mod %d threshold %d, want %d %d", tt.loss, st.Mod, st.Threshold, nftMod, tt.wantThres)
		}
	}
}
