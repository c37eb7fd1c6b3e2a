package sweep

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/scenarios"
)

// MaxClusters bounds a cluster count (the topology's own limit).
const MaxClusters = 256

// Load reads and validates a sweep file. Every problem is returned at once
// as a yamlfile.ErrorList located by file:line:col.
func Load(path string) (*Sweep, error) {
	data, err := yamlfile.Read(path, "sweep", "scenarios/sweep/ci-2x2.yaml")
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse is Load for content already in memory; file names the errors and
// anchors relative paths. It performs no I/O.
func Parse(file string, data []byte) (*Sweep, error) {
	f := &File{}
	doc, err := yamlfile.Decode(file, data, yamlfile.Spec{APIVersion: APIVersion, Kind: Kind, Example: "scenarios/sweep/nightly-24.yaml", Ranges: ranges()}, f)
	if err != nil {
		return nil, err
	}
	var errs yamlfile.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, doc.Error(path, msg, fix)) }

	s := &Sweep{File: file, Raw: append([]byte(nil), data...), Strategy: f.Strategy, Teardown: f.Teardown,
		Runs: f.Runs, Warmup: f.Warmup, Seed: f.Seed, doc: doc}
	dir := filepath.Dir(file)

	s.Name = parseName(f.Metadata.Name, add)
	if strings.TrimSpace(f.Scenario) == "" {
		add("scenario", "scenario (the template scenario file) is required", "e.g. `scenario: ../scenarios/selftest.yaml`")
	}
	s.ScenarioFile = relativeTo(dir, f.Scenario)
	s.TopologyFile = relativeTo(dir, f.Topology)
	s.Clusters = parseClusters(f.Clusters, add)
	s.Conditions = parseConditions(f.Conditions, add)
	s.Protocols = parseProtocols(f.Protocols, add)
	checkRunCounts(f, add)
	s.Strategy = parseStrategy(s.Strategy, add)
	s.Output = outputDir(dir, f.Output, s.Name)
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	return s, nil
}

// addError records one problem at a field path of the sweep document.
type addError func(path, msg, fix string)

// relativeTo resolves p against the sweep file's directory dir; "" and
// absolute paths are returned as they are.
func relativeTo(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// parseName checks metadata.name: required and a DNS label.
func parseName(name string, add addError) string {
	switch {
	case name == "":
		add("metadata.name", "metadata.name is required", "name the sweep, e.g. `name: nightly`")
	case scenarios.NameProblem("name", name) != "":
		add("metadata.name", scenarios.NameProblem("name", name), "use lower-case letters, digits and '-'")
	}
	return name
}

// parseClusters checks the cluster counts (required, in range, distinct)
// and returns the valid ones sorted ascending.
func parseClusters(counts []int, add addError) []int {
	if len(counts) == 0 {
		add("clusters", "clusters (the cluster counts) is required", "e.g. `clusters: [2, 8, 16, 24]`")
	}
	var out []int
	seen := map[int]bool{}
	for i, n := range counts {
		p := "clusters[" + strconv.Itoa(i) + "]"
		switch {
		case clusterRange.Problem("", int64(n)) != "":
			add(p, clusterRange.Problem("", int64(n)), clusterRange.Fix)
		case seen[n]:
			add(p, fmt.Sprintf("cluster count %d is listed twice", n), "remove the duplicate")
		default:
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// parseConditions checks the impairment levels (required, distinct names)
// and returns them with their default names and targets applied.
func parseConditions(conds []ConditionFile, add addError) []Condition {
	if len(conds) == 0 {
		add("conditions", "conditions is required", "e.g. `conditions: [{loss: 0}, {loss: 20}]`")
	}
	var out []Condition
	names := map[string]bool{}
	for i, c := range conds {
		p := "conditions[" + strconv.Itoa(i) + "]"
		rc := parseCondition(p, c, add)
		if names[rc.Name] {
			add(p, fmt.Sprintf("condition name %q is used twice", rc.Name), "give each condition a distinct name or loss")
		}
		names[rc.Name] = true
		checkConditionTarget(p, &rc, add)
		out = append(out, rc)
	}
	return out
}

// parseCondition checks one condition's loss and name at path p and
// defaults its name to loss-<loss>.
func parseCondition(p string, c ConditionFile, add addError) Condition {
	rc := Condition(c)
	if c.Loss < 0 || c.Loss > 100 || c.Loss != c.Loss {
		add(p+".loss", fmt.Sprintf("loss %g %% is out of range", c.Loss), "use a percentage in 0..100")
	}
	if rc.Name == "" {
		rc.Name = "loss-" + strconv.FormatFloat(c.Loss, 'f', -1, 64)
		rc.Name = strings.ReplaceAll(rc.Name, ".", "-")
	} else if msg := scenarios.NameProblem("condition name", rc.Name); msg != "" {
		add(p+".name", msg, "use lower-case letters, digits and '-', e.g. loss-25")
	}
	return rc
}

// checkConditionTarget defaults a condition's target to peers and checks it
// is a known one.
func checkConditionTarget(p string, rc *Condition, add addError) {
	if rc.Target == "" {
		rc.Target = scenarios.TargetPeers
	}
	switch rc.Target {
	case scenarios.TargetPeers, scenarios.TargetNodeA, scenarios.TargetBoth:
	default:
		add(p+".target", fmt.Sprintf("unknown target %q", rc.Target), "use peers, nodeA or both")
	}
}

// parseProtocols checks the protocol presets (known, distinct) and returns
// the valid ones in the order written.
func parseProtocols(protocols []string, add addError) []string {
	presets := scenarios.Presets()
	var known []string
	for n := range presets {
		known = append(known, n)
	}
	sort.Strings(known)
	var out []string
	pseen := map[string]bool{}
	for i, p := range protocols {
		path := "protocols[" + strconv.Itoa(i) + "]"
		if _, ok := presets[p]; !ok {
			add(path, fmt.Sprintf("unknown protocol preset %q", p), "use one of "+strings.Join(known, ", ")+" (a custom protocol comes from the template)")
			continue
		}
		if pseen[p] {
			add(path, fmt.Sprintf("protocol %q is listed twice", p), "remove the duplicate")
			continue
		}
		pseen[p] = true
		out = append(out, p)
	}
	return out
}

// clusterRange bounds a cluster count of the matrix.
var clusterRange = yamlfile.IntRange{Min: 2, Max: MaxClusters, Name: "cluster count",
	Fix: fmt.Sprintf("use 2..%d (node A needs at least one peer)", MaxClusters)}

// ranges are the ranges of the sweep's integer fields (yamlfile.Spec):
// run counts as a scenario's (scenarios.RunCountRanges), cluster counts
// clusterRange.
func ranges() map[string]yamlfile.IntRange {
	r := scenarios.RunCountRanges()
	r["clusters[]"] = clusterRange
	return r
}

// checkRunCounts checks runs and warmup against the ranges and with the
// messages of a scenario's.
func checkRunCounts(f *File, add addError) {
	rs := scenarios.RunCountRanges()
	for _, c := range []struct {
		name string
		v    *int
	}{{"runs", f.Runs}, {"warmup", f.Warmup}} {
		if c.v == nil {
			continue
		}
		if msg := rs[c.name].Problem(c.name, int64(*c.v)); msg != "" {
			add(c.name, msg, rs[c.name].Fix)
		}
	}
}

// parseStrategy defaults the strategy to subset and checks it is a known one.
func parseStrategy(strategy string, add addError) string {
	if strategy == "" {
		strategy = StrategySubset
	}
	switch strategy {
	case StrategySubset, StrategyReprovision:
	default:
		add("strategy", fmt.Sprintf("unknown strategy %q", strategy), "use subset (provision the largest lab once) or reprovision (one lab per size)")
	}
	return strategy
}

// outputDir resolves the sweep directory: output relative to dir, else
// results/sweep-<name> beside the sweep file (when the sweep has a name).
func outputDir(dir, output, name string) string {
	if output == "" && name != "" {
		return filepath.Join(dir, "results", "sweep-"+name)
	}
	return relativeTo(dir, output)
}

// CheckReferences resolves what the sweep points at: its template scenario
// must load (and resolve its own topology and node A), and a topology the
// sweep names must load and plan. Errors of the referenced files are
// returned as they are, after one located at the sweep's field.
func CheckReferences(s *Sweep) yamlfile.ErrorList {
	at := func(path, msg, fix string) *yamlfile.FieldError {
		if s.doc != nil {
			return s.doc.Error(path, msg, fix)
		}
		return &yamlfile.FieldError{File: s.File, Line: 1, Column: 1, Path: path, Message: msg, Fix: fix}
	}
	var errs yamlfile.ErrorList
	tmpl, err := scenarios.Load(s.ScenarioFile)
	if err != nil {
		errs = append(errs, at("scenario", fmt.Sprintf("template scenario %s is not usable", s.ScenarioFile),
			"fix the errors below, or point scenario at a valid file (relative to this sweep)"))
		if list, ok := yamlfile.AsErrorList(err); ok {
			errs = append(errs, list...)
		}
		return errs
	}
	if s.TopologyFile == "" {
		return scenarios.CheckReferences(tmpl)
	}
	tmpl.TopologyFile = s.TopologyFile
	for _, e := range scenarios.CheckReferences(tmpl) {
		if e.File == tmpl.File && e.Path == "topology" {
			e = at("topology", fmt.Sprintf("topology %s is not usable", s.TopologyFile), "fix the errors below, or point topology at a valid file (relative to this sweep)")
		}
		errs = append(errs, e)
	}
	return errs
}
