package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/provenance"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/topology"
)

// Env is everything a campaign needs from outside the runner, built once by
// the composition root (cmd/testbed) and shared by `run`, `sweep` and
// `rerun`: each campaign is one Cell run in the same Env.
type Env struct {
	// Kube builds the clusters' API clients.
	Kube Kube
	// Impairments returns the impairment backends of the lab's host,
	// probing it the first time it is asked (the lab must be up); nil
	// allows only unimpaired conditions.
	Impairments func(ctx context.Context, plan *topology.Plan) (ImpairmentSelector, error)
	// Starts reads container start times from the runtime (CRI); nil
	// leaves ContainerStartMS unset.
	Starts ContainerStarts
	// Collect builds the manifest of a new campaign (software, host, what
	// runs on the clusters, the inputs).
	Collect func(ctx context.Context, plan *topology.Plan, clusters []string, inputs []results.Input) (results.Manifest, error)
	// Progress receives one line per run; nil discards.
	Progress io.Writer
	// Clock is the runner's clock (default: the real one).
	Clock Clock
	// Wire opens the capture of an announce group on the lab's network for
	// one campaign and returns it with its close; nil (or a protocol with
	// no announce group) records no wire figures. When it fails, the
	// campaign runs without them and says why.
	Wire func(ctx context.Context, plan *topology.Plan, group netip.AddrPort) (Wire, func() error, error)
	// Faults starts watching the container engine's events about the
	// cell's clusters' node containers for one campaign and returns the
	// log with its close; nil marks no run. When it fails, the campaign
	// runs without marks and says why.
	Faults func(ctx context.Context, plan *topology.Plan, clusters []string) (LabFaults, func(), error)
	// Clocks estimates the clock of every host of a multi-host lab against
	// the runner's (recorded in a new campaign's manifest, and used to
	// correct the agent's ground truth); nil, or a lab on one host, none.
	Clocks func(ctx context.Context, plan *topology.Plan) ([]results.EngineHost, error)
	// Claim takes the lab for one campaign in Dir before the campaign
	// touches it, and returns its release; a lab another campaign holds
	// is an error that names the holder. nil claims nothing.
	Claim func(plan *topology.Plan, dir string) (release func(), err error)
}

// Cell is one campaign: a scenario run on some clusters of a lab.
type Cell struct {
	Scenario *scenarios.Scenario
	Plan     *topology.Plan
	// Clusters are the lab's clusters that take part (node A among them);
	// empty means every cluster of the plan. The others are not peers.
	Clusters []string
	// Dir is the campaign directory.
	Dir string
	// Resume continues the campaign in Dir; its manifest stays.
	Resume bool
	// Inputs are recorded verbatim in a new campaign's manifest.
	Inputs []results.Input
	// Manifest, when set, is the new campaign's manifest as collected by
	// the caller (a rerun adds what differs from the original); else the
	// Env collects it.
	Manifest *results.Manifest
}

// Run runs (or resumes) one campaign: connect to the cell's clusters,
// select the impairment backends the scenario needs (refusing what the
// host cannot do before touching the lab), collect the manifest, cycle
// node A.
func (e *Env) Run(ctx context.Context, c Cell) (*Summary, error) {
	s, plan := c.Scenario, c.Plan
	if s == nil || plan == nil {
		return nil, errors.New("runner: a cell needs a scenario and a plan")
	}
	if e.Kube == nil {
		return nil, errors.New("runner: no Kubernetes client factory")
	}
	clusters, err := Connect(ctx, e.Kube, plan, c.Clusters)
	if err != nil {
		return nil, fmt.Errorf("connecting to lab %s (is it up? `testbed status %s`): %w", plan.Name, plan.File, err)
	}
	if e.Claim != nil {
		release, err := e.Claim(plan, c.Dir)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	o := Options{Progress: e.Progress, Interface: plan.Macvlan.PodInterface, Starts: e.Starts, Clock: e.Clock}
	if NeedsImpairment(s) {
		if e.Impairments == nil {
			return nil, errors.New("the scenario impairs the network (or silences node A for failureDetection) but no impairment backend is configured")
		}
		if o.Impairments, err = e.Impairments(ctx, plan); err != nil {
			return nil, fmt.Errorf("probing impairment support: %w", err)
		}
	}
	warn, closeWire := e.openWire(ctx, s, plan, &o)
	defer closeWire()
	fwarn, closeFaults := e.openFaults(ctx, plan, clusters, &o)
	defer closeFaults()
	hosts, err := e.clocks(ctx, plan, &o)
	if err != nil {
		return nil, err
	}
	r, err := New(s, clusters, o)
	if err != nil {
		return nil, err
	}
	var m results.Manifest
	if !c.Resume && c.Manifest != nil {
		m = *c.Manifest
	} else if !c.Resume && e.Collect != nil {
		names := make([]string, len(clusters))
		for i, cl := range clusters {
			names[i] = cl.Name
		}
		if m, err = e.Collect(ctx, plan, names, c.Inputs); err != nil {
			return nil, fmt.Errorf("collecting the manifest: %w", err)
		}
	}
	for _, w := range []string{warn, fwarn} {
		if w != "" {
			m.Warnings = append(m.Warnings, w)
		}
	}
	if !c.Resume {
		m.Hosts = hosts
	}
	if e.Progress != nil {
		fmt.Fprintf(e.Progress, "campaign %s: scenario %s, node A %s, %d peers, phase %s, seed %d\n", c.Dir, s.Name, s.NodeA, len(r.peers), s.Phase, s.Seed)
	}
	return r.Run(ctx, Campaign{Dir: c.Dir, Resume: c.Resume, Manifest: m})
}

// openWire starts the capture of the protocol's announce group for the
// campaign, into o.Wire. A capture that cannot start (no CAP_NET_RAW, a
// non-Linux runner, the bridge gone) is not fatal: the campaign records
// no wire figures, and the warning says why.
func (e *Env) openWire(ctx context.Context, s *scenarios.Scenario, plan *topology.Plan, o *Options) (warn string, closeFn func()) {
	g := s.Protocol.AnnounceGroup
	if e.Wire == nil || !g.IsValid() {
		return "", func() {}
	}
	w, closeW, err := e.Wire(ctx, plan, g)
	if err != nil {
		warn = fmt.Sprintf("no wire capture of %s on lab %s (discovery times are not explained): %v", g, plan.Name, err)
		if e.Progress != nil {
			fmt.Fprintln(e.Progress, "warning: "+warn)
		}
		return warn, func() {}
	}
	o.Wire = w
	if e.Progress != nil {
		fmt.Fprintf(e.Progress, "wire: capturing %s and IGMP on %s\n", g, w.Interface())
	}
	return "", func() {
		if err := closeW(); err != nil && e.Progress != nil {
			fmt.Fprintf(e.Progress, "warning: closing the wire capture on %s: %v\n", w.Interface(), err)
		}
	}
}

// clocks estimates the hosts' clocks of a multi-host lab into
// o.ClockOffsets (per cluster) and returns them for the manifest.
func (e *Env) clocks(ctx context.Context, plan *topology.Plan, o *Options) ([]results.EngineHost, error) {
	if e.Clocks == nil || !plan.MultiHost() {
		return nil, nil
	}
	hosts, err := e.Clocks(ctx, plan)
	if err != nil {
		return nil, fmt.Errorf("estimating the hosts' clocks: %w", err)
	}
	o.ClockOffsets = map[string]int64{}
	for _, h := range hosts {
		for _, c := range h.Clusters {
			o.ClockOffsets[c] = h.ClockOffsetNS
		}
		if e.Progress != nil {
			fmt.Fprintf(e.Progress, "host %s: clock %+.2f ms ± %.2f ms against the runner's (%d exchanges through its engine)\n",
				h.Name, float64(h.ClockOffsetNS)/1e6, float64(h.ClockUncertaintyNS)/1e6, h.ClockSamples)
		}
	}
	return hosts, nil
}

// NeedsImpairment: a condition impairs, or failureDetection silences node A.
func NeedsImpairment(s *scenarios.Scenario) bool {
	if s.Measures(scenarios.MeasureFailureDetection) {
		return true
	}
	for _, c := range s.Conditions {
		if !c.Impairment.IsZero() {
			return true
		}
	}
	return false
}

// CellFromFiles is the cell of `testbed run SCENARIO`: the scenario, its
// topology (planned) and both files as inputs; the campaign directory is
// output, else the scenario's, else results/<name>-<UTC time>.
func CellFromFiles(scenarioFile, output string, now time.Time) (Cell, error) {
	s, err := scenarios.Load(scenarioFile)
	if err != nil {
		return Cell{}, err
	}
	topo, err := topology.Load(s.TopologyFile)
	if err != nil {
		return Cell{}, err
	}
	plan, err := topo.Plan()
	if err != nil {
		return Cell{}, fmt.Errorf("planning topology %s: %w", s.TopologyFile, err)
	}
	var inputs []results.Input
	for _, in := range [][2]string{{"scenario", s.File}, {"topology", s.TopologyFile}} {
		i, err := provenance.ReadInput(in[0], in[1])
		if err != nil {
			return Cell{}, err
		}
		inputs = append(inputs, i)
	}
	dir := output
	if dir == "" {
		dir = s.Output
	}
	if dir == "" {
		dir = filepath.Join("results", s.Name+"-"+now.UTC().Format("20060102-150405"))
	}
	c := Cell{Scenario: s, Plan: plan, Dir: dir, Inputs: inputs}
	return c, c.check()
}

// CellFromCampaign is the cell of `testbed run --resume DIR`: the scenario
// and topology exactly as the manifest recorded them, with its seed.
func CellFromCampaign(dir string) (Cell, error) {
	camp, err := store.Read(dir)
	if err != nil {
		return Cell{}, fmt.Errorf("resuming %s: %w", dir, err)
	}
	m := camp.Manifest
	var sIn, tIn *results.Input
	for i := range m.Inputs {
		switch m.Inputs[i].Role {
		case "scenario":
			sIn = &m.Inputs[i]
		case "topology":
			tIn = &m.Inputs[i]
		}
	}
	if sIn == nil || tIn == nil {
		return Cell{}, fmt.Errorf("resuming %s: the manifest does not record the scenario and topology inputs", dir)
	}
	s, err := scenarios.LoadBytes(sIn.Path, []byte(sIn.Content))
	if err != nil {
		return Cell{}, fmt.Errorf("resuming %s: recorded scenario: %w", dir, err)
	}
	s.Seed, s.SeedGiven = m.Seed, true
	topo, err := topology.Parse(tIn.Path, []byte(tIn.Content))
	if err != nil {
		return Cell{}, fmt.Errorf("resuming %s: recorded topology: %w", dir, err)
	}
	plan, err := topo.Plan()
	if err != nil {
		return Cell{}, fmt.Errorf("resuming %s: planning the recorded topology: %w", dir, err)
	}
	c := Cell{Scenario: s, Plan: plan, Dir: dir, Resume: true}
	return c, c.check()
}

// check: node A must be a cluster of the plan.
func (c Cell) check() error {
	for _, cp := range c.Plan.Clusters {
		if cp.Name == c.Scenario.NodeA && len(cp.Nodes) > 0 {
			return nil
		}
	}
	return fmt.Errorf("scenario %s: nodeA %q is not a cluster of topology %s", c.Scenario.File, c.Scenario.NodeA, c.Plan.File)
}

// openFaults starts the fault log of the campaign's clusters into
// o.Faults. A log that cannot start is not fatal: runs are then not marked,
// and the warning says so.
func (e *Env) openFaults(ctx context.Context, plan *topology.Plan, clusters []Cluster, o *Options) (warn string, closeFn func()) {
	if e.Faults == nil {
		return "", func() {}
	}
	names := make([]string, len(clusters))
	for i, c := range clusters {
		names[i] = c.Name
	}
	f, closeF, err := e.Faults(ctx, plan, names)
	if err != nil {
		warn = fmt.Sprintf("no fault log of lab %s (runs disturbed by the lab are not marked): %v", plan.Name, err)
		if e.Progress != nil {
			fmt.Fprintln(e.Progress, "warning: "+warn)
		}
		return warn, func() {}
	}
	o.Faults = f
	return "", closeF
}
