package scenarios

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"

	"github.com/fluidos-lab/testbed/topology"
)

// Defaults applied by Load.
const (
	DefaultRuns             = 100
	DefaultWarmup           = 1
	DefaultDelayBetweenRuns = 2 * time.Second
	DefaultRunTimeout       = 60 * time.Second
)

var (
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	fieldPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	quoted    = regexp.MustCompile(`"([^"]+)"`)
	netemRate = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit|tbit|bps|kbps|mbps|gbps|tbps)$`)
)

// Load reads and validates a scenario file. Every problem is returned at
// once as a topology.ErrorList located by file:line:col.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	return LoadBytes(path, data)
}

// LoadBytes validates scenario bytes named file (used to locate errors and to
// resolve relative paths).
func LoadBytes(file string, data []byte) (s *Scenario, err error) {
	defer func() {
		// The YAML library must never take the process down on bad input.
		if r := recover(); r != nil {
			s, err = nil, topology.ErrorList{{File: file, Message: fmt.Sprintf("unparseable YAML: %v", r)}}
		}
	}()
	l := &locator{file: file, src: data}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, topology.ErrorList{l.yamlError(err, "fix the YAML syntax")}
	}
	l.ast = f
	if len(f.Docs) != 1 {
		return nil, topology.ErrorList{{File: file, Line: 1, Column: 1,
			Message: fmt.Sprintf("found %d YAML documents, want exactly 1", len(f.Docs)),
			Fix:     "keep one Scenario document per file"}}
	}
	if f.Docs[0].Body == nil {
		return nil, topology.ErrorList{{File: file, Line: 1, Column: 1, Message: "empty document",
			Fix: "start with `apiVersion: " + APIVersion + "` and `kind: " + Kind + "`"}}
	}
	// apiVersion and kind first, as kind does, so a wrong document type gets
	// one clear error instead of a list of unknown fields.
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	if err := yaml.UnmarshalWithOptions(data, &head); err != nil {
		return nil, topology.ErrorList{l.yamlError(err, "the document must be a mapping")}
	}
	var errs topology.ErrorList
	if head.APIVersion != APIVersion {
		errs = append(errs, l.at("apiVersion", fmt.Sprintf("apiVersion is %q, want %q", head.APIVersion, APIVersion), "set `apiVersion: "+APIVersion+"`"))
	}
	if head.Kind != Kind {
		errs = append(errs, l.at("kind", fmt.Sprintf("kind is %q, want %q", head.Kind, Kind), "set `kind: "+Kind+"`"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var raw File
	if err := yaml.UnmarshalWithOptions(data, &raw, yaml.Strict()); err != nil {
		return nil, topology.ErrorList{l.yamlError(err, "check the field name and type against the Scenario schema (docs: scenarios/selftest.yaml)")}
	}
	s, errs = resolve(file, &raw, l)
	if len(errs) > 0 {
		return nil, errs.Sorted()
	}
	s.Raw = append([]byte(nil), data...)
	return s, nil
}

func resolve(file string, f *File, l *locator) (*Scenario, topology.ErrorList) {
	var errs topology.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, l.at(path, msg, fix)) }
	dir := filepath.Dir(file)
	s := &Scenario{File: file, Name: f.Metadata.Name, NodeA: f.NodeA}

	if !dnsLabel.MatchString(s.Name) || len(s.Name) > 63 {
		add("metadata.name", fmt.Sprintf("name %q is not a DNS label", s.Name), "use lower-case letters, digits and '-' (at most 63)")
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
	} else if !dnsLabel.MatchString(s.NodeA) {
		add("nodeA", fmt.Sprintf("nodeA %q is not a cluster name", s.NodeA), "use a cluster name from the topology")
	}

	// Protocol.
	p, perrs := resolveProtocol(&f.Protocol, l)
	errs = append(errs, perrs...)
	s.Protocol = p

	runs := intOr(f.Runs, DefaultRuns)
	if runs < 1 {
		add("runs", fmt.Sprintf("runs is %d, must be at least 1", runs), "")
	}
	s.Warmup = intOr(f.Warmup, DefaultWarmup)
	if s.Warmup < 0 {
		add("warmup", fmt.Sprintf("warmup is %d, must not be negative", s.Warmup), "")
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

	switch f.Phase.Mode {
	case "", PhaseRandom:
		s.Phase = PhaseRandom
		s.PhaseMax = durOr(f.Phase.Max, p.AnnounceInterval)
		if s.PhaseMax < 0 {
			add("phase.max", "phase.max is negative", "")
		}
	case PhaseAligned:
		s.Phase = PhaseAligned
		if f.Phase.Max != nil {
			add("phase.max", "phase.max applies only to phase.mode random", "remove phase.max or use mode random")
		}
	default:
		add("phase.mode", fmt.Sprintf("unknown phase mode %q", f.Phase.Mode), "use random (default) or aligned")
	}

	if f.Seed != nil {
		s.Seed, s.SeedGiven = *f.Seed, true
	} else {
		s.Seed = drawSeed()
	}

	s.Measurements = f.Measurements
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

	if len(f.Conditions) == 0 {
		add("conditions", "at least one condition is required", "e.g. `conditions: [{name: loss-0, impairment: {loss: 0}}]`")
	}
	names := map[string]bool{}
	for i := range f.Conditions {
		c, cerrs := resolveCondition(i, &f.Conditions[i], runs, s.Warmup, l)
		errs = append(errs, cerrs...)
		if names[c.Name] {
			add(fmt.Sprintf("conditions[%d].name", i), fmt.Sprintf("condition name %q is used twice", c.Name), "give every condition a unique name")
		}
		names[c.Name] = true
		s.Conditions = append(s.Conditions, c)
	}
	if f.Output != "" {
		if filepath.IsAbs(f.Output) {
			s.Output = f.Output
		} else {
			s.Output = filepath.Join(dir, f.Output)
		}
	}
	return s, errs
}

func resolveProtocol(f *ProtocolFile, l *locator) (Protocol, topology.ErrorList) {
	var errs topology.ErrorList
	add := func(path, msg, fix string) { errs = append(errs, l.at(path, msg, fix)) }
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
	return p, errs
}

func resolveCondition(i int, f *ConditionFile, runs, warmup int, l *locator) (Condition, topology.ErrorList) {
	var errs topology.ErrorList
	base := fmt.Sprintf("conditions[%d]", i)
	add := func(path, msg, fix string) { errs = append(errs, l.at(base+path, msg, fix)) }
	c := Condition{Name: f.Name, Runs: intOr(f.Runs, runs), Warmup: warmup, Target: f.Target}
	if !dnsLabel.MatchString(c.Name) {
		add(".name", fmt.Sprintf("condition name %q is not a DNS label", c.Name), "e.g. loss-25")
	}
	if c.Runs < 1 {
		add(".runs", fmt.Sprintf("runs is %d, must be at least 1", c.Runs), "")
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
	c.Impairment = Impairment{
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

// locator turns a field path into a file position using the parsed AST.
type locator struct {
	file string
	src  []byte
	ast  *ast.File
}

func (l *locator) at(path, msg, fix string) *topology.FieldError {
	e := &topology.FieldError{File: l.file, Path: path, Message: msg, Fix: fix}
	e.Line, e.Column = l.position(path)
	return e
}

// position finds path, or its nearest existing ancestor.
func (l *locator) position(path string) (int, int) {
	if l.ast == nil {
		return 0, 0
	}
	for p := path; ; {
		if yp, err := yaml.PathString("$." + p); err == nil {
			if n, err := yp.FilterFile(l.ast); err == nil && n != nil && n.GetToken() != nil {
				pos := n.GetToken().Position
				return pos.Line, pos.Column
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return 1, 1
		}
		p = p[:i]
	}
}

func (l *locator) yamlError(err error, fix string) *topology.FieldError {
	e := &topology.FieldError{File: l.file, Message: err.Error(), Fix: fix}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Message = strings.TrimSpace(ye.GetMessage())
		if t := ye.GetToken(); t != nil && t.Position != nil {
			e.Line, e.Column = t.Position.Line, t.Position.Column
		}
	} else {
		if i := bytes.IndexByte([]byte(e.Message), '\n'); i > 0 {
			e.Message = e.Message[:i]
		}
		// Errors such as time.ParseDuration's carry no token: locate the
		// quoted offending value in the source.
		if m := quoted.FindStringSubmatch(e.Message); m != nil && l.src != nil {
			for _, t := range lexer.Tokenize(string(l.src)) {
				if t.Value == m[1] && t.Position != nil {
					e.Line, e.Column = t.Position.Line, t.Position.Column
					break
				}
			}
		}
	}
	return e
}
