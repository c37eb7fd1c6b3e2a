package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/impair"
)

// campaign is one Run in progress: where runs are recorded and what the
// runs so far tell the next one (its schedule and phase).
type campaign struct {
	rec       store.Recorder
	m         results.Manifest
	sum       *Summary
	backends  []impair.Impairment
	next      map[string]int
	overheads []float64
	total     int
	done      int
	start     time.Time
	// first is the start of the campaign's first run (phase reference);
	// lastEnd is when the previous run ended (the aligned cycle's anchor).
	first, lastEnd time.Time
	// cycle is C of the aligned phase, fixed at the first reset when the
	// scenario does not give it.
	cycle time.Duration
}

// Run executes (or resumes) the campaign. On ctx cancellation it aborts the
// run in flight, restores A's workload and removes impairments under a fresh
// bounded context, records the run as aborted and returns ctx's error.
func (r *Runner) Run(ctx context.Context, c Campaign) (*Summary, error) {
	backends, err := r.prepare(ctx)
	if err != nil {
		return nil, err
	}
	cp, err := r.open(c, backends)
	if err != nil {
		return nil, err
	}
	defer cp.rec.Close()
	stop, err := r.startWatchers(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	defer func() { cp.sum.OverheadP50 = stats.Median(cp.overheads) }()
	for ci, cond := range r.s.Conditions {
		if err := r.runCondition(ctx, cp, ci, cond); err != nil {
			return cp.sum, err
		}
	}
	cp.m.Ended = time.Now()
	if fr, ok := cp.rec.(*store.FileRecorder); ok {
		if err := fr.UpdateManifest(cp.m); err != nil {
			return cp.sum, err
		}
	}
	return cp.sum, nil
}

// prepare refuses what the host cannot do before touching the lab: it
// selects each condition's impairment backend (and the silencer of
// failureDetection) and reads node A's workload.
func (r *Runner) prepare(ctx context.Context) ([]impair.Impairment, error) {
	backends := make([]impair.Impairment, len(r.s.Conditions))
	for i, cond := range r.s.Conditions {
		if cond.Impairment.IsZero() {
			backends[i] = impair.None{}
			continue
		}
		if r.o.Impairments == nil {
			return nil, fmt.Errorf("condition %q: impairment requested but no impairment backend is available", cond.Name)
		}
		b, err := r.o.Impairments(cond.Impairment)
		if err != nil {
			return nil, fmt.Errorf("condition %q: %w", cond.Name, err)
		}
		backends[i] = b
	}
	if r.s.Measures(scenarios.MeasureFailureDetection) {
		b, err := r.silencer()
		if err != nil {
			return nil, err
		}
		r.silence = b
	}
	return backends, r.workload(ctx)
}

// open creates the campaign directory, or reopens it to resume after its
// last completed run.
func (r *Runner) open(c Campaign, backends []impair.Impairment) (*campaign, error) {
	cp := &campaign{sum: &Summary{Dir: c.Dir}, backends: backends, next: map[string]int{}, m: r.manifest(c.Manifest, backends), cycle: r.s.PhaseCycle}
	if c.Resume {
		fr, camp, err := store.Open(c.Dir)
		if err != nil {
			return nil, fmt.Errorf("resuming campaign %s: %w", c.Dir, err)
		}
		cp.rec, cp.next, cp.m = fr, resumeNext(camp.Runs), camp.Manifest
		cp.m.Ended = time.Time{}
		cp.first = firstStart(camp.Runs)
		for _, w := range camp.Warnings {
			fmt.Fprintf(r.o.Progress, "resume: %s\n", w)
		}
		if err := fr.UpdateManifest(cp.m); err != nil {
			fr.Close()
			return nil, err
		}
	} else {
		fr, err := store.Create(c.Dir, cp.m)
		if err != nil {
			return nil, err
		}
		cp.rec = fr
	}
	for _, cond := range r.s.Conditions {
		cp.total += max(0, cond.Warmup+cond.Runs-cp.next[cond.Name])
	}
	cp.start = r.clk.Now()
	return cp, nil
}

// firstStart is the start of the earliest recorded run (the phase reference
// of a resumed campaign).
func firstStart(runs []results.Run) time.Time {
	var t time.Time
	for _, r := range runs {
		if !r.Started.IsZero() && (t.IsZero() || r.Started.Before(t)) {
			t = r.Started
		}
	}
	return t
}

// runCondition runs one condition's remaining runs, each recorded as it
// ends, then removes the condition's impairment.
func (r *Runner) runCondition(ctx context.Context, cp *campaign, ci int, cond scenarios.Condition) error {
	n := cond.Warmup + cond.Runs
	cs := ConditionSummary{Name: cond.Name, Backend: cp.backends[ci].Backend()}
	if cp.next[cond.Name] >= n {
		cp.sum.Conditions = append(cp.sum.Conditions, cs)
		return nil
	}
	imp := &impairState{r: r, cond: cond, backend: cp.backends[ci], spec: cond.Impairment}
	var alls, overheads []float64
	for i := cp.next[cond.Name]; i < n; i++ {
		if err := imp.ensurePeers(ctx); err != nil {
			return r.abort(ctx, cp.rec, imp, nil, err)
		}
		run, err := r.runOne(ctx, cp, cond, i, imp)
		r.markFaults(cp, run)
		if err != nil {
			return r.abort(ctx, cp.rec, imp, run, err)
		}
		if err := cp.rec.Append(ctx, *run); err != nil {
			return r.abort(ctx, cp.rec, imp, nil, fmt.Errorf("recording run %s/%d: %w", cond.Name, i, err))
		}
		cp.count(run, &cs)
		overheads = append(overheads, run.CycleOverheadMS)
		if all, ok := allFound(run); ok && !run.Warmup && !run.Faulted() {
			alls = append(alls, all)
		}
		r.progressLine(cp, cond, i, n, run, alls)
		if err := r.delay(ctx, i < n-1); err != nil {
			return r.abort(ctx, cp.rec, imp, nil, err)
		}
	}
	if err := imp.remove(ctx); err != nil {
		return err
	}
	cs.MedianAllMS = stats.Median(alls)
	cs.OverheadP50 = stats.Median(overheads)
	cp.sum.Conditions = append(cp.sum.Conditions, cs)
	return nil
}

// count adds a recorded run to the summaries.
func (cp *campaign) count(run *results.Run, cs *ConditionSummary) {
	cp.done++
	cp.sum.Runs++
	cp.overheads = append(cp.overheads, run.CycleOverheadMS)
	if run.TimedOut {
		cp.sum.TimedOut++
		cs.TimedOut++
	}
	if !run.Warmup {
		cs.Runs++
	}
	if run.Faulted() {
		cs.Faulted++
	}
	cs.AchievedLoss = run.Impairment.AchievedLossPct
}

func (r *Runner) progressLine(cp *campaign, cond scenarios.Condition, i, n int, run *results.Run, alls []float64) {
	elapsed := r.clk.Now().Sub(cp.start)
	eta := time.Duration(float64(elapsed) / float64(cp.done) * float64(cp.total-cp.done)).Round(time.Second)
	sched := fmt.Sprintf("pause %.0f ms", run.PauseMS)
	if c := run.Cycle; c != nil {
		sched = fmt.Sprintf("cycle %.0f ms", c.CycleMS)
		if c.OffCycle {
			sched += fmt.Sprintf(" (OFF CYCLE by %.0f ms)", c.OverrunMS)
		}
	}
	fmt.Fprintf(r.o.Progress, "%s run %d/%d%s: peers %d/%d in %s, median %s, overhead %.0f ms (A's pods gone %.0f, peer resources gone %.0f), %s, ETA %s%s\n",
		cond.Name, i+1, n, warmTag(run.Warmup), len(r.peers)-len(run.Missing), len(r.peers), fmtMS(lastFound(run)),
		fmtMS(stats.Median(alls)), run.CycleOverheadMS, msOf(r.lastPodsGone), msOf(r.lastPeersGone), sched, eta, faultNote(run))
}

// delay is the pause between two runs of the random phase; the aligned
// phase has it inside its cycle instead.
func (r *Runner) delay(ctx context.Context, more bool) error {
	if !more || r.s.DelayBetweenRuns <= 0 || r.s.Phase == scenarios.PhaseAligned {
		return nil
	}
	select {
	case <-r.clk.After(r.s.DelayBetweenRuns):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
