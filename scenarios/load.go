package scenarios

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/scenarios/impair"
)

// Defaults applied by Load.
const (
	DefaultRuns             = 100
	DefaultWarmup           = 1
	DefaultDelayBetweenRuns = 2 * time.Second
	DefaultRunTimeout       = 60 * time.Second
	// MaxRuns bounds runs and warm-up runs per condition (a campaign of
	// 100 000 runs takes about two weeks); MaxNameLength bounds scenario
	// and condition names (DNS labels, as in sweeps and topologies).
	MaxRuns       = 100000
	MaxNameLength = 63
)

var (
	runsRange   = yamlfile.IntRange{Min: 1, Max: MaxRuns, Fix: "e.g. runs: 100 (the reference study's count)"}
	warmupRange = yamlfile.IntRange{Min: 0, Max: MaxRuns, Fix: "e.g. warmup: 1"}
)

// RunCountRanges bound the run counts of scenario and sweep files alike
// (yamlfile.Spec.Ranges): runs from 1 and warm-up runs from 0, both up to
// MaxRuns, so that 1e9, 10^9 in digits and 99999999999999999999 are all
// refused at their line with the limit.
func RunCountRanges() map[string]yamlfile.IntRange {
	return map[string]yamlfile.IntRange{"runs": runsRange, "warmup": warmupRange, "conditions[].runs": runsRange}
}

var (
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	fieldPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	netemRate = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit|tbit|bps|kbps|mbps|gbps|tbps)$`)
)

// Load reads and validates a scenario file. Every problem is returned at
// once as an ErrorList located by file:line:col.
func Load(path string) (*Scenario, error) {
	data, err := yamlfile.Read(path, "scenario", "scenarios/selftest.yaml")
	if err != nil {
		return nil, err
	}
	return LoadBytes(path, data)
}

// LoadBytes validates scenario bytes named file (used to locate errors and to
// resolve relative paths).
func LoadBytes(file string, data []byte) (*Scenario, error) {
	var raw File
	doc, err := yamlfile.Decode(file, data, yamlfile.Spec{APIVersion: APIVersion, Kind: Kind, Example: "scenarios/selftest.yaml", Ranges: RunCountRanges()}, &raw)
	if err != nil {
		return nil, err
	}
	s, errs := resolve(file, &raw, doc)
	if len(errs) > 0 {
		return nil, errs.Sorted()
	}
	s.Raw = append([]byte(nil), data...)
	return s, nil
}

// resolve validates the decoded scenario f and applies every default; the
// problems are located in l.
func resolve(file string, f *File, l *yamlfile.Document) (*Scenario, yamlfile.ErrorList) {
	var errs yamlfile.ErrorList
	dir := filepath.Dir(file)
	s := &Scenario{File: file, Name: f.Metadata.Name, NodeA: f.NodeA, doc: l}

	errs = append(errs, resolveIdentity(f, dir, s, l)...)

	// Protocol.
	p, perrs := resolveProtocol(&f.Protocol, l)
	errs = append(errs, perrs...)
	s.Protocol = p

	runs, rerrs := resolveRuns(f, p, s, l)
	errs = append(errs, rerrs...)

	errs = append(errs, resolvePhase(&f.Phase, p, s, l)...)

	if f.Seed != nil {
		s.Seed, s.SeedGiven = *f.Seed, true
	} else {
		s.Seed = drawSeed()
	}

	errs = append(errs, resolveMeasurements(f.Measurements, s, l)...)
	errs = append(errs, resolveConditions(f.Conditions, runs, s, l)...)
	s.Output = resolveOutput(dir, f.Output)
	errs = append(errs, resolveReference(f.Reference, s, l)...)
	return s, errs
}

// resolveIdentity checks the scenario's name and node A, and resolves its
// topology file against dir.
func resolveIdentity(f *File, dir string, s *Scenario, l *yamlfile.Document) yamlfile.ErrorList {
	var errs yamlfile.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, l.Error(path, msg, fix)) }
	if msg := NameProblem("name", s.Name); msg != "" {
		add("metadata.name", msg, "use lower-case letters, digits and '-'")
	}
	if f.Topology == "" {
		add("topology", "topology is required", "give the topology file, relative to this file, e.g. ../topology/ci-3-nodes.yaml")
	} else if filepath.IsAbs(f.Topology) {
		s.TopologyFile = f.Topology
	} else {
		s.TopologyFile = filepath.Join(dir, f.Topology)
	}
	if s.NodeA == "" {
		add("nodeA", "nodeA is required", "name the cluster to cycle, e.g. node-01")
	} else if msg := NameProblem("nodeA", s.NodeA); msg != "" {
		add("nodeA", msg, "use a cluster name from the topology")
	}
	return errs
}

// resolveRuns sets the warm-up, delay between runs and run timeout (the
// timeout checked against p's announce interval) and returns the default
// run count of the conditions.
func resolveRuns(f *File, p Protocol, s *Scenario, l *yamlfile.Document) (int, yamlfile.ErrorList) {
	var errs yamlfile.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, l.Error(path, msg, fix)) }
	// Decode refused a count it could not decode (1e9) naming the same
	// ranges.
	runs := intOr(f.Runs, DefaultRuns)
	if msg := runsRange.Problem("runs", int64(runs)); msg != "" {
		add("runs", msg, runsRange.Fix)
	}
	s.Warmup = intOr(f.Warmup, DefaultWarmup)
	if msg := warmupRange.Problem("warmup", int64(s.Warmup)); msg != "" {
		add("warmup", msg, warmupRange.Fix)
	}
	s.DelayBetweenRuns = durOr(f.DelayBetweenRuns, DefaultDelayBetweenRuns)
	if s.DelayBetweenRuns < 0 {
		add("delayBetweenRuns", "delayBetweenRuns is negative", "")
	}
	s.RunTimeout = durOr(f.RunTimeout, DefaultRunTimeout)
	if s.RunTimeout <= 0 {
		add("runTimeout", "runTimeout must be positive", "e.g. 40s")
	} else if p.AnnounceInterval > 0 && s.RunTimeout < p.AnnounceInterval {
		add("runTimeout", fmt.Sprintf("runTimeout %s is shorter than the announce interval %s", s.RunTimeout, p.AnnounceInterval), "allow several announce intervals, e.g. 40s")
	}
	return runs, errs
}

// resolveMeasurements sets the measurements (default: discovery) and checks
// each is implemented, listed once, and compatible with the others.
func resolveMeasurements(measurements []string, s *Scenario, l *yamlfile.Document) yamlfile.ErrorList {
	var errs yamlfile.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, l.Error(path, msg, fix)) }
	s.Measurements = measurements
	if len(s.Measurements) == 0 {
		s.Measurements = []string{MeasureDiscovery}
	}
	seen := map[string]bool{}
	for i, m := range s.Measurements {
		path := fmt.Sprintf("measurements[%d]", i)
		switch m {
		case MeasureDiscovery, MeasureReverse, MeasureFailureDetection, MeasureGracefulLeave:
		case MeasureGroupIsolation:
			add(path, "groupIsolation is not implemented by this runner", "remove it; the reference agent's groups are not measured yet")
		default:
			add(path, fmt.Sprintf("unknown measurement %q", m), "use discovery, reverse, failureDetection or gracefulLeave")
		}
		if seen[m] {
			add(path, fmt.Sprintf("measurement %q listed twice", m), "")
		}
		seen[m] = true
	}
	if seen[MeasureFailureDetection] && seen[MeasureGracefulLeave] {
		add("measurements", "failureDetection and gracefulLeave both end node A's run", "measure them in separate scenarios")
	}
	return errs
}

// resolveConditions resolves every condition (runs is the default run
// count) into s and checks there is at least one and their names are
// unique.
func resolveConditions(conds []ConditionFile, runs int, s *Scenario, l *yamlfile.Document) yamlfile.ErrorList {
	var errs yamlfile.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, l.Error(path, msg, fix)) }
	if len(conds) == 0 {
		add("conditions", "at least one condition is required", "e.g. `conditions: [{name: loss-0, impairment: {loss: 0}}]`")
	}
	names := map[string]bool{}
	for i := range conds {
		c, cerrs := resolveCondition(i, &conds[i], runs, s.Warmup, l)
		errs = append(errs, cerrs...)
		if names[c.Name] {
			add(fmt.Sprintf("conditions[%d].name", i), fmt.Sprintf("condition name %q is used twice", c.Name), "give every condition a unique name")
		}
		names[c.Name] = true
		s.Conditions = append(s.Conditions, c)
	}
	return errs
}

// truncate shortens s for an error message.
// NameProblem says why name (what: "condition name", "nodeA") cannot be a
// scenario or sweep name: every one is a DNS label of at most
// MaxNameLength characters, like a topology's names, because each ends up
// in file names, labels and Kubernetes objects. "" when it can.
func NameProblem(what, name string) string {
	if dnsLabel.MatchString(name) && len(name) <= MaxNameLength {
		return ""
	}
	return fmt.Sprintf("%s %q is not a DNS label of at most %d characters", what, truncate(name, 80), MaxNameLength)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// resolveOutput resolves the output directory against dir ("" stays "").
func resolveOutput(dir, output string) string {
	if output == "" || filepath.IsAbs(output) {
		return output
	}
	return filepath.Join(dir, output)
}

// resolveReference checks the published figure the report compares with.
func resolveReference(ref *ReferenceFile, s *Scenario, l *yamlfile.Document) yamlfile.ErrorList {
	var errs yamlfile.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, l.Error(path, msg, fix)) }
	if ref == nil {
		return nil
	}
	if strings.TrimSpace(ref.Source) == "" || len(ref.Source) > 200 {
		add("reference.source", "reference.source must name the publication (at most 200 characters)", `e.g. source: "thesis §6.2, fig. 6.1"`)
	}
	if ref.FirstPeer <= 0 {
		add("reference.firstPeer", "reference.firstPeer must be a positive duration", "give the published time, e.g. firstPeer: 2.968s")
	}
	if len(ref.Note) > 500 {
		add("reference.note", "reference.note is longer than 500 characters", "shorten it")
	}
	s.Reference = ref
	return errs
}

// resolvePhase sets the run phase: random (a uniform pause of at most
// phase.max) or aligned, also written fixed-cycle (each start a fixed cycle
// phase.cycle after the previous run's end).
func resolvePhase(f *PhaseFile, p Protocol, s *Scenario, l *yamlfile.Document) yamlfile.ErrorList {
	var errs yamlfile.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, l.Error(path, msg, fix)) }
	switch f.Mode {
	case "", PhaseRandom:
		s.Phase = PhaseRandom
		s.PhaseMax = durOr(f.Max, p.AnnounceInterval)
		if s.PhaseMax < 0 {
			add("phase.max", "phase.max is negative", "")
		}
		if f.Cycle != nil {
			add("phase.cycle", "phase.cycle applies only to phase.mode aligned", "remove phase.cycle or use mode aligned")
		}
	case PhaseAligned, PhaseFixedCycle:
		s.Phase = PhaseAligned
		if f.Max != nil {
			add("phase.max", "phase.max applies only to phase.mode random", "remove phase.max or use mode random")
		}
		if f.Cycle != nil {
			s.PhaseCycle = *f.Cycle
			if s.PhaseCycle <= 0 {
				add("phase.cycle", "phase.cycle must be positive", "give C, e.g. 7s, or leave it out to derive it from the first reset")
			}
		}
	default:
		add("phase.mode", fmt.Sprintf("unknown phase mode %q", f.Mode), "use random (default) or aligned (also written fixed-cycle)")
	}
	return errs
}

func resolveProtocol(f *ProtocolFile, l *yamlfile.Document) (Protocol, yamlfile.ErrorList) {
	var errs yamlfile.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, l.Error(path, msg, fix)) }
	var p Protocol
	switch f.Preset {
	case PresetCustom:
		if f.Custom == nil {
			add("protocol.custom", "preset custom needs protocol.custom", "describe workload, peerResource, identityField and identityMatch")
			break
		}
		c := f.Custom
		p = Protocol{Name: PresetCustom, WorkloadKind: c.Workload.Kind, WorkloadName: c.Workload.Name,
			WorkloadNamespace: c.Workload.Namespace, Group: c.PeerResource.Group, Version: c.PeerResource.Version,
			Resource: c.PeerResource.Resource, PeerNamespace: c.PeerResource.Namespace, IdentityMatch: c.IdentityMatch}
		if p.PeerNamespace == "" {
			p.PeerNamespace = p.WorkloadNamespace
		}
		if p.WorkloadKind != WorkloadDaemonSet && p.WorkloadKind != WorkloadDeployment {
			add("protocol.custom.workload.kind", fmt.Sprintf("workload kind %q is not supported", p.WorkloadKind), "use DaemonSet or Deployment")
		}
		for _, kv := range [][2]string{{"workload.name", p.WorkloadName}, {"workload.namespace", p.WorkloadNamespace}, {"peerResource.resource", p.Resource}} {
			if !dnsLabel.MatchString(kv[1]) {
				add("protocol.custom."+kv[0], fmt.Sprintf("%s %q is not a DNS label", kv[0], kv[1]), "")
			}
		}
		if c.PeerResource.Namespace != "" && !dnsLabel.MatchString(c.PeerResource.Namespace) {
			add("protocol.custom.peerResource.namespace", fmt.Sprintf("namespace %q is not a DNS label", c.PeerResource.Namespace), "")
		}
		if p.Version == "" {
			add("protocol.custom.peerResource.version", "peerResource.version is required", "e.g. v1alpha1")
		}
		if !fieldPath.MatchString(c.IdentityField) {
			add("protocol.custom.identityField", fmt.Sprintf("identityField %q is not a dotted field path", c.IdentityField), "e.g. spec.address")
		} else {
			p.IdentityPath = strings.Split(c.IdentityField, ".")
		}
		if p.IdentityMatch != MatchClusterName && p.IdentityMatch != MatchNodeAddress {
			add("protocol.custom.identityMatch", fmt.Sprintf("identityMatch %q is not supported", p.IdentityMatch), "use clusterName or nodeAddress")
		}
		p.AnnounceInterval = DefaultAnnounceInterval
	case "":
		add("protocol.preset", "protocol.preset is required", "use network-manager, neuropil, reference-agent or custom")
	default:
		pp, ok := Presets()[f.Preset]
		if !ok {
			add("protocol.preset", fmt.Sprintf("unknown protocol preset %q", f.Preset), "use network-manager, neuropil, reference-agent or custom")
			break
		}
		p = pp
		if f.Custom != nil {
			add("protocol.custom", "protocol.custom applies only to preset custom", "remove it or set `preset: custom`")
		}
	}
	if f.AnnounceInterval != nil {
		p.AnnounceInterval = *f.AnnounceInterval
		if p.AnnounceInterval <= 0 {
			add("protocol.announceInterval", "announceInterval must be positive", "e.g. 5s")
		}
	}
	if f.AnnounceGroup != nil {
		g, err := parseAnnounceGroup(*f.AnnounceGroup)
		if err != nil {
			add("protocol.announceGroup", err.Error(), `an IPv4 multicast group:port such as 239.11.11.1:4000, or "none"`)
		}
		p.AnnounceGroup = g
	}
	return p, errs
}

func resolveCondition(i int, f *ConditionFile, runs, warmup int, l *yamlfile.Document) (Condition, yamlfile.ErrorList) {
	var errs yamlfile.ErrorList
	base := fmt.Sprintf("conditions[%d]", i)
	add := func(path, msg, fix string) { errs = append(errs, l.Error(base+path, msg, fix)) }
	c := Condition{Name: f.Name, Runs: intOr(f.Runs, runs), Warmup: warmup, Target: f.Target}
	if msg := NameProblem("condition name", c.Name); msg != "" {
		add(".name", msg, "use lower-case letters, digits and '-', e.g. loss-25")
	}
	if f.Runs != nil { // an inherited count was checked at the scenario's runs
		if msg := runsRange.Problem("runs", int64(c.Runs)); msg != "" {
			add(".runs", msg, runsRange.Fix)
		}
	}
	switch c.Target {
	case "":
		c.Target = TargetPeers
	case TargetPeers, TargetNodeA, TargetBoth:
	default:
		add(".target", fmt.Sprintf("unknown target %q", c.Target), "use peers, nodeA or both")
	}
	im := f.Impairment
	pct := func(path string, v *float64) float64 {
		if v == nil {
			return 0
		}
		if math.IsNaN(*v) || *v < 0 || *v > 100 {
			add(".impairment."+path, fmt.Sprintf("%s is %v, must be a percentage 0..100", path, *v), "")
			return 0
		}
		return *v
	}
	dur := func(path string, v *time.Duration) time.Duration {
		if v == nil {
			return 0
		}
		if *v < 0 {
			add(".impairment."+path, fmt.Sprintf("%s is negative", path), "")
			return 0
		}
		return *v
	}
	c.Impairment = impair.Spec{
		LossPct: pct("loss", im.Loss), CorrelationPct: pct("correlation", im.Correlation),
		DuplicatePct: pct("duplicate", im.Duplicate), CorruptPct: pct("corrupt", im.Corrupt),
		Delay: dur("delay", im.Delay), Jitter: dur("jitter", im.Jitter), Rate: im.Rate,
	}
	if im.Rate != "" && !netemRate.MatchString(im.Rate) {
		add(".impairment.rate", fmt.Sprintf("rate %q is not a netem rate", im.Rate), "e.g. 1mbit or 500kbit")
	}
	if c.Impairment.Jitter > 0 && c.Impairment.Delay == 0 {
		add(".impairment.jitter", "jitter needs a delay", "set impairment.delay too")
	}
	if im.Seed != nil {
		c.Impairment.Seed = *im.Seed
	}
	return c, errs
}

func intOr(p *int, d int) int {
	if p == nil {
		return d
	}
	return *p
}

func durOr(p *time.Duration, d time.Duration) time.Duration {
	if p == nil {
		return d
	}
	return *p
}

func drawSeed() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return time.Now().UnixNano()
	}
	return int64(binary.LittleEndian.Uint64(b[:]) >> 1)
}

// parseAnnounceGroup parses an announce group: "none" is the zero value
// (no capture), else an IPv4 multicast address (not link-local
// 224.0.0.0/24, which carries no discovery) with a non-zero port.
func parseAnnounceGroup(v string) (netip.AddrPort, error) {
	if v == "none" {
		return netip.AddrPort{}, nil
	}
	g, err := netip.ParseAddrPort(v)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("announceGroup %q is not an address:port", truncate(v, 80))
	}
	a := g.Addr()
	if !a.Is4() || !a.IsMulticast() || a.IsLinkLocalMulticast() || g.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("announceGroup %s is not an IPv4 multicast group (224.0.1.0-239.255.255.255) with a port", g)
	}
	return g, nil
}
