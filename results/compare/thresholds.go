package compare

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fluidos-lab/testbed/results/stats"
)

// Threshold is one rule of a thresholds file (YAML list), e.g.
//
//   - metric: allPeers      # firstPeer | allPeers | anyPeer | k<N>
//     stat: p90             # n min p25 median p75 p90 p99 max mean stdev iqr
//     condition: loss-10    # optional; default every condition
//     max: 12s              # absolute limit on the candidate's stat
//   - metric: median        # shorthand: a stat name applies to every metric
//     maxRegressionPct: 5   # candidate stat at most 5 % above the baseline's
//     alpha: 0.01           # ... counted only when Holm-adjusted Mann–Whitney p < alpha
type Threshold struct {
	Metric           string    `yaml:"metric" json:"metric"`
	Stat             string    `yaml:"stat" json:"stat"`
	Condition        string    `yaml:"condition,omitempty" json:"condition,omitempty"`
	Max              *Duration `yaml:"max,omitempty" json:"max,omitempty"`
	MaxRegressionPct *float64  `yaml:"maxRegressionPct,omitempty" json:"maxRegressionPct,omitempty"`
	Alpha            *float64  `yaml:"alpha,omitempty" json:"alpha,omitempty"`
	// Line is where the rule starts in its file.
	Line int `yaml:"-" json:"line"`
}

// Duration is a YAML duration with a unit ("12s", "800ms").
type Duration time.Duration

// UnmarshalYAML accepts only strings time.ParseDuration understands.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return fmt.Errorf("line %d: duration %q needs a unit, e.g. 12s or 800ms", n.Line, n.Value)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// ms is the duration in milliseconds.
func (d Duration) ms() float64 { return float64(time.Duration(d)) / float64(time.Millisecond) }

func thresholdFields() []string {
	return []string{"metric", "stat", "condition", "max", "maxRegressionPct", "alpha"}
}

// LoadThresholds reads and validates a thresholds file.
func LoadThresholds(path string) ([]Threshold, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading thresholds: %w", err)
	}
	return ParseThresholds(path, b)
}

// ParseThresholds decodes a thresholds file strictly: unknown fields,
// wrong types, missing limits and unknown metrics or stats are all
// reported, each as "name:line:col: problem", joined.
func ParseThresholds(name string, data []byte) ([]Threshold, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d:%d: thresholds must be a list of rules", name, root.Line, root.Column)
	}
	var errs []error
	at := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d:%d: %s", name, n.Line, n.Column, fmt.Sprintf(format, args...)))
	}
	var out []Threshold
	for _, item := range root.Content {
		if item.Kind != yaml.MappingNode {
			at(item, "rule must be a mapping")
			continue
		}
		bad := false
		for i := 0; i+1 < len(item.Content); i += 2 {
			k := item.Content[i]
			if !slices.Contains(thresholdFields(), k.Value) {
				at(k, "unknown field %q (known: %s)", k.Value, strings.Join(thresholdFields(), ", "))
				bad = true
			}
		}
		var t Threshold
		if err := item.Decode(&t); err != nil {
			at(item, "%v", strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  "))
			continue
		}
		if bad {
			continue
		}
		t.Line = item.Line
		// Shorthand: "metric: median" means that stat of every metric.
		if t.Stat == "" {
			if _, ok := (stats.Dist{}).Stat(t.Metric); ok {
				t.Stat, t.Metric = t.Metric, ""
			}
		}
		if t.Metric != "" && !isMetric(t.Metric) {
			at(item, "unknown metric %q (use firstPeer, allPeers, anyPeer or k<N>, or a stat name)", t.Metric)
		}
		if _, ok := (stats.Dist{}).Stat(t.Stat); !ok {
			at(item, "unknown or missing stat %q (use one of %s)", t.Stat, strings.Join(stats.StatNames(), ", "))
		}
		if t.Max == nil && t.MaxRegressionPct == nil {
			at(item, "rule sets no limit: give max or maxRegressionPct")
		}
		if t.Max != nil && *t.Max < 0 {
			at(item, "max must not be negative")
		}
		if t.MaxRegressionPct != nil && (*t.MaxRegressionPct < 0 || math.IsNaN(*t.MaxRegressionPct)) {
			at(item, "maxRegressionPct must not be negative")
		}
		if t.Alpha != nil && (*t.Alpha <= 0 || *t.Alpha >= 1) {
			at(item, "alpha must be between 0 and 1")
		}
		if t.Alpha != nil && t.MaxRegressionPct == nil {
			at(item, "alpha applies only with maxRegressionPct")
		}
		out = append(out, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Breach is a threshold rule the candidate failed.
type Breach struct {
	Line      int     `json:"line"`
	Condition string  `json:"condition"`
	Metric    string  `json:"metric"`
	Stat      string  `json:"stat"`
	Value     float64 `json:"value"`
	Limit     float64 `json:"limit"`
	Message   string  `json:"message"`
}

// Check evaluates rules against the comparison and returns every breach.
// A rule naming a condition or metric absent from the comparison is a
// breach too, so a typo cannot pass silently.
func (c *Result) Check(rules []Threshold) []Breach {
	var out []Breach
	for _, t := range rules {
		matched := 0
		for _, r := range c.Rows {
			if (t.Condition != "" && r.Condition != t.Condition) || (t.Metric != "" && r.Metric != t.Metric) {
				continue
			}
			matched++
			out = append(out, checkRow(t, r)...)
		}
		if matched == 0 {
			out = append(out, Breach{Line: t.Line, Condition: t.Condition, Metric: t.Metric, Stat: t.Stat,
				Message: fmt.Sprintf("rule at line %d matches no compared condition/metric", t.Line)})
		}
	}
	return out
}

func checkRow(t Threshold, r Row) []Breach {
	var out []Breach
	cand, _ := r.Candidate.Stat(t.Stat)
	base, _ := r.Baseline.Stat(t.Stat)
	b := Breach{Line: t.Line, Condition: r.Condition, Metric: r.Metric, Stat: t.Stat, Value: cand}
	if t.Max != nil {
		if r.Candidate.N == 0 {
			b.Message = fmt.Sprintf("%s %s: no candidate samples to check max %v", r, t.Stat, time.Duration(*t.Max))
			out = append(out, b)
		} else if lim := t.Max.ms(); cand > lim {
			b.Limit = lim
			b.Message = fmt.Sprintf("%s %s = %.0f ms exceeds max %v", r, t.Stat, cand, time.Duration(*t.Max))
			out = append(out, b)
		}
	}
	if t.MaxRegressionPct != nil && r.Verdict != VerdictInsufficient && base > 0 {
		pct := 100 * (cand - base) / base
		significant := t.Alpha == nil || r.AdjustedP < *t.Alpha
		if pct > *t.MaxRegressionPct && significant {
			b.Value, b.Limit = pct, *t.MaxRegressionPct
			b.Message = fmt.Sprintf("%s %s regressed %.1f %% (%.0f → %.0f ms, Holm-adjusted Mann–Whitney p = %.3g), limit %g %%",
				r, t.Stat, pct, base, cand, r.AdjustedP, *t.MaxRegressionPct)
			out = append(out, b)
		}
	}
	return out
}
