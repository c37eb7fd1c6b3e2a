package provision

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Span is one cluster's step in Up: when it was queued, started and ended,
// as offsets from the start of Up.
type Span struct {
	Cluster string        `json:"cluster"`
	Step    string        `json:"step"`
	Queued  time.Duration `json:"queued"`
	Start   time.Duration `json:"start"`
	End     time.Duration `json:"end"`
	Note    string        `json:"note,omitempty"`
	Changed bool          `json:"changed"`
	Err     string        `json:"error,omitempty"`
	// Skipped is set when the step never ran (interrupted, or an earlier
	// failure stopped new creates); Note says why.
	Skipped bool `json:"skipped,omitempty"`
}

// Duration is the step's own run time.
func (s Span) Duration() time.Duration { return s.End - s.Start }

// Wait is how long the step queued for a slot of the scheduler.
func (s Span) Wait() time.Duration { return s.Start - s.Queued }

// CriticalPath is the cluster whose pipeline ended last: its steps decide
// the wall time of the cluster part of Up.
type CriticalPath struct {
	Cluster string        `json:"cluster"`
	End     time.Duration `json:"end"`
	Spans   []Span        `json:"spans"`
}

// clusterStep is one step of a cluster's pipeline. heavy steps (the KinD
// create) take a slot of the create bound; the others a slot of the work
// bound.
type clusterStep struct {
	name  string
	heavy bool
	run   func(ctx context.Context, c *clusterState) (note string, changed bool, err error)
}

// pipeline runs every cluster through its steps as soon as the previous step
// of that cluster is done, under one scheduler with two bounds: at most
// creates KinD creates at once, and at most work other steps at once.
//
// A cluster that fails stops its own pipeline, and no cluster starts a
// create afterwards; clusters already created finish their steps, so that
// every cluster is left complete, absent, or at a step boundary that the
// next Up repairs. When ctx ends no step starts; steps in flight (a KinD
// create cannot be cancelled) run to their end.
type pipeline struct {
	steps   []clusterStep
	creates *semaphore.Weighted
	work    *semaphore.Weighted
	since   func() time.Duration
	events  Progress

	failed atomic.Bool
	mu     sync.Mutex
	spans  []Span
	errs   []error
}

func newPipeline(steps []clusterStep, creates, work int, since func() time.Duration, events Progress) *pipeline {
	return &pipeline{steps: steps, creates: semaphore.NewWeighted(int64(max(creates, 1))),
		work: semaphore.NewWeighted(int64(max(work, 1))), since: since, events: events}
}

// run drives every cluster and returns the joined StepErrors. Clusters
// take the create slots in plan order (node-01 first), so an interrupt
// during the first creates leaves the later clusters untouched.
func (pl *pipeline) run(ctx context.Context, states []*clusterState) error {
	var wg sync.WaitGroup
	turns := make([]chan struct{}, len(states))
	for i := range turns {
		turns[i] = make(chan struct{})
	}
	for i, s := range states {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var prev chan struct{}
			if i > 0 {
				prev = turns[i-1]
			}
			pl.cluster(ctx, s, prev, turns[i])
		}()
	}
	wg.Wait()
	return errors.Join(pl.errs...)
}

// cluster runs one cluster's steps. Its first heavy step waits for prev
// (closed once the cluster before it in the plan took its create slot or
// gave up) and closes turn once it holds its own slot, or when the
// cluster stops before.
func (pl *pipeline) cluster(ctx context.Context, s *clusterState, prev, turn chan struct{}) {
	var once sync.Once
	admit := func() { once.Do(func() { close(turn) }) }
	defer admit()
	for i, st := range pl.steps {
		span := Span{Cluster: s.plan.Name, Step: st.name, Queued: pl.since()}
		sem := pl.work
		if st.heavy {
			sem = pl.creates
			if prev != nil {
				select {
				case <-prev:
				case <-ctx.Done():
				}
			}
		}
		err := sem.Acquire(ctx, 1)
		if st.heavy {
			admit()
		}
		if err != nil {
			pl.skipRest(s, i, span.Queued, "interrupted before it started")
			return
		}
		// Acquire may succeed on a done ctx when a slot is free.
		if ctx.Err() != nil {
			sem.Release(1)
			pl.skipRest(s, i, span.Queued, "interrupted before it started")
			return
		}
		if st.heavy && pl.failed.Load() {
			sem.Release(1)
			pl.skipRest(s, i, span.Queued, "not started: another cluster failed")
			return
		}
		span.Start = pl.since()
		pl.events.Start(s.plan.Name, st.name)
		note, changed, err := st.run(ctx, s)
		sem.Release(1)
		span.End, span.Note, span.Changed = pl.since(), note, changed
		pl.events.Done(s.plan.Name, st.name, note, span.Duration(), err)
		if err != nil {
			span.Err = err.Error()
			pl.record(span, &StepError{Cluster: s.plan.Name, Step: st.name, Err: err})
			pl.failed.Store(true)
			pl.skipRest(s, i+1, span.End, "not run: an earlier step failed")
			return
		}
		pl.record(span, nil)
		if ctx.Err() != nil {
			pl.skipRest(s, i+1, span.End, "interrupted before it started")
			return
		}
	}
}

func (pl *pipeline) skipRest(s *clusterState, from int, at time.Duration, why string) {
	for _, st := range pl.steps[from:] {
		pl.record(Span{Cluster: s.plan.Name, Step: st.name, Queued: at, Start: at, End: at, Note: why, Skipped: true}, nil)
	}
}

func (pl *pipeline) record(s Span, err error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.spans = append(pl.spans, s)
	if err != nil {
		pl.errs = append(pl.errs, err)
	}
}

// summarize turns spans into one PhaseTiming per step (the span from the
// first start to the last end, the busy time summed over clusters) and the
// critical path.
func summarize(steps []clusterStep, spans []Span) ([]PhaseTiming, CriticalPath) {
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].Cluster != spans[j].Cluster {
			return spans[i].Cluster < spans[j].Cluster
		}
		return spans[i].Queued < spans[j].Queued
	})
	byStep := map[string]*PhaseTiming{}
	first := map[string]time.Duration{}
	var phases []PhaseTiming
	for _, st := range steps {
		byStep[st.name] = &PhaseTiming{Name: st.name}
	}
	ends := map[string]time.Duration{}
	for _, s := range spans {
		if s.End > ends[s.Cluster] && !s.Skipped {
			ends[s.Cluster] = s.End
		}
		ph := byStep[s.Step]
		if ph == nil || s.Skipped {
			continue
		}
		if f, ok := first[s.Step]; !ok || s.Start < f {
			first[s.Step] = s.Start
		}
		if s.End > ph.end {
			ph.end = s.End
		}
		ph.Busy += s.Duration()
		if s.Changed {
			ph.Changed++
		} else if s.Err == "" {
			ph.Skipped++
		}
	}
	for _, st := range steps {
		ph := byStep[st.name]
		if f, ok := first[st.name]; ok {
			ph.Start = f
			ph.Duration = ph.end - f
			phases = append(phases, *ph)
		}
	}
	var cp CriticalPath
	for c, e := range ends {
		if e > cp.End || (e == cp.End && c < cp.Cluster) {
			cp.Cluster, cp.End = c, e
		}
	}
	for _, s := range spans {
		if s.Cluster == cp.Cluster && !s.Skipped {
			cp.Spans = append(cp.Spans, s)
		}
	}
	return phases, cp
}

// String is the critical path in one line: "c2: create 41.2s (waited 0s), images 3.1s, …".
func (cp CriticalPath) String() string {
	if cp.Cluster == "" {
		return "no cluster step ran"
	}
	out := fmt.Sprintf("%s ended last at %s:", cp.Cluster, cp.End.Round(time.Millisecond))
	for i, s := range cp.Spans {
		sep := ","
		if i == 0 {
			sep = ""
		}
		out += fmt.Sprintf("%s %s %s", sep, s.Step, s.Duration().Round(time.Millisecond))
		if w := s.Wait(); w >= time.Millisecond {
			out += fmt.Sprintf(" (queued %s)", w.Round(time.Millisecond))
		}
	}
	return out
}
