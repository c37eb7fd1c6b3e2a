package sweep

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/topology"
)

// FileState is the sweep's own record in its output directory: which sweep
// file it belongs to and every cell's directory and state.
const FileState = "sweep.json"

// Lab provisions and removes labs.
type Lab interface {
	// Up creates or converges the lab of plan (a no-op on a healthy lab).
	Up(ctx context.Context, plan *topology.Plan) error
	// Down removes the lab of plan.
	Down(ctx context.Context, plan *topology.Plan) error
}

// Workloads switches a protocol's discovery workload per cluster.
type Workloads interface {
	// Set enables p's workload on the clusters in on and disables it on the
	// clusters in off, and returns once the disabled clusters run no pod of
	// it. A workload that is not installed on a cluster is not an error for
	// off (the protocol is simply not there).
	Set(ctx context.Context, plan *topology.Plan, p scenarios.Protocol, on, off []string) error
}

// CellRun is one cell's campaign to run or resume.
type CellRun struct {
	Cell     Cell
	Scenario *scenarios.Scenario
	Plan     *topology.Plan
	// Clusters are the cell's clusters in lab order; only they are peers.
	Clusters []string
	Dir      string
	Resume   bool
	// Manifest is the collected manifest of a new campaign (ignored on
	// resume: the campaign keeps its own).
	Manifest results.Manifest
}

// CellRunner runs one cell's campaign (scenarios/runner in production).
type CellRunner interface {
	RunCell(ctx context.Context, r CellRun) error
}

// Collector builds a manifest: software, host, what runs on the given
// clusters read back from them, and the inputs verbatim.
type Collector interface {
	Collect(ctx context.Context, plan *topology.Plan, clusters []string, inputs []results.Input) (results.Manifest, error)
}

// Sweeper runs sweeps. Lab, Workloads, Runner and Collector are required.
type Sweeper struct {
	Lab       Lab
	Workloads Workloads
	Runner    CellRunner
	Collector Collector
	// Progress receives one line per step; nil discards.
	Progress io.Writer
	// Now and Seed default to time.Now and a random seed.
	Now  func() time.Time
	Seed func() int64
	// LoadPlan loads a topology file into a plan (default topology.Load + Plan).
	LoadPlan func(path string) (*topology.Plan, error)
	// RestoreTimeout bounds re-enabling the workloads after a failure
	// (default 1 minute).
	RestoreTimeout time.Duration
}

// State is sweep.json.
type State struct {
	Name     string      `json:"name"`
	File     string      `json:"file"`
	SHA256   string      `json:"sha256"`
	Strategy string      `json:"strategy"`
	Started  time.Time   `json:"started"`
	Ended    time.Time   `json:"ended,omitzero"`
	Cells    []CellState `json:"cells"`
}

// CellState is one cell's entry in sweep.json.
type CellState struct {
	Cell
	// Dir is relative to the sweep directory.
	Dir    string `json:"dir"`
	Status string `json:"status"`
}

// Cell statuses.
const (
	StatusPending  = "pending"
	StatusPartial  = "partial"
	StatusComplete = "complete"
)

// Result is what a sweep did.
type Result struct {
	Dir string
	// Skipped were complete already; Resumed were partial; Ran were new.
	Skipped, Resumed, Ran []Cell
	Report                *Report
}

func (w *Sweeper) defaults() {
	if w.Progress == nil {
		w.Progress = io.Discard
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Seed == nil {
		w.Seed = randomSeed
	}
	if w.LoadPlan == nil {
		w.LoadPlan = LoadPlan
	}
	if w.RestoreTimeout <= 0 {
		w.RestoreTimeout = time.Minute
	}
}

// LoadPlan loads and plans a topology file.
func LoadPlan(path string) (*topology.Plan, error) {
	t, err := topology.Load(path)
	if err != nil {
		return nil, err
	}
	p, err := t.Plan()
	if err != nil {
		return nil, fmt.Errorf("planning %s: %w", path, err)
	}
	return p, nil
}

func randomSeed() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return time.Now().UnixNano()
	}
	return int64(binary.LittleEndian.Uint64(b[:]) >> 1)
}

// template is the loaded scenario template.
type template struct {
	file     string
	raw      []byte
	protocol string
	topology string
}

func loadTemplate(s *Sweep) (*template, error) {
	sc, err := scenarios.Load(s.ScenarioFile)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: scenario template: %w", s.Name, err)
	}
	t := &template{file: s.ScenarioFile, raw: sc.Raw, protocol: sc.Protocol.Name, topology: sc.TopologyFile}
	if s.TopologyFile != "" {
		t.topology = s.TopologyFile
	}
	if len(s.Protocols) == 0 && sc.Protocol.Name == scenarios.PresetCustom {
		t.protocol = scenarios.PresetCustom
	}
	return t, nil
}

// Run runs (or resumes) the sweep: complete cells are skipped, a partial
// cell is resumed where its campaign stopped, the rest run in matrix order.
// The report is written when every cell is complete.
func (w *Sweeper) Run(ctx context.Context, s *Sweep) (*Result, error) {
	w.defaults()
	if w.Lab == nil || w.Workloads == nil || w.Runner == nil || w.Collector == nil {
		return nil, errors.New("sweep: lab, workloads, runner and collector are required")
	}
	tmpl, err := loadTemplate(s)
	if err != nil {
		return nil, err
	}
	cells := Matrix(s, tmpl.protocol)
	st, err := w.openState(s, cells)
	if err != nil {
		return nil, err
	}
	res := &Result{Dir: s.Output}
	inputs, err := sweepInputs(s, tmpl)
	if err != nil {
		return nil, err
	}

	// The largest plan (subset) is provisioned once; reprovision keeps the
	// plan of the size that is up.
	var up *topology.Plan
	var full *topology.Plan
	if s.Strategy == StrategySubset {
		full, err = w.LoadPlan(tmpl.topology)
		if err != nil {
			return nil, fmt.Errorf("sweep %s: %w", s.Name, err)
		}
		if len(full.Clusters) < s.Max() {
			return nil, fmt.Errorf("sweep %s: topology %s has %d clusters but the largest cell needs %d (raise clusters.count, or use strategy reprovision)",
				s.Name, tmpl.topology, len(full.Clusters), s.Max())
		}
	}
	protocols := map[string]scenarios.Protocol{}
	restore := func() {}
	defer func() { restore() }()

	for i, c := range cells {
		dir := c.Dir(s.Output)
		status, sc, err := w.cellStatus(s, tmpl, c, dir)
		if err != nil {
			return res, err
		}
		if status == StatusComplete {
			fmt.Fprintf(w.Progress, "cell %s: complete, skipped\n", c)
			res.Skipped = append(res.Skipped, c)
			st.Cells[i].Status = StatusComplete
			continue
		}
		// The lab for this cell.
		var plan *topology.Plan
		topoFile := tmpl.topology
		switch s.Strategy {
		case StrategyReprovision:
			topoFile = filepath.Join(dir, FileCellTopology)
			if sc == nil {
				raw, err := os.ReadFile(tmpl.topology)
				if err != nil {
					return res, fmt.Errorf("cell %s: reading topology: %w", c, err)
				}
				resized, err := ResizeTopology(tmpl.topology, raw, c.Clusters)
				if err != nil {
					return res, fmt.Errorf("cell %s: %w", c, err)
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return res, fmt.Errorf("cell %s: %w", c, err)
				}
				if err := store.WriteFileAtomic(topoFile, resized); err != nil {
					return res, fmt.Errorf("cell %s: %w", c, err)
				}
			}
			plan, err = w.LoadPlan(topoFile)
			if err != nil {
				return res, fmt.Errorf("cell %s: %w", c, err)
			}
			if up == nil || len(up.Clusters) != len(plan.Clusters) {
				fmt.Fprintf(w.Progress, "cell %s: reprovisioning lab %s with %d clusters\n", c, plan.Name, len(plan.Clusters))
				if err := w.Lab.Down(ctx, plan); err != nil {
					return res, fmt.Errorf("cell %s: tearing the lab down: %w", c, err)
				}
				if err := w.Lab.Up(ctx, plan); err != nil {
					return res, fmt.Errorf("cell %s: provisioning %d clusters: %w", c, len(plan.Clusters), err)
				}
				up = plan
			}
		default:
			plan = full
			if up == nil {
				fmt.Fprintf(w.Progress, "sweep %s: converging lab %s (%d clusters)\n", s.Name, plan.Name, len(plan.Clusters))
				if err := w.Lab.Up(ctx, plan); err != nil {
					return res, fmt.Errorf("sweep %s: provisioning the largest lab: %w", s.Name, err)
				}
				up = plan
			}
		}
		clusters := CellClusters(plan, c.Clusters)
		if sc == nil {
			raw, loaded, err := CellScenario(s, tmpl.file, tmpl.raw, c, clusters, topoFile, filepath.Join(dir, FileCellScenario), w.Seed())
			if err != nil {
				return res, err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return res, fmt.Errorf("cell %s: %w", c, err)
			}
			if err := store.WriteFileAtomic(filepath.Join(dir, FileCellScenario), raw); err != nil {
				return res, fmt.Errorf("cell %s: %w", c, err)
			}
			sc = loaded
		}
		protocols[c.Protocol] = sc.Protocol

		// Only the cell's clusters run the cell's protocol; every other
		// protocol of the sweep is off everywhere.
		off := Complement(plan, clusters)
		for name, p := range protocols {
			if name == c.Protocol {
				continue
			}
			if err := w.Workloads.Set(ctx, plan, p, nil, allNames(plan)); err != nil {
				return res, fmt.Errorf("cell %s: disabling protocol %s: %w", c, name, err)
			}
		}
		if err := w.Workloads.Set(ctx, plan, sc.Protocol, clusters, off); err != nil {
			return res, fmt.Errorf("cell %s: selecting the cell's clusters: %w", c, err)
		}
		restorePlan := plan
		restore = func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.RestoreTimeout)
			defer cancel()
			for name, p := range protocols {
				if err := w.Workloads.Set(rctx, restorePlan, p, allNames(restorePlan), nil); err != nil {
					fmt.Fprintf(w.Progress, "sweep %s: re-enabling protocol %s: %v\n", s.Name, name, err)
				}
			}
		}

		run := CellRun{Cell: c, Scenario: sc, Plan: plan, Clusters: clusters, Dir: dir, Resume: status == StatusPartial}
		if !run.Resume {
			cin := append(slices.Clone(inputs), results.Input{Role: "scenario", Path: filepath.Join(dir, FileCellScenario),
				SHA256: sha(sc.Raw), Content: string(sc.Raw)})
			if s.Strategy == StrategyReprovision {
				in, err := readInput("topology", topoFile)
				if err != nil {
					return res, err
				}
				cin = append(cin, in)
			}
			m, err := w.Collector.Collect(ctx, plan, clusters, cin)
			if err != nil {
				return res, fmt.Errorf("cell %s: collecting the manifest: %w", c, err)
			}
			m.Kind = "campaign"
			m.Started = w.Now()
			run.Manifest = m
			fmt.Fprintf(w.Progress, "cell %s: running %d condition(s) on clusters %v into %s\n", c, len(sc.Conditions), clusters, dir)
			res.Ran = append(res.Ran, c)
		} else {
			fmt.Fprintf(w.Progress, "cell %s: resuming the partial campaign in %s\n", c, dir)
			res.Resumed = append(res.Resumed, c)
		}
		st.Cells[i].Status = StatusPartial
		if err := w.writeState(s.Output, st); err != nil {
			return res, err
		}
		if err := w.Runner.RunCell(ctx, run); err != nil {
			return res, fmt.Errorf("cell %s: %w", c, err)
		}
		st.Cells[i].Status = StatusComplete
		if err := w.writeState(s.Output, st); err != nil {
			return res, err
		}
	}
	restore()
	restore = func() {}

	st.Ended = w.Now()
	if err := w.writeState(s.Output, st); err != nil {
		return res, err
	}
	rep, err := WriteReport(ctx, s.Output)
	if err != nil {
		return res, err
	}
	res.Report = rep
	if err := w.writeSweepManifest(ctx, s, st, inputs, up); err != nil {
		return res, err
	}
	if s.Teardown && up != nil {
		fmt.Fprintf(w.Progress, "sweep %s: tearing down lab %s\n", s.Name, up.Name)
		if err := w.Lab.Down(ctx, up); err != nil {
			return res, fmt.Errorf("sweep %s: teardown: %w", s.Name, err)
		}
	}
	return res, nil
}

// writeSweepManifest records the sweep-level manifest (kind sweep) with
// what runs on the whole lab at the end.
func (w *Sweeper) writeSweepManifest(ctx context.Context, s *Sweep, st *State, inputs []results.Input, plan *topology.Plan) error {
	var m results.Manifest
	if plan != nil {
		var err error
		m, err = w.Collector.Collect(ctx, plan, allNames(plan), inputs)
		if err != nil {
			return fmt.Errorf("sweep %s: collecting the manifest: %w", s.Name, err)
		}
	} else {
		m.Inputs = inputs
	}
	m.Campaign = s.Name
	m.Kind = "sweep"
	m.Started, m.Ended = st.Started, st.Ended
	if s.Seed != nil {
		m.Seed = *s.Seed
	}
	for _, c := range s.Conditions {
		m.Conditions = append(m.Conditions, results.Condition{Name: c.Name, Impairment: results.Impairment{LossPct: c.Loss, Target: c.Target, Seed: seedOf(c.Seed)}})
	}
	return store.WriteManifest(s.Output, m)
}

func seedOf(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// cellStatus reads a cell's directory: complete (every condition has all
// its runs and the campaign ended), partial (a campaign exists) or pending.
// The cell's scenario is returned when it was written before.
func (w *Sweeper) cellStatus(s *Sweep, t *template, c Cell, dir string) (string, *scenarios.Scenario, error) {
	p := filepath.Join(dir, FileCellScenario)
	var sc *scenarios.Scenario
	if _, err := os.Stat(p); err == nil {
		sc, err = scenarios.Load(p)
		if err != nil {
			return "", nil, fmt.Errorf("cell %s: its scenario.yaml does not load (remove the cell directory to start it again): %w", c, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, store.FileManifest)); err != nil {
		return StatusPending, sc, nil
	}
	if sc == nil {
		return "", nil, fmt.Errorf("cell %s: %s holds a campaign but no %s (not written by this sweep?)", c, dir, FileCellScenario)
	}
	camp, err := store.Read(dir)
	if err != nil {
		return "", nil, fmt.Errorf("cell %s: %w", c, err)
	}
	if CampaignComplete(camp, sc) {
		return StatusComplete, sc, nil
	}
	return StatusPartial, sc, nil
}

// CampaignComplete reports whether camp holds every run of every condition
// of sc and was ended by the runner.
func CampaignComplete(camp *store.Campaign, sc *scenarios.Scenario) bool {
	if camp.Manifest.Ended.IsZero() {
		return false
	}
	_, next, _ := store.ResumePoint(camp.Runs)
	for _, cond := range sc.Conditions {
		if next[cond.Name] < cond.Warmup+cond.Runs {
			return false
		}
	}
	return true
}

// openState reads sweep.json, refusing a directory that belongs to a
// different sweep file, or starts a new one.
func (w *Sweeper) openState(s *Sweep, cells []Cell) (*State, error) {
	if err := os.MkdirAll(s.Output, 0o755); err != nil {
		return nil, fmt.Errorf("sweep %s: creating %s: %w", s.Name, s.Output, err)
	}
	sum := sha(s.Raw)
	st := &State{Name: s.Name, File: s.File, SHA256: sum, Strategy: s.Strategy, Started: w.Now()}
	if b, err := os.ReadFile(filepath.Join(s.Output, FileState)); err == nil {
		var old State
		if err := json.Unmarshal(b, &old); err != nil {
			return nil, fmt.Errorf("sweep %s: reading %s: %w", s.Name, filepath.Join(s.Output, FileState), err)
		}
		if old.SHA256 != sum {
			return nil, fmt.Errorf("sweep %s: %s holds the results of a different sweep file (sha256 %s, this one %s): use another output directory or restore the original file",
				s.Name, s.Output, short(old.SHA256), short(sum))
		}
		st.Started = old.Started
	}
	for _, c := range cells {
		rel, err := filepath.Rel(s.Output, c.Dir(s.Output))
		if err != nil {
			rel = c.Dir(s.Output)
		}
		st.Cells = append(st.Cells, CellState{Cell: c, Dir: rel, Status: StatusPending})
	}
	return st, w.writeState(s.Output, st)
}

func (w *Sweeper) writeState(dir string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", FileState, err)
	}
	return store.WriteFileAtomic(filepath.Join(dir, FileState), append(b, '\n'))
}

// ReadState reads a sweep directory's sweep.json.
func ReadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileState))
	if err != nil {
		return nil, fmt.Errorf("reading sweep %s: %w", dir, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("reading sweep %s: %s: %w", dir, FileState, err)
	}
	return &st, nil
}

// CellClusters are the first n clusters of plan (node A's cell in subset
// mode is a prefix of the lab, so every smaller cell is inside every larger).
func CellClusters(plan *topology.Plan, n int) []string {
	names := allNames(plan)
	if n > len(names) {
		n = len(names)
	}
	return names[:n]
}

// Complement is every cluster of plan not in cell.
func Complement(plan *topology.Plan, cell []string) []string {
	var out []string
	for _, c := range plan.Clusters {
		if !slices.Contains(cell, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

func allNames(plan *topology.Plan) []string {
	out := make([]string, len(plan.Clusters))
	for i, c := range plan.Clusters {
		out[i] = c.Name
	}
	return out
}

func sweepInputs(s *Sweep, t *template) ([]results.Input, error) {
	out := []results.Input{{Role: "sweep", Path: s.File, SHA256: sha(s.Raw), Content: string(s.Raw)},
		{Role: "scenario-template", Path: t.file, SHA256: sha(t.raw), Content: string(t.raw)}}
	in, err := readInput("topology", t.topology)
	if err != nil {
		return nil, err
	}
	return append(out, in), nil
}

func readInput(role, path string) (results.Input, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return results.Input{}, fmt.Errorf("recording %s file: %w", role, err)
	}
	return results.Input{Role: role, Path: path, SHA256: sha(b), Content: string(b)}, nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
