package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/impair"
)

// waitState blocks until cond holds on the current run's state.
func waitState(r *Runner, cond func(*runState) bool) {
	for {
		ch := r.changed.wait()
		r.mu.Lock()
		ok := r.cur != nil && cond(r.cur)
		r.mu.Unlock()
		if ok {
			return
		}
		<-ch
	}
}

// waitFirst blocks until the current run recorded observer's first object
// for subject (the world uses it to keep timings deterministic).
func waitFirst(r *Runner, observer, subject string) {
	for {
		ch := r.changed.wait()
		r.mu.Lock()
		ok := false
		if r.cur != nil {
			if o := r.cur.obs[obsKey{observer, subject}]; o != nil && o.first != nil {
				ok = true
			}
		}
		r.mu.Unlock()
		if ok {
			return
		}
		<-ch
	}
}

// waitFlaps blocks until observer's view of subject holds n flaps, the last
// one closed if closed.
func waitFlaps(r *Runner, observer, subject string, n int, closed bool) {
	for {
		ch := r.changed.wait()
		r.mu.Lock()
		ok := false
		if r.cur != nil {
			if o := r.cur.obs[obsKey{observer, subject}]; o != nil && len(o.flaps) == n && (!closed || o.flaps[n-1].ReaddedMS != nil) {
				ok = true
			}
		}
		r.mu.Unlock()
		if ok {
			return
		}
		<-ch
	}
}

func readRuns(t *testing.T, dir string) []results.Run {
	t.Helper()
	c, err := store.Read(dir)
	if err != nil {
		t.Fatalf("ReadCampaign: %v", err)
	}
	return c.Runs
}

func ms(v *float64) float64 {
	if v == nil {
		return -1
	}
	return *v
}

// world: A's agent finds b after 800 ms and c after 1300 ms; b and c find A
// at 1000 and 1500 ms. Ground-truth receive stamps are 5 ms before the
// objects appear.
func standardWorld(r *Runner, clk *testClock, seq *atomic.Int64) func(l *fakeLab) {
	return func(l *fakeLab) {
		uid := func() string { return "obj-" + time.Duration(seq.Add(1)).String() }
		t0 := clk.Now().UnixNano()
		waitState(r, func(s *runState) bool { return s.ready != nil })
		clk.Advance(800 * time.Millisecond)
		l.create("a", "b", uid(), t0+795e6)
		waitFirst(r, "a", "b")
		clk.Advance(200 * time.Millisecond)
		l.create("b", "a", uid(), 0)
		waitFirst(r, "b", "a")
		clk.Advance(300 * time.Millisecond)
		l.create("a", "c", uid(), t0+1295e6)
		waitFirst(r, "a", "c")
		clk.Advance(200 * time.Millisecond)
		l.create("c", "a", uid(), 0)
	}
}

func TestRunSequencing(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b", "c")
	s := testScenario(2, 1)
	r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var seq atomic.Int64
	lab.onStart = standardWorld(r, clk, &seq)
	dir := t.TempDir()
	sum, err := r.Run(context.Background(), Campaign{Dir: dir})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	runs := readRuns(t, dir)
	if len(runs) != 3 || sum.Runs != 3 {
		t.Fatalf("got %d runs (summary %d), want 3", len(runs), sum.Runs)
	}
	for i, run := range runs {
		if run.Index != i || run.Warmup != (i == 0) || run.TimedOut || run.Aborted || len(run.Missing) != 0 {
			t.Errorf("run %d: %+v", i, run)
		}
		want := map[string][3]float64{"b": {800, 1000, 795}, "c": {1300, 1500, 1295}}
		for _, p := range run.Peers {
			w := want[p.Peer]
			if ms(p.DiscoveredMS) != w[0] || ms(p.ReverseMS) != w[1] || ms(p.TruthMS) != w[2] || ms(p.TruthSendMS) != w[2]-2 || len(p.Flaps) != 0 {
				t.Errorf("run %d peer %s: discovered %v reverse %v truth %v send %v flaps %v", i, p.Peer, ms(p.DiscoveredMS), ms(p.ReverseMS), ms(p.TruthMS), ms(p.TruthSendMS), p.Flaps)
			}
		}
		if run.Pod.ScheduledMS == nil || run.Pod.ReadyMS == nil || run.Pod.StartedMS == nil || *run.Pod.ReadyMS != 0 {
			t.Errorf("run %d pod timeline %+v", i, run.Pod)
		}
		if run.Phase != scenarios.PhaseRandom || run.PauseMS != 0 || run.Cycle != nil || run.Impairment.Backend != impair.BackendNone {
			t.Errorf("run %d phase %s pause %v impairment %+v", i, run.Phase, run.PauseMS, run.Impairment)
		}
	}
	// The sequence on A: disable, enable, per run; nothing else patched.
	var want []string
	for range 3 {
		want = append(want, `a:{"spec":{"template":{"spec":{"nodeSelector":{"testbed.dev/disabled":"true"}}}}}`,
			`a:{"spec":{"template":{"spec":{"nodeSelector":{"testbed.dev/disabled":null}}}}}`)
	}
	if strings.Join(lab.patches, "\n") != strings.Join(want, "\n") {
		t.Errorf("patches:\n%s\nwant:\n%s", strings.Join(lab.patches, "\n"), strings.Join(want, "\n"))
	}
	ds, err := lab.kube["a"].AppsV1().DaemonSets(agentNS).Get(context.Background(), "reference-agent", metav1.GetOptions{})
	if err != nil || len(ds.Spec.Template.Spec.NodeSelector) != 0 {
		t.Errorf("A left disabled: %v %v", ds.Spec.Template.Spec.NodeSelector, err)
	}
	c, _ := store.Read(dir)
	if c.Manifest.Ended.IsZero() || c.Manifest.Seed != 1 || len(c.Manifest.Peers) != 2 || c.Manifest.AnnounceIntervalMS != 5000 || len(c.Manifest.Warnings) != 0 || c.Manifest.Phase != scenarios.PhaseRandom {
		t.Errorf("manifest %+v", c.Manifest)
	}
}

func TestRunTimeoutKeepsPartialResults(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b", "c")
	s := testScenario(1, 0)
	s.Measurements = []string{scenarios.MeasureDiscovery}
	r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	lab.onStart = func(l *fakeLab) {
		clk.Advance(900 * time.Millisecond)
		l.create("a", "b", "u1", 0)
		waitFirst(r, "a", "b")
		// c is never found: the run ends at its timeout.
		for clk.Fire(s.RunTimeout) == 0 {
			<-clk.calls
		}
	}
	dir := t.TempDir()
	sum, err := r.Run(context.Background(), Campaign{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	runs := readRuns(t, dir)
	if len(runs) != 1 || !runs[0].TimedOut || sum.TimedOut != 1 {
		t.Fatalf("runs %+v", runs)
	}
	if got := runs[0].Missing; len(got) != 1 || got[0] != "c" {
		t.Errorf("missing %v", got)
	}
	if ms(runs[0].Peers[0].DiscoveredMS) != 900 || runs[0].Peers[1].DiscoveredMS != nil {
		t.Errorf("peers %+v", runs[0].Peers)
	}
}

func TestRunFlapIsNotRediscovery(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b", "c")
	s := testScenario(1, 0)
	s.Measurements = []string{scenarios.MeasureDiscovery}
	r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	lab.onStart = func(l *fakeLab) {
		clk.Advance(time.Second)
		l.create("a", "b", "first", 0)
		waitFirst(r, "a", "b")
		// b's object expires (TTL) while c is still unknown, and comes back
		// with a new UID: a flap, not a second discovery.
		clk.Advance(9 * time.Second)
		l.delete("a", "b")
		waitFlaps(r, "a", "b", 1, false)
		clk.Advance(2 * time.Second)
		l.create("a", "b", "second", 0)
		waitFlaps(r, "a", "b", 1, true)
		clk.Advance(time.Second)
		l.create("a", "c", "third", 0)
	}
	dir := t.TempDir()
	if _, err := r.Run(context.Background(), Campaign{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	run := readRuns(t, dir)[0]
	p := run.Peers[0]
	if ms(p.DiscoveredMS) != 1000 || len(p.Flaps) != 1 || p.Flaps[0].DeletedMS != 10000 || ms(p.Flaps[0].ReaddedMS) != 12000 ||
		p.Flaps[0].Observer != "a" || p.Flaps[0].Subject != "b" {
		t.Errorf("peer %+v flaps %+v", p, p.Flaps)
	}
	if c := run.Peers[1]; ms(c.DiscoveredMS) != 13000 || len(c.Flaps) != 0 {
		t.Errorf("peer c %+v", c)
	}
}

func TestRunResumeContinuesDeterministically(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b")
	s := testScenario(3, 0)
	s.Phase, s.PhaseMax = scenarios.PhaseRandom, 5*time.Second
	s.Measurements = []string{scenarios.MeasureDiscovery}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var runsStarted atomic.Int64
	var seq atomic.Int64
	lab.onStart = func(l *fakeLab) {
		n := runsStarted.Add(1)
		clk.Advance(500 * time.Millisecond)
		l.create("a", "b", "o"+time.Duration(seq.Add(1)).String(), 0)
		if n == 2 {
			// A crash after the first run: the second run is in flight.
			cancel()
		}
	}
	// Fire the random pauses as they are requested.
	go func() {
		for d := range clk.calls {
			if d > 0 && d < s.PhaseMax {
				clk.Fire(d)
			}
		}
	}()
	_, err = r.Run(ctx, Campaign{Dir: dir})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first Run: %v", err)
	}
	first := readRuns(t, dir)
	if len(first) != 2 || first[0].Aborted || !first[1].Aborted {
		t.Fatalf("after abort: %+v", first)
	}
	r2, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	lab.mu.Lock()
	lab.onStart = func(l *fakeLab) {
		clk.Advance(500 * time.Millisecond)
		l.create("a", "b", "o"+time.Duration(seq.Add(1)).String(), 0)
	}
	lab.mu.Unlock()
	if _, err := r2.Run(context.Background(), Campaign{Dir: dir, Resume: true}); err != nil {
		t.Fatalf("resume: %v", err)
	}
	all := readRuns(t, dir)
	// The aborted run 1 is run again, then run 2.
	if len(all) != 4 || all[2].Index != 1 || all[2].Aborted || all[3].Index != 2 || all[3].Aborted {
		t.Fatalf("after resume: %+v", all)
	}
	for _, run := range all {
		if want := msOf(Pause(s.Phase, s.Seed, s.PhaseMax, run.Condition, run.Index)); run.PauseMS != want || want == 0 {
			t.Errorf("run %d pause %v, want %v", run.Index, run.PauseMS, want)
		}
	}
}

func TestRunAbortRestoresWorkloadAndImpairment(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b", "c")
	cond := scenarios.Condition{Name: "loss-25", Runs: 2, Target: scenarios.TargetPeers, Impairment: impair.Spec{LossPct: 25, Seed: 7}}
	s := testScenario(0, 0, cond)
	s.Measurements = []string{scenarios.MeasureDiscovery}
	imp := newFakeImpairment()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk, Impairments: func(impair.Spec) (impair.Impairment, error) { return imp, nil }})
	if err != nil {
		t.Fatal(err)
	}
	lab.onStart = func(l *fakeLab) {
		clk.Advance(700 * time.Millisecond)
		l.create("a", "b", "x1", 0)
		waitFirst(r, "a", "b")
		cancel() // Ctrl-C with c still missing
	}
	dir := t.TempDir()
	_, err = r.Run(ctx, Campaign{Dir: dir})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	runs := readRuns(t, dir)
	if len(runs) != 1 || !runs[0].Aborted || ms(runs[0].Peers[0].DiscoveredMS) != 700 {
		t.Fatalf("runs %+v", runs)
	}
	ds, err := lab.kube["a"].AppsV1().DaemonSets(agentNS).Get(context.Background(), "reference-agent", metav1.GetOptions{})
	if err != nil || len(ds.Spec.Template.Spec.NodeSelector) != 0 {
		t.Errorf("A not restored: %v %v", ds.Spec.Template.Spec.NodeSelector, err)
	}
	if imp.applied["b"] != 1 || imp.applied["c"] != 1 || imp.removed["b"] != 1 || imp.removed["c"] != 1 || imp.applied["a"] != 0 {
		t.Errorf("impairment applied %v removed %v", imp.applied, imp.removed)
	}
}

func TestRunRecordsImpairment(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b")
	cond := scenarios.Condition{Name: "loss-25", Runs: 2, Target: scenarios.TargetBoth, Impairment: impair.Spec{LossPct: 25, Seed: 7}}
	s := testScenario(0, 0, cond)
	s.Measurements = []string{scenarios.MeasureDiscovery}
	imp := newFakeImpairment()
	r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk, Impairments: func(impair.Spec) (impair.Impairment, error) { return imp, nil }})
	if err != nil {
		t.Fatal(err)
	}
	var seq atomic.Int64
	lab.onStart = func(l *fakeLab) {
		waitState(r, func(s *runState) bool { return s.started != nil })
		clk.Advance(5200 * time.Millisecond)
		l.create("a", "b", "i"+time.Duration(seq.Add(1)).String(), 0)
	}
	dir := t.TempDir()
	if _, err := r.Run(context.Background(), Campaign{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	runs := readRuns(t, dir)
	for _, run := range runs {
		im := run.Impairment
		if im.Backend != impair.BackendNftables || im.LossPct != 25 || im.Seed != 7 || im.Target != scenarios.TargetBoth ||
			im.AchievedLossPct == nil || *im.AchievedLossPct != 25 || im.PacketsSeen == 0 {
			t.Errorf("run %d impairment %+v", run.Index, im)
		}
	}
	if imp.applied["b"] != 1 || imp.applied["a"] != 2 || imp.removed["b"] != 1 || imp.removed["a"] != 2 {
		t.Errorf("applied %v removed %v", imp.applied, imp.removed)
	}
	c, _ := store.Read(dir)
	if c.Manifest.Host.ImpairmentBackend != impair.BackendNftables || c.Manifest.Conditions[0].Impairment.LossPct != 25 {
		t.Errorf("manifest %+v", c.Manifest)
	}
}

func TestRunRefusesImpairmentWithoutBackend(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b")
	s := testScenario(0, 0, scenarios.Condition{Name: "delay", Runs: 1, Target: scenarios.TargetPeers, Impairment: impair.Spec{Delay: time.Millisecond}})
	r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk, Impairments: func(impair.Spec) (impair.Impairment, error) {
		return nil, errors.New("delay need netem, which this host does not have")
	}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "c")
	_, err = r.Run(context.Background(), Campaign{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), `condition "delay": delay need netem`) {
		t.Fatalf("err %v", err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Errorf("campaign dir created before refusing: %v", statErr)
	}
	if len(lab.patches) != 0 {
		t.Errorf("lab touched: %v", lab.patches)
	}
}
