package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/topology"
)

type labCall struct {
	op       string
	clusters int
}

type fakeLab struct{ calls []labCall }

func (f *fakeLab) Up(_ context.Context, p *topology.Plan) error {
	f.calls = append(f.calls, labCall{"up", len(p.Clusters)})
	return nil
}
func (f *fakeLab) Down(_ context.Context, p *topology.Plan) error {
	f.calls = append(f.calls, labCall{"down", len(p.Clusters)})
	return nil
}

type setCall struct {
	protocol string
	on, off  []string
}

type fakeWorkloads struct {
	mu    sync.Mutex
	calls []setCall
}

func (f *fakeWorkloads) Set(_ context.Context, _ *topology.Plan, p scenarios.Protocol, on, off []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, setCall{p.Name, on, off})
	return nil
}

type fakeCollector struct{ n int }

func (f *fakeCollector) Collect(_ context.Context, plan *topology.Plan, clusters []string, inputs []results.Input) (results.Manifest, error) {
	f.n++
	return results.Manifest{Inputs: inputs, Lab: results.Lab{Topology: plan.Name, Clusters: clusters}}, nil
}

var errKilled = errors.New("killed")

// fakeRunner records each cell campaign with synthetic runs (the results
// package's discovery model) through the real recorder, and can stop after
// a number of runs to simulate a crash.
type fakeRunner struct {
	calls []runner.Cell
	// killAfter stops the given cell after that many runs of this call.
	killAfter map[Cell]int
	shiftMS   float64
	collector *fakeCollector
}

// cellOf is the sweep cell of a runner cell.
func cellOf(c runner.Cell) Cell {
	return Cell{Protocol: c.Scenario.Protocol.Name, Clusters: len(c.Clusters)}
}

func (f *fakeRunner) Run(ctx context.Context, c runner.Cell) (*runner.Summary, error) {
	return &runner.Summary{Dir: c.Dir}, f.run(ctx, c)
}

func (f *fakeRunner) run(ctx context.Context, c runner.Cell) error {
	f.calls = append(f.calls, c)
	var rec *store.FileRecorder
	next := map[string]int{}
	var m results.Manifest
	switch {
	case c.Manifest != nil:
		m = *c.Manifest
	case f.collector != nil:
		m, _ = f.collector.Collect(ctx, c.Plan, c.Clusters, c.Inputs)
	default:
		m = results.Manifest{Inputs: c.Inputs}
	}
	if c.Resume {
		r, camp, err := store.Open(c.Dir)
		if err != nil {
			return err
		}
		rec, m = r, camp.Manifest
		_, next, _ = store.ResumePoint(camp.Runs)
	} else {
		m.Campaign = fmt.Sprintf("%s-%d", c.Scenario.Name, c.Scenario.Seed)
		m.Protocol, m.NodeA, m.Phase = c.Scenario.Protocol.Name, c.Scenario.NodeA, c.Scenario.Phase
		m.AnnounceIntervalMS = 5000
		for _, n := range c.Clusters {
			if n != c.Scenario.NodeA {
				m.Peers = append(m.Peers, n)
			}
		}
		for _, cd := range c.Scenario.Conditions {
			m.Conditions = append(m.Conditions, results.Condition{Name: cd.Name, Runs: cd.Runs, Warmup: cd.Warmup,
				Impairment: results.Impairment{Backend: "nftables", LossPct: cd.Impairment.LossPct}})
		}
		r, err := store.Create(c.Dir, m)
		if err != nil {
			return err
		}
		rec = r
	}
	defer rec.Close()
	done := 0
	for ci, cd := range c.Scenario.Conditions {
		syn := stats.Synthesize(stats.SynthOptions{Campaign: m.Campaign, Seed: uint64(cellOf(c).Clusters*100 + ci), Peers: len(c.Clusters) - 1,
			Runs: cd.Runs, Warmup: cd.Warmup, LossPcts: []float64{cd.Impairment.LossPct}, IntervalMS: 5000, StartupMS: 1000, ShiftMS: f.shiftMS})
		for i := next[cd.Name]; i < cd.Warmup+cd.Runs; i++ {
			if n, ok := f.killAfter[cellOf(c)]; ok && done == n {
				return errKilled
			}
			run := syn.Runs[i]
			run.Condition, run.Index = cd.Name, i
			for j := range run.Peers {
				run.Peers[j].Peer = m.Peers[j]
			}
			if err := rec.Append(ctx, run); err != nil {
				return err
			}
			done++
		}
	}
	m.Ended = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return rec.UpdateManifest(m)
}

func newSweeper(lab *fakeLab, wl *fakeWorkloads, rn *fakeRunner) *Sweeper {
	if rn.collector == nil {
		rn.collector = &fakeCollector{}
	}
	return &Sweeper{Lab: lab, Workloads: wl, Runner: rn, Collector: &fakeCollector{},
		Now:  func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
		Seed: func() int64 { return 99 }}
}

func loadTestSweep(t *testing.T, mutate func(*Sweep)) *Sweep {
	t.Helper()
	s, err := Load("testdata/sweep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.Output = filepath.Join(t.TempDir(), "out")
	if mutate != nil {
		mutate(s)
	}
	return s
}

func TestSweepSubsetKilledAndResumed(t *testing.T) {
	s := loadTestSweep(t, nil)
	lab, wl := &fakeLab{}, &fakeWorkloads{}
	c2, c3 := Cell{"reference-agent", 2}, Cell{"reference-agent", 3}
	rn := &fakeRunner{killAfter: map[Cell]int{c3: 3}}
	_, err := newSweeper(lab, wl, rn).Run(context.Background(), s)
	if !errors.Is(err, errKilled) {
		t.Fatalf("first run: err = %v, want the kill", err)
	}
	st, err := ReadState(s.Output)
	if err != nil {
		t.Fatal(err)
	}
	if st.Cells[0].Status != StatusComplete || st.Cells[1].Status != StatusPartial {
		t.Errorf("after the kill: %+v", st.Cells)
	}

	// Resume: cell 2 is skipped, cell 3 resumed from its 4th run.
	rn2 := &fakeRunner{}
	res, err := newSweeper(lab, wl, rn2).Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Skipped, []Cell{c2}) || !reflect.DeepEqual(res.Resumed, []Cell{c3}) || len(res.Ran) != 0 {
		t.Errorf("skipped %v resumed %v ran %v", res.Skipped, res.Resumed, res.Ran)
	}
	if len(rn2.calls) != 1 || !rn2.calls[0].Resume || cellOf(rn2.calls[0]) != c3 {
		t.Fatalf("runner calls on resume: %+v", rn2.calls)
	}
	camp, err := store.Read(c3.Dir(s.Output))
	if err != nil {
		t.Fatal(err)
	}
	if len(camp.Runs) != 10 {
		t.Errorf("cell 3 has %d runs, want 2 conditions × 5", len(camp.Runs))
	}
	seen := map[string]bool{}
	for _, r := range camp.Runs {
		k := fmt.Sprintf("%s/%d", r.Condition, r.Index)
		if seen[k] {
			t.Errorf("run %s recorded twice", k)
		}
		seen[k] = true
	}

	// Subset: the largest lab is converged (once per sweep invocation), never torn down.
	if !reflect.DeepEqual(lab.calls, []labCall{{"up", 3}, {"up", 3}}) {
		t.Errorf("lab calls = %v", lab.calls)
	}
	// The 2-cluster cell runs on ct-01, ct-02 with ct-03 disabled; node A
	// (ct-03 in the template) moved into the cell.
	first := rn.calls[0]
	if !reflect.DeepEqual(first.Clusters, []string{"ct-01", "ct-02"}) || first.Scenario.NodeA != "ct-01" {
		t.Errorf("2-cluster cell: clusters %v node A %s", first.Clusters, first.Scenario.NodeA)
	}
	if rn2.calls[0].Scenario.NodeA != "ct-03" || !reflect.DeepEqual(rn2.calls[0].Clusters, []string{"ct-01", "ct-02", "ct-03"}) {
		t.Errorf("3-cluster cell: clusters %v node A %s", rn2.calls[0].Clusters, rn2.calls[0].Scenario.NodeA)
	}
	if !slices.ContainsFunc(wl.calls, func(c setCall) bool {
		return reflect.DeepEqual(c.on, []string{"ct-01", "ct-02"}) && reflect.DeepEqual(c.off, []string{"ct-03"})
	}) {
		t.Errorf("ct-03 never disabled for the 2-cluster cell: %+v", wl.calls)
	}
	last := wl.calls[len(wl.calls)-1]
	if len(last.on) != 3 || len(last.off) != 0 {
		t.Errorf("workloads not restored everywhere at the end: %+v", last)
	}
	// The derived scenario carries the sweep's runs, seed and conditions.
	sc := first.Scenario
	if sc.Seed != 42 || len(sc.Conditions) != 2 || sc.Conditions[0].Runs != 5 || sc.Conditions[0].Warmup != 0 ||
		sc.Conditions[1].Impairment.LossPct != 20 || sc.Conditions[1].Impairment.Seed != 7 || sc.RunTimeout != 40*time.Second {
		t.Errorf("cell scenario = %+v", sc)
	}
	// Inputs recorded verbatim with hashes: sweep, template, topology, cell scenario.
	var roles []string
	for _, in := range first.Inputs {
		roles = append(roles, in.Role)
		if in.SHA256 == "" || in.Content == "" {
			t.Errorf("input %s without content or hash", in.Role)
		}
	}
	if !reflect.DeepEqual(roles, []string{"sweep", "scenario-template", "topology", "scenario"}) {
		t.Errorf("input roles = %v", roles)
	}

	// Report: 2 sizes × 2 conditions.
	if res.Report == nil || len(res.Report.Points) != 4 {
		t.Fatalf("report = %+v", res.Report)
	}
	for _, f := range []string{"report/summary.json", "report/report.md", "report/sweep-reference-agent-allPeers.svg",
		"report/sweep-reference-agent-firstPeer.svg", "report/sweep-reference-agent-responsiveness.svg", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(s.Output, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	for _, p := range res.Report.Points {
		if p.AllPeers.N != 5 || p.Runs != 5 || p.Responsiveness <= 0 || p.DeadlineMS != 10000 {
			t.Errorf("point %s %s: all-peers n %d runs %d responsiveness %g deadline %g", p.Cell, p.Condition, p.AllPeers.N, p.Runs, p.Responsiveness, p.DeadlineMS)
		}
	}
	md, _ := os.ReadFile(filepath.Join(s.Output, "report", "report.md"))
	if !strings.Contains(string(md), "| 2 | loss-0 | 5 |") || !strings.Contains(string(md), "| 3 | loss-20 |") {
		t.Errorf("report.md:\n%s", md)
	}
	// A third invocation does nothing but the report.
	rn3 := &fakeRunner{}
	res, err = newSweeper(lab, wl, rn3).Run(context.Background(), s)
	if err != nil || len(rn3.calls) != 0 || len(res.Skipped) != 2 {
		t.Errorf("complete sweep re-run: err %v, calls %d, skipped %v", err, len(rn3.calls), res.Skipped)
	}
}

func TestSweepReprovision(t *testing.T) {
	s := loadTestSweep(t, func(s *Sweep) { s.Strategy = StrategyReprovision; s.Teardown = true })
	lab, wl := &fakeLab{}, &fakeWorkloads{}
	rn := &fakeRunner{}
	if _, err := newSweeper(lab, wl, rn).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	want := []labCall{{"down", 2}, {"up", 2}, {"down", 3}, {"up", 3}, {"down", 3}}
	if !reflect.DeepEqual(lab.calls, want) {
		t.Errorf("lab calls = %v, want %v", lab.calls, want)
	}
	p, err := LoadPlan(filepath.Join(Cell{"reference-agent", 2}.Dir(s.Output), FileCellTopology))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Clusters) != 2 || p.Name != "sweeptest" {
		t.Errorf("resized topology: %d clusters, name %s", len(p.Clusters), p.Name)
	}
	for _, c := range rn.calls {
		if len(c.Plan.Clusters) != cellOf(c).Clusters || len(c.Clusters) != cellOf(c).Clusters {
			t.Errorf("cell %s ran on a plan of %d clusters", cellOf(c), len(c.Plan.Clusters))
		}
	}
	for _, c := range wl.calls {
		if len(c.off) != 0 {
			t.Errorf("reprovision disabled clusters: %+v", c)
		}
	}
}

func TestSweepRefusesAnotherSweepsDirectory(t *testing.T) {
	s := loadTestSweep(t, nil)
	if _, err := newSweeper(&fakeLab{}, &fakeWorkloads{}, &fakeRunner{}).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	s.Raw = append(s.Raw, []byte("# changed\n")...)
	_, err := newSweeper(&fakeLab{}, &fakeWorkloads{}, &fakeRunner{}).Run(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "different sweep file") {
		t.Errorf("err = %v", err)
	}
}

func TestSweepSubsetNeedsLargeEnoughTopology(t *testing.T) {
	s := loadTestSweep(t, func(s *Sweep) { s.Clusters = []int{2, 4} })
	_, err := newSweeper(&fakeLab{}, &fakeWorkloads{}, &fakeRunner{}).Run(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "has 3 clusters but the largest cell needs 4") {
		t.Errorf("err = %v", err)
	}
}

func TestMatrix(t *testing.T) {
	s := &Sweep{Clusters: []int{2, 8}, Protocols: []string{"network-manager", "reference-agent"}}
	got := Matrix(s, "x")
	want := []Cell{{"network-manager", 2}, {"reference-agent", 2}, {"network-manager", 8}, {"reference-agent", 8}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Matrix = %v", got)
	}
	s.Protocols = nil
	if got := Matrix(s, "custom"); !reflect.DeepEqual(got, []Cell{{"custom", 2}, {"custom", 8}}) {
		t.Errorf("Matrix without protocols = %v", got)
	}
	if d := (Cell{"reference-agent", 24}).Dir("/o"); d != "/o/reference-agent/24-clusters" {
		t.Errorf("Dir = %s", d)
	}
}

func TestResizeTopologyList(t *testing.T) {
	doc := []byte("apiVersion: testbed.dev/v1alpha1\nkind: Topology\nmetadata: {name: l}\nclusters:\n  list: [a, b, c]\n")
	out, err := ResizeTopology("l.yaml", doc, 2)
	if err != nil {
		t.Fatal(err)
	}
	top, err := topology.Parse("l.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(top.Clusters.List, []string{"a", "b"}) {
		t.Errorf("list = %v", top.Clusters.List)
	}
	if _, err := ResizeTopology("l.yaml", doc, 4); err == nil {
		t.Error("resized a 3-cluster list to 4")
	}
}

func TestCompareSweeps(t *testing.T) {
	base := loadTestSweep(t, nil)
	if _, err := newSweeper(&fakeLab{}, &fakeWorkloads{}, &fakeRunner{}).Run(context.Background(), base); err != nil {
		t.Fatal(err)
	}
	same := loadTestSweep(t, nil)
	if _, err := newSweeper(&fakeLab{}, &fakeWorkloads{}, &fakeRunner{}).Run(context.Background(), same); err != nil {
		t.Fatal(err)
	}
	slow := loadTestSweep(t, func(s *Sweep) { s.Clusters = []int{3}; s.Runs = ptr(30) })
	if _, err := newSweeper(&fakeLab{}, &fakeWorkloads{}, &fakeRunner{shiftMS: 8000}).Run(context.Background(), slow); err != nil {
		t.Fatal(err)
	}
	rules, err := compare.ParseThresholds("t.yaml", []byte("apiVersion: testbed.dev/v1alpha1\nkind: Thresholds\nrules:\n  - metric: allPeers\n    stat: median\n    maxRegressionPct: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	cmp, err := CompareSweeps(t.Context(), base.Output, same.Output, compare.Options{Seed: 1}, rules)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.Cells) != 2 || cmp.Breaches() != 0 || len(cmp.Significant()) != 0 || len(cmp.Unmatched) != 0 {
		t.Errorf("identical sweeps: cells %d breaches %d significant %v unmatched %v", len(cmp.Cells), cmp.Breaches(), cmp.Significant(), cmp.Unmatched)
	}
	cmp, err = CompareSweeps(t.Context(), base.Output, slow.Output, compare.Options{Seed: 1}, rules)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.Cells) != 1 || cmp.Breaches() == 0 || len(cmp.Significant()) == 0 {
		t.Errorf("8 s slower sweep: breaches %d significant %v", cmp.Breaches(), cmp.Significant())
	}
	if !reflect.DeepEqual(cmp.Unmatched, []string{"reference-agent/2-clusters (baseline only)"}) {
		t.Errorf("unmatched = %v", cmp.Unmatched)
	}
}

func ptr[T any](v T) *T { return &v }
