package compare

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

func TestMannWhitneyP(t *testing.T) {
	tests := []struct {
		name   string
		x, y   []float64
		lo, hi float64
	}{
		// Hand computed: ranks of x = 1,2,3 → R1 = 6, U = 0, μ = 4.5,
		// σ² = 9·7/12 = 5.25, z = (4.5−0.5)/√5.25 = 1.7457, p = 0.0809.
		{"separated 3v3", []float64{1, 2, 3}, []float64{4, 5, 6}, 0.0808, 0.0810},
		{"identical", []float64{1, 2, 3, 4}, []float64{1, 2, 3, 4}, 0.99, 1},
		{"all tied", []float64{5, 5, 5}, []float64{5, 5}, 1, 1},
		// Ties: x = 1,2,2 y = 2,3,3: ranks 1, 3,3,3 | 3, 5.5,5.5; R1 = 7, U = 1,
		// tie term (27−3)+(8−2) = 30, σ² = 9/12·(7 − 30/30) = 4.5,
		// z = (3.5−0.5)/√4.5 = 1.4142, p = 0.1573.
		{"ties", []float64{1, 2, 2}, []float64{2, 3, 3}, 0.1572, 0.1574},
	}
	for _, tc := range tests {
		if p := MannWhitneyP(tc.x, tc.y); p < tc.lo || p > tc.hi {
			t.Errorf("%s: p = %.5f, want in [%v, %v]", tc.name, p, tc.lo, tc.hi)
		}
	}
}

func TestKSTwoSample(t *testing.T) {
	d, p := KSTwoSample([]float64{1, 2, 3, 4}, []float64{5, 6, 7, 8})
	if d != 1 || p > 0.05 {
		t.Errorf("disjoint: D=%v p=%v", d, p)
	}
	d, p = KSTwoSample([]float64{1, 2, 3, 4}, []float64{1, 2, 3, 4})
	if d != 0 || p != 1 {
		t.Errorf("identical: D=%v p=%v", d, p)
	}
	// λ = 1.36 is the 5 % critical value of the Kolmogorov distribution.
	if q := qKS(1.358); math.Abs(q-0.05) > 0.001 {
		t.Errorf("qKS(1.358) = %v, want 0.05", q)
	}
}

func synthPair(shift float64, seedB uint64) (*store.Campaign, *store.Campaign) {
	o := stats.SynthOptions{Seed: 21, Peers: 4, Runs: 120, Warmup: 1, LossPcts: []float64{0, 20}, IntervalMS: 5000, StartupMS: 900, StartupJitterMS: 100}
	base := stats.Synthesize(o)
	o.Seed, o.ShiftMS, o.Campaign = seedB, shift, "candidate"
	return base, stats.Synthesize(o)
}

func TestCompare(t *testing.T) {
	t.Run("identical distribution passes", func(t *testing.T) {
		base, cand := synthPair(0, 22)
		c := Campaigns(base, cand, Options{Seed: 1, Bootstrap: 500})
		if len(c.Rows) != 2*(3+4) {
			t.Fatalf("rows = %d", len(c.Rows))
		}
		for _, r := range c.Rows {
			if r.Verdict == VerdictRegression || r.Verdict == VerdictImprovement {
				t.Errorf("%s: verdict %s (p=%.3g, CI %.0f..%.0f)", r, r.Verdict, r.MannWhitneyP, r.CILowMS, r.CIHighMS)
			}
		}
	})
	t.Run("shifted distribution is a regression", func(t *testing.T) {
		base, cand := synthPair(1500, 22)
		c := Campaigns(base, cand, Options{Seed: 1, Bootstrap: 500})
		for _, r := range c.Rows {
			if r.Metric != MetricFirstPeer && r.Metric != MetricAnyPeer && r.Metric != "k1" {
				continue
			}
			if r.Verdict != VerdictRegression || r.KSP > 0.01 || r.CILowMS <= 0 || math.Abs(r.MedianDeltaMS-1500) > 700 {
				t.Errorf("%s: verdict %s, Δ=%.0f CI %.0f..%.0f MW p=%.3g KS p=%.3g", r, r.Verdict, r.MedianDeltaMS, r.CILowMS, r.CIHighMS, r.MannWhitneyP, r.KSP)
			}
		}
		// Reversed, the shift is an improvement.
		back := Campaigns(cand, base, Options{Seed: 1, Bootstrap: 500})
		if v := back.Rows[0].Verdict; v != VerdictImprovement {
			t.Errorf("reversed verdict %s", v)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		base, cand := synthPair(300, 22)
		a := Campaigns(base, cand, Options{Seed: 9, Bootstrap: 300})
		b := Campaigns(base, cand, Options{Seed: 9, Bootstrap: 300})
		for i := range a.Rows {
			if a.Rows[i].CILowMS != b.Rows[i].CILowMS || a.Rows[i].CIHighMS != b.Rows[i].CIHighMS {
				t.Fatalf("bootstrap not deterministic at %s", a.Rows[i])
			}
		}
	})
	t.Run("unmatched conditions", func(t *testing.T) {
		base, _ := synthPair(0, 22)
		other := stats.Synthesize(stats.SynthOptions{Seed: 3, Peers: 4, Runs: 5, LossPcts: []float64{0, 50}, IntervalMS: 5000})
		c := Campaigns(base, other, Options{Bootstrap: MinBootstrap})
		if !slices.Equal(c.Unmatched, []string{"loss-20 (baseline only)", "loss-50 (candidate only)"}) {
			t.Errorf("unmatched = %q", c.Unmatched)
		}
	})
}

const thresholdsHeader = "apiVersion: testbed.dev/v1alpha1\nkind: Thresholds\nrules:\n"

func TestParseThresholds(t *testing.T) {
	good := thresholdsHeader + `  - metric: allPeers
    stat: p90
    condition: loss-10
    max: 12s
  - metric: median
    maxRegressionPct: 5
    alpha: 0.01
`
	rules, err := ParseThresholds("t.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].Max == nil || rules[0].Max.ms() != 12000 || rules[0].Line != 4 ||
		rules[1].Metric != "" || rules[1].Stat != "median" || *rules[1].Alpha != 0.01 || rules[1].Line != 8 {
		t.Fatalf("rules = %+v", rules)
	}
	// The example file the loader's errors point to is valid.
	if _, err := LoadThresholds(filepath.Join("testdata", "thresholds.yaml")); err != nil {
		t.Errorf("%s: %v", ThresholdsExample, err)
	}
	h := thresholdsHeader
	bad := []struct {
		name, in string
		want     []string
	}{
		// Each of these was accepted (or failed open) by the old loader.
		{"empty file", "", []string{"t.yaml:1:1: the file is empty", ThresholdsExample}},
		{"comments only", "# nothing\n", []string{"the file is empty"}},
		{"no rules", "apiVersion: testbed.dev/v1alpha1\nkind: Thresholds\n", []string{"t.yaml:1:1: rules: the file has no rules"}},
		{"empty rule list", h[:len(h)-1] + " []\n", []string{"t.yaml:3:1: rules: the file has no rules", "add at least one rule"}},
		{"second document", h + "  - metric: median\n    maxRegressionPct: 5\n---\n" + h + "  - metric: median\n    max: 1s\n",
			[]string{"t.yaml:7:11: the file holds more than one YAML document", "remove the extra '---' section"}},
		{"old format", "- metric: allPeers\n  stat: p90\n  max: 3s\n",
			[]string{"t.yaml:1:1: this is the old thresholds format", "apiVersion: testbed.dev/v1alpha1", "kind: Thresholds", "rules:"}},
		{"wrong kind", "apiVersion: testbed.dev/v1alpha1\nkind: Topology\nrules: []\n", []string{"t.yaml:2:7: kind: kind is \"Topology\", want \"Thresholds\""}},
		// Located field errors.
		{"unknown field", h + "  - metric: allPeers\n    stat: p90\n    maxx: 3s\n", []string{"t.yaml:6:5: rules[0].maxx: unknown field \"maxx\"", "did you mean \"max\""}},
		{"bare number duration", h + "  - metric: allPeers\n    stat: p90\n    max: 12\n", []string{"t.yaml:6:10: rules[0].max: expected a duration, got an integer (12)"}},
		{"bad duration", h + "  - metric: allPeers\n    stat: p90\n    max: 12 s\n", []string{"t.yaml:6:10: rules[0].max: invalid duration \"12 s\""}},
		{"negative duration", h + "  - metric: allPeers\n    stat: p90\n    max: -3s\n", []string{"t.yaml:6:5: rules[0].max: max -3s must not be negative"}},
		{"no limit", h + "  - metric: allPeers\n    stat: p90\n", []string{"t.yaml:4:5: rules[0]: rule sets no limit"}},
		{"unknown metric and stat", h + "  - metric: everything\n    stat: p95\n    max: 1s\n",
			[]string{"t.yaml:4:5: rules[0].metric: unknown metric \"everything\"", "t.yaml:5:5: rules[0].stat: unknown or missing stat \"p95\""}},
		{"bad alpha", h + "  - stat: median\n    maxRegressionPct: 5\n    alpha: 2\n", []string{"t.yaml:6:5: rules[0].alpha: alpha 2 must be between 0 and 1"}},
		{"NaN regression", h + "  - stat: median\n    maxRegressionPct: .nan\n", []string{"t.yaml:5:23: rules[0].maxRegressionPct: expected a number"}},
		{"two bad rules both reported", h + "  - stat: p90\n  - stat: nope\n    max: 1s\n",
			[]string{"t.yaml:4:5: rules[0]: rule sets no limit", "t.yaml:5:5: rules[1].stat: unknown or missing stat"}},
		{"syntax", h + "  - metric: [\n", []string{"t.yaml"}},
	}
	for _, tc := range bad {
		_, err := ParseThresholds("t.yaml", []byte(tc.in))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestCheckThresholds(t *testing.T) {
	base, cand := synthPair(2000, 22)
	c := Campaigns(base, cand, Options{Seed: 1, Bootstrap: 200})
	rules, err := ParseThresholds("t.yaml", []byte(thresholdsHeader+`  - metric: firstPeer
    stat: median
    condition: loss-0
    max: 1h
  - metric: median
    maxRegressionPct: 5
    alpha: 0.01
  - metric: allPeers
    stat: p90
    condition: loss-99
    max: 1s
`))
	if err != nil {
		t.Fatal(err)
	}
	breaches := c.Check(rules)
	var regress, missing int
	for _, b := range breaches {
		switch b.Line {
		case 4:
			t.Errorf("generous max breached: %s", b.Message)
		case 8:
			regress++
		case 11:
			missing++
		}
	}
	if regress == 0 || missing != 1 {
		t.Errorf("breaches: %d regressions, %d missing-condition; %+v", regress, missing, breaches)
	}
	same, cand2 := synthPair(0, 22)
	if b := Campaigns(same, cand2, Options{Seed: 1, Bootstrap: 200}).Check(rules[:2]); len(b) != 0 {
		t.Errorf("identical campaigns breach: %+v", b)
	}
}

func TestHolm(t *testing.T) {
	rows := []Row{{MannWhitneyP: 0.01}, {MannWhitneyP: 0.04}, {MannWhitneyP: 0.03}, {Verdict: VerdictInsufficient, MannWhitneyP: 1}}
	holm(rows)
	// m = 3: 0.01·3 = 0.03; 0.03·2 = 0.06; max(0.06, 0.04·1) = 0.06.
	want := []float64{0.03, 0.06, 0.06, 1}
	for i, w := range want {
		if math.Abs(rows[i].AdjustedP-w) > 1e-12 {
			t.Errorf("row %d adjusted %v, want %v", i, rows[i].AdjustedP, w)
		}
	}
}
