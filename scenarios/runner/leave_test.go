package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/impair"
)

// leaveLab is a two-cluster lab (a, b) measuring one leave measurement with
// a fake impairment backend. Node A's stop (the DaemonSet disabled after
// armed is set) and pod deletions are noted in imp's call log, so the test
// sees silence, stop, kill and removal in the order they happened; every
// stop after arming is also sent on stopped.
type leaveLab struct {
	clk     *testClock
	lab     *fakeLab
	imp     *fakeImpairment
	s       *scenarios.Scenario
	r       *Runner
	armed   atomic.Bool
	stopped chan struct{}
	// specs are the specs the selector was asked for.
	specs []impair.Spec
}

func newLeaveLab(t *testing.T, measurement string) *leaveLab {
	t.Helper()
	l := &leaveLab{clk: newTestClock(), imp: newFakeImpairment(), stopped: make(chan struct{}, 4)}
	l.lab = newFakeLab(t, l.clk, "a", "b")
	l.s = testScenario(1, 0)
	l.s.Measurements = []string{scenarios.MeasureDiscovery, measurement}
	kube := l.lab.kube["a"]
	kube.PrependReactor("patch", "daemonsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if l.armed.Load() && strings.Contains(string(a.(k8stesting.PatchAction).GetPatch()), `"true"`) {
			l.imp.note("stop")
			l.stopped <- struct{}{}
		}
		return false, nil, nil
	})
	kube.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if l.armed.Load() {
			l.imp.note("kill a/" + a.(k8stesting.DeleteAction).GetName())
		}
		return false, nil, nil
	})
	r, err := New(l.s, l.lab.clusters, Options{Interface: "eth1", Clock: l.clk, Impairments: func(s impair.Spec) (impair.Impairment, error) {
		l.specs = append(l.specs, s)
		return l.imp, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	l.r = r
	return l
}

// world: 1 s after A starts, b finds A and A finds b (the run is then
// complete and the leave starts); arming happens before the run can
// complete. then (if set) runs after that, once: A's pod is restarted by
// an abort's restore, and the world must not play again.
func (l *leaveLab) world(then func(fl *fakeLab)) {
	var once atomic.Bool
	var seq atomic.Int64
	l.lab.onStart = func(fl *fakeLab) {
		if once.Swap(true) {
			return
		}
		l.clk.Advance(time.Second)
		fl.create("b", "a", "r"+time.Duration(seq.Add(1)).String(), 0)
		waitFirst(l.r, "b", "a")
		l.armed.Store(true)
		fl.create("a", "b", "d"+time.Duration(seq.Add(1)).String(), 0)
		if then != nil {
			then(fl)
		}
	}
}

// withoutKills drops the "kill" entries: whether the runner still sees A's
// pod (and deletes it) after the disabling patch depends on informer lag.
func withoutKills(log []string) []string {
	return slices.DeleteFunc(slices.Clone(log), func(e string) bool { return strings.HasPrefix(e, "kill ") })
}

// silencedPod is the pod the first silence was applied to.
func silencedPod(t *testing.T, log []string) string {
	t.Helper()
	for _, e := range log {
		if rest, ok := strings.CutPrefix(e, "apply a/"); ok {
			return strings.Fields(rest)[0]
		}
	}
	t.Fatalf("node A never silenced; calls %q", log)
	return ""
}

// A failureDetection run silences A's discovery interface completely
// before it stops A, records the leave at the silence, and removes the
// silence once the peers dropped A. A gracefulLeave run stops A without
// any silence.
func TestRunLeaveSilencesNodeAForFailureOnly(t *testing.T) {
	for _, tc := range []struct {
		measurement   string
		leave, gone   float64
		silenced      bool
		methodInNotes bool
	}{
		{measurement: scenarios.MeasureFailureDetection, leave: 1040, gone: 13040, silenced: true, methodInNotes: true},
		{measurement: scenarios.MeasureGracefulLeave, leave: 1000, gone: 13000},
	} {
		t.Run(tc.measurement, func(t *testing.T) {
			l := newLeaveLab(t, tc.measurement)
			// The silence takes 40 ms to be in place (exec + read-back).
			l.imp.onApply = func(impair.Target, impair.Spec) error { l.clk.Advance(40 * time.Millisecond); return nil }
			l.world(func(fl *fakeLab) {
				<-l.stopped
				l.clk.Advance(12 * time.Second) // b's entry for A expires
				fl.delete("b", "a")
			})
			dir := t.TempDir()
			if _, err := l.r.Run(context.Background(), Campaign{Dir: dir}); err != nil {
				t.Fatal(err)
			}
			run := readRuns(t, dir)[0]
			if ms(run.Pod.LeaveMS) != tc.leave || ms(run.Peers[0].GoneMS) != tc.gone || len(run.Peers[0].Flaps) != 0 || run.TimedOut || len(run.Errors) != 0 {
				t.Errorf("leave %v gone %v flaps %v timedOut %v errors %q, want leave %v gone %v",
					ms(run.Pod.LeaveMS), ms(run.Peers[0].GoneMS), run.Peers[0].Flaps, run.TimedOut, run.Errors, tc.leave, tc.gone)
			}
			calls := l.imp.calls()
			want := []string{"stop"}
			if tc.silenced {
				pod := silencedPod(t, calls)
				want = []string{"apply a/" + pod + " eth1 loss=100", "stop", "remove a/" + pod}
				if k := slices.Index(calls, "kill a/"+pod); k >= 0 && (k < slices.Index(calls, "stop") || k > slices.Index(calls, "remove a/"+pod)) {
					t.Errorf("pod killed outside the silence: %q", calls)
				}
			}
			if got := withoutKills(calls); !slices.Equal(got, want) {
				t.Errorf("calls %q, want %q (kills aside)", got, want)
			}
			if tc.silenced && (len(l.specs) != 1 || l.specs[0] != SilenceSpec() || SilenceSpec().LossPct != 100) {
				t.Errorf("selector asked for %+v, want one %+v", l.specs, SilenceSpec())
			}
			camp, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			has := strings.Contains(string(camp), "failure simulated by silencing node A's discovery interface (100 % egress drop, nftables), then stopping it")
			if has != tc.methodInNotes {
				t.Errorf("manifest states the failure method: %v, want %v:\n%s", has, tc.methodInNotes, camp)
			}
		})
	}
}

// Ctrl-C while the peers have not yet dropped the silenced A: the silence
// is removed (under a fresh context) and the run is recorded as aborted.
func TestRunFailureDetectionCtrlCRemovesSilence(t *testing.T) {
	l := newLeaveLab(t, scenarios.MeasureFailureDetection)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l.world(func(*fakeLab) {
		<-l.stopped
		cancel()
	})
	dir := t.TempDir()
	if _, err := l.r.Run(ctx, Campaign{Dir: dir}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	calls := l.imp.calls()
	pod := silencedPod(t, calls)
	want := []string{"apply a/" + pod + " eth1 loss=100", "stop", "remove a/" + pod}
	if got := withoutKills(calls); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q (kills aside)", got, want)
	}
	runs := readRuns(t, dir)
	if len(runs) != 1 || !runs[0].Aborted || ms(runs[0].Pod.LeaveMS) != 1000 {
		t.Errorf("runs %+v", runs)
	}
}

// A silence that cannot be applied fails the run before A is stopped (a
// stop without it would measure a graceful leave), and what was tried is
// removed.
func TestRunFailureDetectionSilenceErrorDoesNotStopA(t *testing.T) {
	l := newLeaveLab(t, scenarios.MeasureFailureDetection)
	l.imp.onApply = func(impair.Target, impair.Spec) error { return errors.New("nft: Operation not permitted") }
	done := make(chan struct{})
	defer close(done)
	l.world(func(fl *fakeLab) {
		// Only if A is (wrongly) stopped: let the run end instead of
		// waiting for a run timeout the fake clock never reaches.
		select {
		case <-l.stopped:
			fl.delete("b", "a")
		case <-done:
		}
	})
	dir := t.TempDir()
	_, err := l.r.Run(context.Background(), Campaign{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), `cluster "a": silencing node A's discovery interface (nftables 100 % egress drop) before stopping it`) ||
		!strings.Contains(err.Error(), "Operation not permitted") {
		t.Fatalf("Run: %v", err)
	}
	calls := l.imp.calls()
	pod := silencedPod(t, calls)
	if want := []string{"apply a/" + pod + " eth1 loss=100", "remove a/" + pod}; !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q (A must not be stopped)", calls, want)
	}
	runs := readRuns(t, dir)
	if len(runs) != 1 || runs[0].Pod.LeaveMS != nil || len(runs[0].Errors) == 0 {
		t.Errorf("runs %+v", runs)
	}
}

// A host that cannot drop A's egress refuses failureDetection before the
// first run: no campaign directory, the lab untouched.
func TestRunRefusesFailureDetectionWithoutDrop(t *testing.T) {
	noDrop := "loss needs netem or nftables netdev egress and this host has neither"
	for _, tc := range []struct {
		name     string
		selector ImpairmentSelector
		want     string
	}{
		{name: "no backend", want: "no impairment backend is available"},
		{name: "neither netem nor nft egress", selector: func(s impair.Spec) (impair.Impairment, error) {
			if s != SilenceSpec() {
				t.Errorf("selector asked for %+v, want %+v", s, SilenceSpec())
			}
			return nil, errors.New(noDrop)
		}, want: noDrop},
		{name: "none backend", selector: func(impair.Spec) (impair.Impairment, error) { return impair.None{}, nil }, want: "no backend that can drop packets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newTestClock()
			lab := newFakeLab(t, clk, "a", "b")
			s := testScenario(1, 0)
			s.Measurements = []string{scenarios.MeasureDiscovery, scenarios.MeasureFailureDetection}
			r, err := New(s, lab.clusters, Options{Interface: "eth1", Clock: clk, Impairments: tc.selector})
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "c")
			_, err = r.Run(context.Background(), Campaign{Dir: dir})
			if err == nil || !strings.Contains(err.Error(), "measurement failureDetection: node A is failed by dropping 100 % of its discovery interface's egress") ||
				!strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v", err)
			}
			if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
				t.Errorf("campaign dir created before refusing: %v", statErr)
			}
			if len(lab.patches) != 0 {
				t.Errorf("lab touched: %v", lab.patches)
			}
		})
	}
}
