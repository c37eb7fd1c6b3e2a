package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fluidos-lab/testbed/topology"
)

// fakeSteps records the order steps start and end in, per cluster, and can
// fail one (cluster, step), block a create until released, or cancel ctx
// from inside a step.
type fakeSteps struct {
	mu      sync.Mutex
	log     []string
	fail    map[string]string // cluster -> step that fails
	onStart func(cluster, step string)
}

func (f *fakeSteps) steps(names ...string) []clusterStep {
	var out []clusterStep
	for _, n := range names {
		out = append(out, clusterStep{name: n, heavy: n == StepCreate, run: func(ctx context.Context, s *clusterState) (string, bool, error) {
			f.mu.Lock()
			f.log = append(f.log, "start "+s.plan.Name+" "+n)
			f.mu.Unlock()
			if f.onStart != nil {
				f.onStart(s.plan.Name, n)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			f.log = append(f.log, "end "+s.plan.Name+" "+n)
			if f.fail[s.plan.Name] == n {
				return "", false, errors.New("boom")
			}
			return "done", true, nil
		}})
	}
	return out
}

func states(n int) []*clusterState {
	var out []*clusterState
	for i := 1; i <= n; i++ {
		out = append(out, &clusterState{plan: topology.ClusterPlan{Name: fmt.Sprintf("c%02d", i)}})
	}
	return out
}

func clock() func() time.Duration {
	var mu sync.Mutex
	var t time.Duration
	return func() time.Duration { mu.Lock(); defer mu.Unlock(); t += time.Millisecond; return t }
}

// A cluster goes on to its next steps while another cluster's create is
// still running: with one create slot and c01's create done, c01's images
// step starts before c02's create ends.
func TestPipelineOverlapsClusters(t *testing.T) {
	f := &fakeSteps{}
	c02create := make(chan struct{})
	c01images := make(chan struct{})
	f.onStart = func(c, step string) {
		switch {
		case c == "c01" && step == StepImages:
			close(c01images)
		case c == "c02" && step == StepCreate:
			<-c01images // c02's create cannot end before c01's images started
			close(c02create)
		}
	}
	pl := newPipeline(f.steps(StepCreate, StepImages, StepCNI), 1, 4, clock(), NopProgress{})
	// c01 must take the single create slot first.
	st := states(2)
	done := make(chan error)
	go func() { done <- pl.run(context.Background(), st[:1]) }()
	go func() { <-c01images; done <- pl.run(context.Background(), st[1:]) }()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	<-c02create
	phases, cp := summarize(pl.steps, pl.spans)
	if len(phases) != 3 || phases[0].Name != StepCreate || phases[0].Changed != 2 {
		t.Errorf("phases %+v", phases)
	}
	if cp.Cluster != "c02" || len(cp.Spans) != 3 {
		t.Errorf("critical path %+v, want c02 with 3 spans", cp)
	}
}

// A failed step stops that cluster's pipeline and any create not yet
// started; clusters already created finish every step. The error names the
// cluster and the step.
func TestPipelineFailureMidway(t *testing.T) {
	f := &fakeSteps{fail: map[string]string{"c01": StepMultus}}
	release, c02create := make(chan struct{}), make(chan struct{})
	f.onStart = func(c, step string) {
		if c == "c02" && step == StepCreate {
			close(c02create)
			<-release // c02 is in its create when c01 fails
		}
		if c == "c01" && step == StepMultus {
			<-c02create
			defer close(release)
		}
	}
	pl := newPipeline(f.steps(StepCreate, StepImages, StepMultus, StepCharts), 2, 4, clock(), NopProgress{})
	err := pl.run(context.Background(), states(3)[:2])
	var se *StepError
	if !errors.As(err, &se) || se.Cluster != "c01" || se.Step != StepMultus || !strings.Contains(err.Error(), `cluster "c01": multus: boom`) {
		t.Fatalf("err = %v, want a StepError for c01/multus", err)
	}
	got := map[string][]string{}
	for _, s := range pl.spans {
		state := "ok"
		switch {
		case s.Skipped:
			state = "skipped"
		case s.Err != "":
			state = "failed"
		}
		got[s.Cluster] = append(got[s.Cluster], s.Step+"="+state)
	}
	want := map[string][]string{
		"c01": {"create=ok", "images=ok", "multus=failed", "charts=skipped"},
		"c02": {"create=ok", "images=ok", "multus=ok", "charts=ok"}, // created before the failure: finished
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spans (-want +got):\n%s", d)
	}
}

// Creates start in plan order whatever the goroutines' order: with one
// create slot, c01 creates first, then c02, then c03.
func TestPipelineCreatesInPlanOrder(t *testing.T) {
	for range 20 {
		f := &fakeSteps{}
		pl := newPipeline(f.steps(StepCreate, StepImages), 1, 4, clock(), NopProgress{})
		if err := pl.run(context.Background(), states(3)); err != nil {
			t.Fatal(err)
		}
		var creates []string
		for _, l := range f.log {
			if strings.HasPrefix(l, "start ") && strings.HasSuffix(l, " "+StepCreate) {
				creates = append(creates, strings.Fields(l)[1])
			}
		}
		if strings.Join(creates, ",") != "c01,c02,c03" {
			t.Fatalf("creates started in order %v, want c01,c02,c03", creates)
		}
	}
}

// After a failure, a cluster waiting for a create slot never starts it.
func TestPipelineNoCreateAfterFailure(t *testing.T) {
	f := &fakeSteps{fail: map[string]string{"c01": StepCreate}}
	pl := newPipeline(f.steps(StepCreate, StepImages), 1, 1, clock(), NopProgress{})
	st := states(3)
	if err := pl.run(context.Background(), st[:1]); err == nil {
		t.Fatal("no error")
	}
	if err := pl.run(context.Background(), st[1:]); err == nil {
		t.Fatal("the earlier failure is not reported")
	}
	for _, s := range pl.spans {
		if s.Cluster != "c01" && !(s.Skipped && strings.Contains(s.Note, "another cluster failed")) {
			t.Errorf("span %+v ran after c01 failed", s)
		}
	}
}

// Ctrl-C: the steps in flight run to their end, no further step starts,
// and every cluster stops at a step boundary.
func TestPipelineCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeSteps{}
	cancelledAt := -1
	f.onStart = func(c, step string) {
		if step == StepImages && cancelledAt < 0 {
			f.mu.Lock()
			cancelledAt = len(f.log)
			f.mu.Unlock()
			cancel()
		}
	}
	pl := newPipeline(f.steps(StepCreate, StepImages, StepCNI), 1, 1, clock(), NopProgress{})
	err := pl.run(ctx, states(3))
	if err != nil {
		t.Errorf("a cancel is not a step failure: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	open := map[string]bool{}
	for i, l := range f.log {
		name := strings.SplitN(l, " ", 2)[1]
		if strings.HasPrefix(l, "start") {
			open[name] = true
			if i > cancelledAt {
				t.Errorf("%q started after the cancel: %v", name, f.log)
			}
		} else {
			delete(open, name)
		}
	}
	if len(open) > 0 {
		t.Errorf("steps left half-done: %v", open)
	}
	skipped := 0
	for _, s := range pl.spans {
		if s.Skipped {
			skipped++
		}
	}
	if skipped == 0 {
		t.Error("no step recorded as skipped after the cancel")
	}
}

// BenchmarkPipeline runs 24 and 100 fake clusters through the 9 cluster
// steps, with one cluster failing in multus and a cancel arriving midway.
func BenchmarkPipeline(b *testing.B) {
	steps := []string{StepCreate, StepImages, StepCNI, StepMultus, StepReady, StepNAD, StepFluidos, StepCharts}
	for _, n := range []int{24, 100} {
		for _, mode := range []string{"clean", "failed", "cancelled"} {
			b.Run(fmt.Sprintf("clusters=%d/%s", n, mode), func(b *testing.B) {
				for range b.N {
					ctx, cancel := context.WithCancel(context.Background())
					f := &fakeSteps{fail: map[string]string{}}
					switch mode {
					case "failed":
						f.fail[fmt.Sprintf("c%02d", n/2)] = StepMultus
					case "cancelled":
						var once sync.Once
						f.onStart = func(c, step string) {
							if c == fmt.Sprintf("c%02d", n/2) && step == StepMultus {
								once.Do(cancel)
							}
						}
					}
					pl := newPipeline(f.steps(steps...), 4, 8, clock(), NopProgress{})
					err := pl.run(ctx, states(n))
					if (err != nil) != (mode == "failed") {
						b.Fatalf("%s: err = %v", mode, err)
					}
					if mode == "failed" {
						if se := StepErrors(err); len(se) != 1 || se[0].Step != StepMultus {
							b.Fatalf("errors %v", StepErrors(err))
						}
					}
					if len(f.log)%2 != 0 {
						b.Fatal("a step was left half-done")
					}
					cancel()
				}
			})
		}
	}
}
