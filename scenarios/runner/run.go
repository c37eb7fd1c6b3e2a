package runner

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/scenarios"
)

// runOne performs one run: reset, schedule, start, observe, conclude. On
// error it returns the partial run.
func (r *Runner) runOne(ctx context.Context, cp *campaign, cond scenarios.Condition, i int, imp *impairState) (*results.Run, error) {
	s := r.s
	run := &results.Run{Campaign: campaignID(s), Condition: cond.Name, Index: i, Warmup: i < cond.Warmup,
		NodeA: s.NodeA, Protocol: s.Protocol.Name, Phase: s.Phase}
	resetDur, err := r.reset(ctx)
	if err != nil {
		return run, err
	}
	tArm, err := r.schedule(ctx, cp, cond, i, run, resetDur)
	if err != nil {
		return run, err
	}
	st, err := r.start(ctx, cp, run, resetDur, tArm)
	if err != nil {
		return run, err
	}
	podA, err := r.observe(ctx, st, run, imp)
	if err != nil {
		return run, err
	}
	cp.lastEnd = r.clk.Now()
	return run, r.conclude(ctx, cp, st, run, podA, imp)
}

// reset disables A and waits until its pods are gone, then deletes A's peer
// resources (and, for reverse discovery and leave measurements, the peers'
// resources for A). It returns how long that took.
func (r *Runner) reset(ctx context.Context) (time.Duration, error) {
	s := r.s
	tReset := r.clk.Now()
	if err := r.setEnabled(ctx, false); err != nil {
		return 0, err
	}
	wa := r.watchers[s.NodeA]
	if err := r.waitUntil(ctx, r.o.ResetTimeout, fmt.Sprintf("cluster %q: node A's pods to be gone", s.NodeA), func() bool {
		return len(wa.podList()) == 0
	}); err != nil {
		return 0, err
	}
	peerSide := s.Measures(scenarios.MeasureReverse) || leaves(s)
	tPods := r.clk.Now()
	if err := r.resetPeerObjects(ctx, peerSide); err != nil {
		return 0, err
	}
	d := r.clk.Now().Sub(tReset)
	r.lastPodsGone, r.lastPeersGone = tPods.Sub(tReset), d-tPods.Sub(tReset)
	return d, nil
}

// schedule waits until the run may start and returns when it was armed:
// after a uniform random pause (phase random), or at the previous run's end
// plus the cycle C (phase aligned). An aligned run that cannot make end+C
// is recorded as off cycle, never silently shifted; the next run re-locks on
// this run's end.
func (r *Runner) schedule(ctx context.Context, cp *campaign, cond scenarios.Condition, i int, run *results.Run, resetDur time.Duration) (time.Time, error) {
	var wait time.Duration
	if r.s.Phase == scenarios.PhaseAligned {
		if cp.cycle <= 0 {
			cp.cycle = r.s.DelayBetweenRuns + ResetBound(resetDur)
			fmt.Fprintf(r.o.Progress, "phase aligned: cycle C = %s (delay %s + reset bound %s from the first reset of %s)\n",
				cp.cycle, r.s.DelayBetweenRuns, ResetBound(resetDur), resetDur.Round(time.Millisecond))
		}
		c := &results.Cycle{CycleMS: msOf(cp.cycle), ResetMS: msOf(resetDur)}
		run.Cycle = c
		if cp.lastEnd.IsZero() {
			c.OffCycle = true // nothing to anchor on: the first run of this session
		} else {
			target := cp.lastEnd.Add(cp.cycle)
			now := r.clk.Now()
			if now.After(target) {
				c.OffCycle, c.OverrunMS = true, msOf(now.Sub(target))
			} else {
				wait = target.Sub(now)
			}
		}
	} else {
		wait = r.pause(cond.Name, i)
		run.PauseMS = msOf(wait)
	}
	if wait > 0 {
		select {
		case <-r.clk.After(wait):
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
	return r.clk.Now(), nil
}

// ResetBound is the part of the aligned cycle reserved for the reset, from
// one measured reset: 1.5 times it, rounded up to 100 ms, at least 1 s.
func ResetBound(reset time.Duration) time.Duration {
	b := (reset*3/2 + 99*time.Millisecond).Truncate(100 * time.Millisecond)
	return max(b, time.Second)
}

// start arms the run state (every peer object present now is not a
// discovery), takes t0 and enables A.
func (r *Runner) start(ctx context.Context, cp *campaign, run *results.Run, resetDur time.Duration, tArm time.Time) (*runState, error) {
	s := r.s
	// A leave can only be measured once the peers know A: leave
	// measurements wait for reverse discovery too.
	st := newRunState(s.NodeA, r.peers, s.Measures(scenarios.MeasureReverse) || leaves(s))
	st.offsets = r.o.ClockOffsets
	for _, c := range r.clusters {
		for _, u := range r.watchers[c.Name].peerObjects() {
			st.seed(c.Name, r.mapper.subject(u), u.GetUID())
		}
	}
	for _, p := range r.watchers[s.NodeA].podList() {
		st.oldPods[p.UID] = true
	}
	r.mu.Lock()
	st.t0 = r.clk.Now()
	r.cur = st
	r.mu.Unlock()
	r.markWire(st)
	run.Started = st.t0
	run.CycleOverheadMS = msOf(resetDur + st.t0.Sub(tArm))
	r.recordPhase(cp, run, st.t0)
	if err := r.setEnabled(ctx, true); err != nil {
		r.finish(st, run)
		return nil, err
	}
	return st, nil
}

// recordPhase records the start's offset, modulo the announce period, from
// the campaign's first start, and the time since the previous run's end.
func (r *Runner) recordPhase(cp *campaign, run *results.Run, t0 time.Time) {
	if cp.first.IsZero() {
		cp.first = t0
	}
	if T := r.s.Protocol.AnnounceInterval; T > 0 {
		off := t0.Sub(cp.first) % T
		if off < 0 {
			off += T
		}
		v := msOf(off)
		run.PhaseMS = &v
	}
	if run.Cycle != nil && !cp.lastEnd.IsZero() {
		run.Cycle.SincePreviousEndMS = msOf(t0.Sub(cp.lastEnd))
	}
}

// observe records until every awaited discovery happened or the run times
// out, applying a node-A-targeted impairment as soon as A's pod runs. It
// returns A's pod as last seen.
func (r *Runner) observe(ctx context.Context, st *runState, run *results.Run, imp *impairState) (*corev1.Pod, error) {
	timeout := r.clk.After(r.s.RunTimeout)
	var podA *corev1.Pod
	appliedA := false
	for {
		ch := r.changed.wait()
		r.mu.Lock()
		complete := st.discovered()
		if st.started != nil && st.pod != nil {
			podA = st.pod.DeepCopy()
		}
		r.mu.Unlock()
		if imp.targetsA() && !appliedA && podA != nil {
			appliedA = true
			if err := imp.applyA(ctx, podA); err != nil {
				r.mu.Lock()
				st.errs = append(st.errs, err.Error())
				r.mu.Unlock()
			}
		}
		if complete {
			return podA, nil
		}
		select {
		case <-ch:
		case <-timeout:
			run.TimedOut = true
			return podA, nil
		case <-ctx.Done():
			r.finish(st, run)
			return podA, ctx.Err()
		}
	}
}

// conclude reads A's container start from the runtime (before a leave
// removes the pod), measures failure detection or graceful leave, writes
// the observations into the run, and reads back the impairment and the API
// latency. The aligned cycle's anchor is the end of A's discovery: the
// time it found its last peer, else the end of observation.
func (r *Runner) conclude(ctx context.Context, cp *campaign, st *runState, run *results.Run, podA *corev1.Pod, imp *impairState) error {
	startMS, startErr := r.containerStart(ctx, st, podA)
	if leaves(r.s) && !run.TimedOut {
		if err := r.leave(ctx, st, run); err != nil {
			r.finish(st, run)
			return err
		}
	}
	r.finish(st, run)
	if last, ok := allFound(run); ok {
		cp.lastEnd = st.t0.Add(time.Duration(last * float64(time.Millisecond)))
	}
	run.Pod.ContainerStartMS = startMS
	if startErr != "" {
		run.Errors = append(run.Errors, startErr)
	}
	ir, err := imp.read(ctx, podA)
	if err != nil {
		run.Errors = append(run.Errors, err.Error())
	}
	run.Impairment = ir
	r.explainWire(st, run, imp)
	run.APILatencyMS = r.apiLatency(ctx)
	return ctx.Err()
}

// containerStart is A's container start from the runtime, in ms since t0.
func (r *Runner) containerStart(ctx context.Context, st *runState, podA *corev1.Pod) (*float64, string) {
	if podA == nil || r.o.Starts == nil {
		return nil, ""
	}
	t, err := r.o.Starts.ContainerStart(ctx, r.s.NodeA, podA)
	if err != nil {
		return nil, fmt.Sprintf("cluster %q: container start of pod %s: %v", r.s.NodeA, podA.Name, err)
	}
	v := float64(t.UnixNano()-st.t0.UnixNano()) / 1e6
	return &v, ""
}
