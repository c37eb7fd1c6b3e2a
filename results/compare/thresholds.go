package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/results/stats"
)

// Thresholds files are read by the project's strict YAML loader
// (internal/yamlfile) as one document of this apiVersion and kind:
//
//	apiVersion: testbed.dev/v1alpha1
//	kind: Thresholds
//	rules:
//	  - metric: allPeers      # firstPeer | allPeers | anyPeer | k<N>
//	    stat: p90             # n min p25 median p75 p90 p99 max mean stdev iqr
//	    condition: loss-10    # optional; default every condition
//	    max: 12s              # absolute limit on the candidate's stat
//	  - metric: median        # shorthand: a stat name applies to every metric
//	    maxRegressionPct: 5   # candidate stat at most 5 % above the baseline's
//	    alpha: 0.01           # ... counted only when Holm-adjusted Mann–Whitney p < alpha
const (
	ThresholdsAPIVersion = "testbed.dev/v1alpha1"
	ThresholdsKind       = "Thresholds"
	// ThresholdsExample is a thresholds file to start from.
	ThresholdsExample = "results/compare/testdata/thresholds.yaml"
)

// Threshold is one rule of a thresholds file.
type Threshold struct {
	Metric           string    `json:"metric"`
	Stat             string    `json:"stat"`
	Condition        string    `json:"condition,omitempty"`
	Max              *Duration `json:"max,omitempty"`
	MaxRegressionPct *float64  `json:"maxRegressionPct,omitempty"`
	Alpha            *float64  `json:"alpha,omitempty"`
	// Line is where the rule starts in its file.
	Line int `json:"line"`
}

// Duration is a limit with a unit ("12s", "800ms").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// ms is the duration in milliseconds.
func (d Duration) ms() float64 { return float64(time.Duration(d)) / float64(time.Millisecond) }

// thresholdsFile is the document as decoded.
type thresholdsFile struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Rules      []ruleFile `yaml:"rules"`
}

type ruleFile struct {
	Metric           string         `yaml:"metric"`
	Stat             string         `yaml:"stat"`
	Condition        string         `yaml:"condition"`
	Max              *time.Duration `yaml:"max"`
	MaxRegressionPct *float64       `yaml:"maxRegressionPct"`
	Alpha            *float64       `yaml:"alpha"`
}

// LoadThresholds reads (bounded, see yamlfile.Read) and validates a
// thresholds file.
func LoadThresholds(path string) ([]Threshold, error) {
	b, err := yamlfile.Read(path, "thresholds", ThresholdsExample)
	if err != nil {
		return nil, err
	}
	return ParseThresholds(path, b)
}

// ParseThresholds decodes a thresholds file strictly: a second document,
// unknown fields, wrong types, bad durations, an empty rule list, missing
// limits and unknown metrics or stats are all reported, each located as
// "file:line:col: path: problem (fix: …)" (a yamlfile.ErrorList).
func ParseThresholds(name string, data []byte) ([]Threshold, error) {
	var f thresholdsFile
	doc, err := yamlfile.Decode(name, data, yamlfile.Spec{APIVersion: ThresholdsAPIVersion, Kind: ThresholdsKind, Example: ThresholdsExample}, &f)
	if err != nil {
		if l, ok := yamlfile.AsErrorList(err); ok && len(l) == 1 && strings.HasPrefix(l[0].Message, "the document is a list") {
			// A bare list of rules is the format before apiVersion/kind.
			old := *l[0]
			old.Message = "this is the old thresholds format (a bare list of rules)"
			old.Fix = fmt.Sprintf("add 'apiVersion: %s' and 'kind: %s' at the top, then 'rules:' and indent the rules under it by two spaces", ThresholdsAPIVersion, ThresholdsKind)
			return nil, yamlfile.ErrorList{&old}
		}
		return nil, err
	}
	var errs yamlfile.ErrorList
	at := func(path, fix, format string, args ...any) {
		errs = append(errs, doc.Error(path, fmt.Sprintf(format, args...), fix))
	}
	if len(f.Rules) == 0 {
		at("rules", "add at least one rule under 'rules:', e.g. '- metric: median' with 'maxRegressionPct: 5'",
			"the file has no rules: an empty thresholds file would pass every comparison")
	}
	var out []Threshold
	for i, r := range f.Rules {
		p := "rules[" + strconv.Itoa(i) + "]"
		// A rule is located at its first key.
		pos := doc.Position(p)
		for _, k := range []string{"metric", "stat", "condition", "max", "maxRegressionPct", "alpha"} {
			if q := p + "." + k; doc.Has(q) {
				if kp := doc.Position(q); kp.Line < pos.Line || (kp.Line == pos.Line && kp.Column < pos.Column) {
					pos = kp
				}
			}
		}
		t := Threshold{Metric: r.Metric, Stat: r.Stat, Condition: r.Condition, MaxRegressionPct: r.MaxRegressionPct, Alpha: r.Alpha,
			Line: pos.Line}
		if r.Max != nil {
			d := Duration(*r.Max)
			t.Max = &d
		}
		// Shorthand: "metric: median" means that stat of every metric.
		if t.Stat == "" {
			if _, ok := (stats.Dist{}).Stat(t.Metric); ok {
				t.Stat, t.Metric = t.Metric, ""
			}
		}
		if t.Metric != "" && !isMetric(t.Metric) {
			at(p+".metric", "use firstPeer, allPeers, anyPeer or k<N>, or a stat name", "unknown metric %q", t.Metric)
		}
		if _, ok := (stats.Dist{}).Stat(t.Stat); !ok {
			at(p+".stat", "use one of "+strings.Join(stats.StatNames(), ", "), "unknown or missing stat %q", t.Stat)
		}
		if t.Max == nil && t.MaxRegressionPct == nil {
			errs = append(errs, &yamlfile.FieldError{File: name, Line: pos.Line, Column: pos.Column, Path: p,
				Message: "rule sets no limit", Fix: "give max (e.g. 12s) or maxRegressionPct (e.g. 5)"})
		}
		if t.Max != nil && *t.Max < 0 {
			at(p+".max", "give a positive duration such as 12s", "max %v must not be negative", time.Duration(*t.Max))
		}
		if v := t.MaxRegressionPct; v != nil && (*v < 0 || math.IsNaN(*v) || math.IsInf(*v, 0)) {
			at(p+".maxRegressionPct", "give a percentage such as 5", "maxRegressionPct %v must be a finite number ≥ 0", *v)
		}
		if v := t.Alpha; v != nil && (!(*v > 0 && *v < 1) || math.IsInf(*v, 0)) {
			at(p+".alpha", "give a significance level such as 0.01", "alpha %v must be between 0 and 1", *v)
		}
		if t.Alpha != nil && t.MaxRegressionPct == nil {
			at(p+".alpha", "add maxRegressionPct, or remove alpha", "alpha applies only with maxRegressionPct")
		}
		out = append(out, t)
	}
	if len(errs) > 0 {
		return nil, errs.Sorted()
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
