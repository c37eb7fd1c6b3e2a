package runner

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
)

// TestRunAlignedFixedCycle drives four aligned runs with C = 3 s on a fake
// clock. A finds its last peer 1.3 s after each start, so every start should
// be exactly 3 s after that; the reset before the third run takes 5 s and
// overruns C, so that run is off cycle (by 2 s) and the fourth re-locks.
func TestRunAlignedFixedCycle(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b", "c")
	s := testScenario(4, 0)
	s.Phase, s.PhaseCycle = scenarios.PhaseAligned, 3*time.Second
	s.Measurements = []string{scenarios.MeasureDiscovery}
	r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var seq atomic.Int64
	lab.onStart = func(l *fakeLab) {
		uid := func() string { return "obj-" + time.Duration(seq.Add(1)).String() }
		waitState(r, func(s *runState) bool { return s.ready != nil })
		clk.Advance(800 * time.Millisecond)
		l.create("a", "b", uid(), 0)
		waitFirst(r, "a", "b")
		clk.Advance(500 * time.Millisecond)
		l.create("a", "c", uid(), 0)
	}
	var stops atomic.Int64
	lab.onStop = func(*fakeLab) {
		if stops.Add(1) == 3 { // the reset before the third run
			clk.Advance(5 * time.Second)
		}
	}
	// The schedule's wait is the only timer shorter than the run timeout
	// and the reset timeout: let it elapse.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case d := <-clk.calls:
				if d > 0 && d < s.RunTimeout {
					clk.Advance(d)
				}
			case <-done:
				return
			}
		}
	}()
	dir := t.TempDir()
	if _, err := r.Run(context.Background(), Campaign{Dir: dir}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	runs := readRuns(t, dir)
	if len(runs) != 4 {
		t.Fatalf("got %d runs, want 4", len(runs))
	}
	want := []struct {
		off             bool
		since, overrun  float64
		phase           float64
		overheadAtLeast float64
	}{
		{off: true, phase: 0},
		{since: 3000, phase: 4300},                          // 1.3 s + 3 s
		{off: true, since: 5000, overrun: 2000, phase: 600}, // +1.3 s + 5 s = 10.6 s
		{since: 3000, phase: 4900},                          // +4.3 s = 14.9 s
	}
	for i, run := range runs {
		c := run.Cycle
		if c == nil {
			t.Fatalf("run %d has no cycle record", i)
		}
		w := want[i]
		if c.CycleMS != 3000 || c.OffCycle != w.off || c.SincePreviousEndMS != w.since || c.OverrunMS != w.overrun {
			t.Errorf("run %d cycle %+v, want off=%v since=%v overrun=%v", i, *c, w.off, w.since, w.overrun)
		}
		if run.PhaseMS == nil || *run.PhaseMS != w.phase {
			t.Errorf("run %d phase %v, want %v", i, ms(run.PhaseMS), w.phase)
		}
		if run.PauseMS != 0 || run.Phase != scenarios.PhaseAligned {
			t.Errorf("run %d phase %q pause %v", i, run.Phase, run.PauseMS)
		}
	}
	c, err := store.Read(dir)
	if err != nil || len(c.Manifest.Warnings) != 1 || !strings.Contains(c.Manifest.Warnings[0], "fixed cycle C") {
		t.Errorf("manifest warnings %q (%v), want the aligned cycle's", c.Manifest.Warnings, err)
	}
	if runs[2].Cycle.ResetMS != 5000 {
		t.Errorf("overrunning reset recorded as %v ms, want 5000", runs[2].Cycle.ResetMS)
	}
}

func TestResetBound(t *testing.T) {
	cases := []struct{ reset, want time.Duration }{
		{0, time.Second},
		{500 * time.Millisecond, time.Second},
		{800 * time.Millisecond, 1200 * time.Millisecond},
		{1234 * time.Millisecond, 1900 * time.Millisecond},
		{2200 * time.Millisecond, 3300 * time.Millisecond},
	}
	for _, tc := range cases {
		if got := ResetBound(tc.reset); got != tc.want {
			t.Errorf("ResetBound(%s) = %s, want %s", tc.reset, got, tc.want)
		}
	}
}
