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

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/topology"
)

// FileState is the sweep's own record in its output directory: which sweep
// file it belongs to and every cell's directory and state.
const FileState = "sweep.json"

// MaxStateBytes is the largest sweep.json read (a cell's record is a few
// hundred bytes): a larger one, or one that never ends, is refused without
// being read further.
const MaxStateBytes = 16 << 20

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

// CellRunner runs or resumes one cell's campaign: a *runner.Env in
// production, the very path `testbed run` takes.
type CellRunner interface {
	Run(ctx context.Context, c runner.Cell) (*runner.Summary, error)
}

// StepError is the failure of one step of one cell (or of the sweep when
// Cell is empty). Find it with errors.As.
type StepError struct {
	Cell Cell
	Step string
	Err  error
}

func (e *StepError) Error() string {
	if e.Cell == (Cell{}) {
		return fmt.Sprintf("sweep: %s: %v", e.Step, e.Err)
	}
	return fmt.Sprintf("cell %s: %s: %v", e.Cell, e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

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
// cell is resumed where its campaign stopped, the rest run in matrix order,
// each through the named cell steps (status, lab, scenario, workloads,
// campaign). The report is written when every cell is complete.
func (w *Sweeper) Run(ctx context.Context, s *Sweep) (*Result, error) {
	w.defaults()
	if w.Lab == nil || w.Workloads == nil || w.Runner == nil || w.Collector == nil {
		return nil, errors.New("sweep: lab, workloads, runner and collector are required")
	}
	sr, err := w.start(s)
	if err != nil {
		return nil, err
	}
	defer func() { sr.restore() }()
	for i, c := range sr.cells {
		cr := &cellRun{sweepRun: sr, index: i, cell: c, dir: c.Dir(s.Output)}
		for _, st := range cellSteps {
			done, err := st.run(cr, ctx)
			if err != nil {
				return sr.res, &StepError{Cell: c, Step: st.name, Err: err}
			}
			if done {
				break
			}
		}
	}
	sr.restore()
	sr.restore = func() {}
	return sr.res, w.finish(ctx, sr)
}

// sweepRun is one Run in progress.
type sweepRun struct {
	w      *Sweeper
	s      *Sweep
	tmpl   *template
	cells  []Cell
	st     *State
	res    *Result
	inputs []results.Input
	// full is the largest plan (subset strategy); up is the lab that is up.
	full, up  *topology.Plan
	protocols map[string]scenarios.Protocol
	// restore re-enables every protocol's workload everywhere (after a
	// failure too, under a fresh bounded context).
	restore func()
}

// cellRun is one cell of a Run, filled in by the cell steps in order.
type cellRun struct {
	*sweepRun
	index    int
	cell     Cell
	dir      string
	status   string
	sc       *scenarios.Scenario
	plan     *topology.Plan
	topoFile string
	clusters []string
}

// cellSteps are the steps of one cell; a step that returns done ends the
// cell (a complete cell stops after status).
var cellSteps = []struct {
	name string
	run  func(c *cellRun, ctx context.Context) (done bool, err error)
}{
	{"status", (*cellRun).readStatus},
	{"lab", (*cellRun).lab},
	{"scenario", (*cellRun).scenario},
	{"workloads", (*cellRun).selectClusters},
	{"campaign", (*cellRun).campaign},
}

func (w *Sweeper) start(s *Sweep) (*sweepRun, error) {
	tmpl, err := loadTemplate(s)
	if err != nil {
		return nil, err
	}
	sr := &sweepRun{w: w, s: s, tmpl: tmpl, cells: Matrix(s, tmpl.protocol), res: &Result{Dir: s.Output},
		protocols: map[string]scenarios.Protocol{}, restore: func() {}}
	if sr.st, err = w.openState(s, sr.cells); err != nil {
		return nil, err
	}
	if sr.inputs, err = sweepInputs(s, tmpl); err != nil {
		return nil, err
	}
	// The largest plan (subset) is provisioned once; reprovision keeps the
	// plan of the size that is up.
	if s.Strategy == StrategySubset {
		if sr.full, err = w.LoadPlan(tmpl.topology); err != nil {
			return nil, fmt.Errorf("sweep %s: %w", s.Name, err)
		}
		if len(sr.full.Clusters) < s.Max() {
			return nil, fmt.Errorf("sweep %s: topology %s has %d clusters but the largest cell needs %d (raise clusters.count, or use strategy reprovision)",
				s.Name, tmpl.topology, len(sr.full.Clusters), s.Max())
		}
	}
	return sr, nil
}

func (c *cellRun) readStatus(context.Context) (bool, error) {
	status, sc, err := c.w.cellStatus(c.s, c.tmpl, c.cell, c.dir)
	if err != nil {
		return false, err
	}
	c.status, c.sc = status, sc
	if status == StatusComplete {
		fmt.Fprintf(c.w.Progress, "cell %s: complete, skipped\n", c.cell)
		c.res.Skipped = append(c.res.Skipped, c.cell)
		c.st.Cells[c.index].Status = StatusComplete
		return true, nil
	}
	return false, nil
}

// lab brings up the cell's lab: the largest one once (subset), or one of
// the cell's size, rebuilt when the size changes (reprovision).
func (c *cellRun) lab(ctx context.Context) (bool, error) {
	c.topoFile = c.tmpl.topology
	if c.s.Strategy != StrategyReprovision {
		c.plan = c.full
		if c.up == nil {
			fmt.Fprintf(c.w.Progress, "sweep %s: converging lab %s (%d clusters)\n", c.s.Name, c.plan.Name, len(c.plan.Clusters))
			if err := c.w.Lab.Up(ctx, c.plan); err != nil {
				return false, fmt.Errorf("provisioning the largest lab: %w", err)
			}
			c.up = c.plan
		}
		return false, nil
	}
	c.topoFile = filepath.Join(c.dir, FileCellTopology)
	if c.sc == nil {
		if err := c.writeTopology(); err != nil {
			return false, err
		}
	}
	plan, err := c.w.LoadPlan(c.topoFile)
	if err != nil {
		return false, err
	}
	c.plan = plan
	if c.up == nil || len(c.up.Clusters) != len(plan.Clusters) {
		fmt.Fprintf(c.w.Progress, "cell %s: reprovisioning lab %s with %d clusters\n", c.cell, plan.Name, len(plan.Clusters))
		if err := c.w.Lab.Down(ctx, plan); err != nil {
			return false, fmt.Errorf("tearing the lab down: %w", err)
		}
		if err := c.w.Lab.Up(ctx, plan); err != nil {
			return false, fmt.Errorf("provisioning %d clusters: %w", len(plan.Clusters), err)
		}
		c.up = plan
	}
	return false, nil
}

// writeTopology writes the template's topology resized to the cell.
func (c *cellRun) writeTopology() error {
	raw, err := yamlfile.ReadFile(c.tmpl.topology, yamlfile.DefaultLimits.MaxBytes)
	if err != nil {
		return fmt.Errorf("reading topology: %w", err)
	}
	resized, err := ResizeTopology(c.tmpl.topology, raw, c.cell.Clusters)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	return store.WriteFileAtomic(c.topoFile, resized)
}

// scenario derives the cell's scenario from the template once and keeps it
// in the cell's directory (it carries the drawn seed for a resume).
func (c *cellRun) scenario(context.Context) (bool, error) {
	c.clusters = CellClusters(c.plan, c.cell.Clusters)
	if c.sc == nil {
		raw, loaded, err := CellScenario(c.s, c.tmpl.file, c.tmpl.raw, c.cell, c.clusters, c.topoFile, filepath.Join(c.dir, FileCellScenario), c.w.Seed())
		if err != nil {
			return false, err
		}
		if err := os.MkdirAll(c.dir, 0o755); err != nil {
			return false, err
		}
		if err := store.WriteFileAtomic(filepath.Join(c.dir, FileCellScenario), raw); err != nil {
			return false, err
		}
		c.sc = loaded
	}
	c.protocols[c.cell.Protocol] = c.sc.Protocol
	return false, nil
}

// selectClusters runs the cell's protocol on the cell's clusters only, and
// every other protocol of the sweep nowhere.
func (c *cellRun) selectClusters(ctx context.Context) (bool, error) {
	for name, p := range c.protocols {
		if name == c.cell.Protocol {
			continue
		}
		if err := c.w.Workloads.Set(ctx, c.plan, p, nil, allNames(c.plan)); err != nil {
			return false, fmt.Errorf("disabling protocol %s: %w", name, err)
		}
	}
	if err := c.w.Workloads.Set(ctx, c.plan, c.sc.Protocol, c.clusters, Complement(c.plan, c.clusters)); err != nil {
		return false, fmt.Errorf("selecting the cell's clusters: %w", err)
	}
	plan, protocols, w, name := c.plan, c.protocols, c.w, c.s.Name
	c.restore = func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.RestoreTimeout)
		defer cancel()
		for pn, p := range protocols {
			if err := w.Workloads.Set(rctx, plan, p, allNames(plan), nil); err != nil {
				fmt.Fprintf(w.Progress, "sweep %s: re-enabling protocol %s: %v\n", name, pn, err)
			}
		}
	}
	return false, nil
}

// campaign runs or resumes the cell's campaign through the runner, with the
// sweep's inputs plus the cell's scenario (and topology) recorded.
func (c *cellRun) campaign(ctx context.Context) (bool, error) {
	cell := runner.Cell{Scenario: c.sc, Plan: c.plan, Clusters: c.clusters, Dir: c.dir, Resume: c.status == StatusPartial}
	if cell.Resume {
		fmt.Fprintf(c.w.Progress, "cell %s: resuming the partial campaign in %s\n", c.cell, c.dir)
		c.res.Resumed = append(c.res.Resumed, c.cell)
	} else {
		cell.Inputs = append(slices.Clone(c.inputs), results.Input{Role: "scenario", Path: filepath.Join(c.dir, FileCellScenario),
			SHA256: sha(c.sc.Raw), Content: string(c.sc.Raw)})
		if c.s.Strategy == StrategyReprovision {
			in, err := readInput("topology", c.topoFile)
			if err != nil {
				return false, err
			}
			cell.Inputs = append(cell.Inputs, in)
		}
		fmt.Fprintf(c.w.Progress, "cell %s: running %d condition(s) on clusters %v into %s\n", c.cell, len(c.sc.Conditions), c.clusters, c.dir)
		c.res.Ran = append(c.res.Ran, c.cell)
	}
	c.st.Cells[c.index].Status = StatusPartial
	if err := c.w.writeState(c.s.Output, c.st); err != nil {
		return false, err
	}
	if _, err := c.w.Runner.Run(ctx, cell); err != nil {
		return false, err
	}
	c.st.Cells[c.index].Status = StatusComplete
	return true, c.w.writeState(c.s.Output, c.st)
}

// finish records the end, writes the report and the sweep manifest, and
// tears the lab down when asked.
func (w *Sweeper) finish(ctx context.Context, sr *sweepRun) error {
	s := sr.s
	sr.st.Ended = w.Now()
	if err := w.writeState(s.Output, sr.st); err != nil {
		return err
	}
	rep, err := WriteReport(ctx, s.Output)
	if err != nil {
		return &StepError{Step: "report", Err: err}
	}
	sr.res.Report = rep
	if err := w.writeSweepManifest(ctx, s, sr.st, sr.inputs, sr.up); err != nil {
		return &StepError{Step: "manifest", Err: err}
	}
	if s.Teardown && sr.up != nil {
		fmt.Fprintf(w.Progress, "sweep %s: tearing down lab %s\n", s.Name, sr.up.Name)
		if err := w.Lab.Down(ctx, sr.up); err != nil {
			return &StepError{Step: "teardown", Err: err}
		}
	}
	return nil
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
	b, err := yamlfile.ReadFile(filepath.Join(s.Output, FileState), MaxStateBytes)
	if yamlfile.IsTooLarge(err) {
		return nil, fmt.Errorf("sweep %s: reading %s: %w", s.Name, FileState, err)
	}
	if err == nil {
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

// ReadState reads a sweep directory's sweep.json (at most MaxStateBytes).
func ReadState(dir string) (*State, error) {
	b, err := yamlfile.ReadFile(filepath.Join(dir, FileState), MaxStateBytes)
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
	b, err := yamlfile.ReadFile(path, yamlfile.DefaultLimits.MaxBytes)
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
