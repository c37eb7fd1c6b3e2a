package sweep

import (
	"github.com/fluidos-lab/testbed/internal/yamlfile"

	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/fluidos-lab/testbed/scenarios"
)

// MaxClusters bounds a cluster count (the topology's own limit).
const MaxClusters = 256

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Load reads and validates a sweep file. Every problem is returned at once
// as a yamlfile.ErrorList located by file:line:col.
func Load(path string) (*Sweep, error) {
	data, err := yamlfile.ReadFile(path, yamlfile.DefaultLimits.MaxBytes)
	if err != nil {
		return nil, yamlfile.ErrorList{{File: path, Line: 1, Column: 1, Message: fmt.Sprintf("cannot read the sweep file: %v", err),
			Fix: "check the path"}}
	}
	return Parse(path, data)
}

// Parse is Load for content already in memory; file names the errors and
// anchors relative paths. It performs no I/O.
func Parse(file string, data []byte) (*Sweep, error) {
	f := &File{}
	doc, err := yamlfile.Decode(file, data, yamlfile.Spec{APIVersion: APIVersion, Kind: Kind, Example: "scenarios/sweep/nightly-24.yaml"}, f)
	if err != nil {
		return nil, err
	}
	var errs yamlfile.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, doc.Error(path, msg, fix)) }

	s := &Sweep{File: file, Raw: append([]byte(nil), data...), Strategy: f.Strategy, Teardown: f.Teardown,
		Runs: f.Runs, Warmup: f.Warmup, Seed: f.Seed}
	dir := filepath.Dir(file)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}

	s.Name = f.Metadata.Name
	switch {
	case s.Name == "":
		add("metadata.name", "metadata.name is required", "name the sweep, e.g. `name: nightly`")
	case len(s.Name) > 63 || !dnsLabel.MatchString(s.Name):
		add("metadata.name", fmt.Sprintf("%q is not a DNS label", s.Name), "use lower-case letters, digits and '-', at most 63 characters")
	}
	if strings.TrimSpace(f.Scenario) == "" {
		add("scenario", "scenario (the template scenario file) is required", "e.g. `scenario: ../scenarios/selftest.yaml`")
	}
	s.ScenarioFile = rel(f.Scenario)
	s.TopologyFile = rel(f.Topology)

	if len(f.Clusters) == 0 {
		add("clusters", "clusters (the cluster counts) is required", "e.g. `clusters: [2, 8, 16, 24]`")
	}
	seen := map[int]bool{}
	for i, n := range f.Clusters {
		p := "clusters[" + strconv.Itoa(i) + "]"
		switch {
		case n < 2 || n > MaxClusters:
			add(p, fmt.Sprintf("cluster count %d is out of range", n), fmt.Sprintf("use 2..%d (node A needs at least one peer)", MaxClusters))
		case seen[n]:
			add(p, fmt.Sprintf("cluster count %d is listed twice", n), "remove the duplicate")
		default:
			seen[n] = true
			s.Clusters = append(s.Clusters, n)
		}
	}
	sort.Ints(s.Clusters)

	if len(f.Conditions) == 0 {
		add("conditions", "conditions is required", "e.g. `conditions: [{loss: 0}, {loss: 20}]`")
	}
	names := map[string]bool{}
	for i, c := range f.Conditions {
		p := "conditions[" + strconv.Itoa(i) + "]"
		rc := Condition(c)
		if c.Loss < 0 || c.Loss > 100 || c.Loss != c.Loss {
			add(p+".loss", fmt.Sprintf("loss %g %% is out of range", c.Loss), "use a percentage in 0..100")
		}
		if rc.Name == "" {
			rc.Name = "loss-" + strconv.FormatFloat(c.Loss, 'f', -1, 64)
			rc.Name = strings.ReplaceAll(rc.Name, ".", "-")
		} else if len(rc.Name) > 63 || !dnsLabel.MatchString(rc.Name) {
			add(p+".name", fmt.Sprintf("%q is not a DNS label", rc.Name), "use lower-case letters, digits and '-'")
		}
		if names[rc.Name] {
			add(p, fmt.Sprintf("condition name %q is used twice", rc.Name), "give each condition a distinct name or loss")
		}
		names[rc.Name] = true
		if rc.Target == "" {
			rc.Target = scenarios.TargetPeers
		}
		switch rc.Target {
		case scenarios.TargetPeers, scenarios.TargetNodeA, scenarios.TargetBoth:
		default:
			add(p+".target", fmt.Sprintf("unknown target %q", rc.Target), "use peers, nodeA or both")
		}
		s.Conditions = append(s.Conditions, rc)
	}

	presets := scenarios.Presets()
	var known []string
	for n := range presets {
		known = append(known, n)
	}
	sort.Strings(known)
	pseen := map[string]bool{}
	for i, p := range f.Protocols {
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
		s.Protocols = append(s.Protocols, p)
	}

	if f.Runs != nil && *f.Runs < 1 {
		add("runs", fmt.Sprintf("runs %d must be at least 1", *f.Runs), "")
	}
	if f.Warmup != nil && *f.Warmup < 0 {
		add("warmup", fmt.Sprintf("warmup %d must not be negative", *f.Warmup), "")
	}
	if s.Strategy == "" {
		s.Strategy = StrategySubset
	}
	switch s.Strategy {
	case StrategySubset, StrategyReprovision:
	default:
		add("strategy", fmt.Sprintf("unknown strategy %q", s.Strategy), "use subset (provision the largest lab once) or reprovision (one lab per size)")
	}
	s.Output = rel(f.Output)
	if f.Output == "" && s.Name != "" {
		s.Output = filepath.Join(dir, "results", "sweep-"+s.Name)
	}
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	return s, nil
}
