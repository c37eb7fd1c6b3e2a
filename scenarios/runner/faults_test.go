package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/fluidos-lab/testbed/scenarios"
)

// fakeFaults is a fault log the test writes to.
type fakeFaults struct {
	mu  sync.Mutex
	evs []FaultEvent
}

func (f *fakeFaults) add(e FaultEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.evs = append(f.evs, e)
}

func (f *fakeFaults) Drain() []FaultEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.evs
	f.evs = nil
	return out
}

// TestRunMarksFaultedRuns pauses peer c's node 100 ms into the second run
// (index 1) and unpauses it during the third run's reset: both runs carry
// their event, timed from their own t0, the other runs none, the progress lines say so, and the campaign
// goes on to the end.
func TestRunMarksFaultedRuns(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b", "c")
	faults := &fakeFaults{}
	var progress bytes.Buffer
	r, err := New(testScenario(3, 1), lab.clusters, Options{Interface: "eth1", Clock: clk, Faults: faults, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	var seq atomic.Int64
	world := standardWorld(r, clk, &seq)
	var starts atomic.Int32
	lab.onStart = func(l *fakeLab) {
		n := starts.Add(1)
		if n == 3 {
			faults.add(FaultEvent{Time: clk.Now().Add(-time.Millisecond), Cluster: "c", Container: "c-control-plane", Event: "unpause"})
		}
		world(l)
		if n == 2 {
			faults.add(FaultEvent{Time: clk.Now(), Cluster: "c", Container: "c-control-plane", Event: "pause"})
			clk.Advance(time.Millisecond)
		}
	}
	dir := t.TempDir()
	sum, err := r.Run(context.Background(), Campaign{Dir: dir})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	runs := readRuns(t, dir)
	if len(runs) != 4 {
		t.Fatalf("%d runs, want 4: the campaign must go on", len(runs))
	}
	for i, run := range runs {
		want := ""
		switch i {
		case 1:
			want = "c-control-plane pause"
		case 2:
			want = "c-control-plane unpause"
		}
		var got []string
		for _, f := range run.Faults {
			got = append(got, f.Container+" "+f.Event)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("run %d faults %v, want [%s]", i, got, want)
		}
	}
	if f := runs[1].Faults; len(f) == 1 && (f[0].AtMS != 1500 || f[0].Cluster != "c") {
		t.Errorf("run 1 fault %+v, want c at 1500 ms after t0 (the world's last discovery)", f[0])
	}
	if f := runs[2].Faults; len(f) == 1 && f[0].AtMS != -1 {
		t.Errorf("run 2 fault at %.0f ms, want -1 (just before its t0)", f[0].AtMS)
	}
	if c := sum.Conditions[0]; c.Faulted != 2 || c.Runs != 3 {
		t.Errorf("summary: %d faulted of %d runs, want 2 of 3", c.Faulted, c.Runs)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	var marked []int
	for i, l := range lines {
		if strings.Contains(l, "LAB FAULT (run excluded from the statistics): c-control-plane") {
			marked = append(marked, i)
		}
	}
	if len(marked) != 2 || marked[0] != 1 || marked[1] != 2 {
		t.Errorf("progress lines marked %v, want [1 2]:\n%s", marked, progress.String())
	}
}

// TestRunFailedRunIsAbortedAndRerun fails node A's API in the second run's
// reset (as when the Docker daemon restarts under the lab): the run is
// recorded as aborted, with the error, and --resume measures that index
// again instead of skipping it.
func TestRunFailedRunIsAbortedAndRerun(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b")
	s := testScenario(3, 0)
	s.Measurements = []string{scenarios.MeasureDiscovery}
	var seq atomic.Int64
	lab.onStart = func(l *fakeLab) {
		clk.Advance(500 * time.Millisecond)
		l.create("a", "b", "o"+time.Duration(seq.Add(1)).String(), 0)
	}
	var patches atomic.Int64
	lab.kube["a"].PrependReactor("patch", "daemonsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if patches.Add(1) == 3 { // disable (run 0), enable (run 0), disable (run 1)
			return true, nil, errors.New("unexpected EOF")
		}
		return false, nil, nil
	})
	r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := r.Run(context.Background(), Campaign{Dir: dir}); err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("Run with A's API gone: %v", err)
	}
	first := readRuns(t, dir)
	if len(first) != 2 || first[0].Aborted || !first[1].Aborted || first[1].Index != 1 || len(first[1].Errors) == 0 {
		t.Fatalf("after the failure: %+v", first)
	}
	r2, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Run(context.Background(), Campaign{Dir: dir, Resume: true}); err != nil {
		t.Fatalf("resume: %v", err)
	}
	all := readRuns(t, dir)
	if len(all) != 4 || all[2].Index != 1 || all[2].Aborted || all[3].Index != 2 {
		t.Fatalf("after resume: indices and aborted %v", func() (o []string) {
			for _, r := range all {
				o = append(o, fmt.Sprintf("%d/%v", r.Index, r.Aborted))
			}
			return
		}())
	}
}
