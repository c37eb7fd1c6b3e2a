package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/impair"
	"github.com/fluidos-lab/testbed/scenarios/workload"
)

// Clock is the runner's single clock. time.Now carries a monotonic reading,
// so durations between its values are immune to wall-clock steps.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ImpairmentSelector validates a spec against the host and returns the
// backend that applies it (impair.Select bound to the host's capabilities).
type ImpairmentSelector func(impair.Spec) (impair.Impairment, error)

// ContainerStarts reads a container's start time from the runtime inside the
// node (CRI), which is more precise than the pod's API status.
type ContainerStarts interface {
	ContainerStart(ctx context.Context, cluster string, pod *corev1.Pod) (time.Time, error)
}

// Options configure a Runner. Zero values are sensible defaults.
type Options struct {
	Clock Clock
	// Impairments selects backends; nil allows only unimpaired conditions.
	Impairments ImpairmentSelector
	// Starts reads container start times; nil leaves ContainerStartMS unset.
	Starts ContainerStarts
	// Progress receives one line per run; nil discards.
	Progress io.Writer
	// Interface is the discovery interface inside pods (the plan's
	// macvlan.podInterface); required.
	Interface string
	// ResetTimeout bounds each wait of the reset (default 2 minutes).
	ResetTimeout time.Duration
	// CleanupTimeout bounds the restore after an abort (default 1 minute).
	CleanupTimeout time.Duration
	// Wire is the capture of the protocol's announce group on the lab
	// network; nil records no wire figures.
	Wire Wire
	// Faults reports the lab's infrastructure events (node containers
	// paused or stopped, the engine's events lost); each run records those
	// of its window. Nil records none.
	Faults LabFaults
	// ClockOffsets are, per cluster, its host's clock minus the runner's
	// (ns): the agent stamps its ground truth with its node's clock, so a
	// cluster on another host of a multi-host lab is corrected by it. Nil
	// (one host) corrects nothing.
	ClockOffsets map[string]int64
}

// Campaign is where and how a campaign is recorded.
type Campaign struct {
	Dir string
	// Resume continues the campaign in Dir from its last recorded run.
	Resume bool
	// Manifest is written at start (new campaigns); the runner fills in the
	// scenario-derived fields (seed, phase, protocol, conditions, peers...).
	Manifest results.Manifest
}

// Summary is what a campaign did.
type Summary struct {
	Dir         string
	Runs        int
	Aborted     bool
	TimedOut    int
	OverheadP50 float64 // median cycle overhead, ms
	Conditions  []ConditionSummary
}

// ConditionSummary is one condition's outcome.
type ConditionSummary struct {
	Name     string
	Runs     int
	TimedOut int
	// Faulted counts the runs the lab's infrastructure disturbed (marked,
	// left out of MedianAllMS and of the statistics).
	Faulted      int
	MedianAllMS  float64 // median time until A found every peer (non-warm-up)
	OverheadP50  float64
	Backend      string
	AchievedLoss *float64
}

// Runner runs one scenario on one lab.
type Runner struct {
	s        *scenarios.Scenario
	clusters []Cluster
	a        Cluster
	peers    []string
	o        Options
	clk      Clock
	mapper   *identityMapper
	selector labels.Selector
	replicas int32

	watchers map[string]*watcher
	changed  *broadcast

	// silence is the backend that cuts node A's discovery interface off
	// (SilenceSpec) before a failureDetection stop; nil otherwise.
	silence impair.Impairment

	// lastPodsGone and lastPeersGone split the last run's reset (progress).
	lastPodsGone, lastPeersGone time.Duration

	mu  sync.Mutex
	cur *runState
}

// New checks the scenario against the lab and prepares a Runner.
func New(s *scenarios.Scenario, clusters []Cluster, o Options) (*Runner, error) {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Interface == "" {
		return nil, errors.New("runner: the pods' discovery interface is not set (the plan's macvlan.podInterface)")
	}
	if o.ResetTimeout <= 0 {
		o.ResetTimeout = 2 * time.Minute
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = time.Minute
	}
	r := &Runner{s: s, clusters: clusters, o: o, clk: o.Clock, changed: newBroadcast(), watchers: map[string]*watcher{}}
	found := false
	for _, c := range clusters {
		if c.Name == s.NodeA {
			r.a, found = c, true
		} else {
			r.peers = append(r.peers, c.Name)
		}
	}
	if !found {
		names := make([]string, len(clusters))
		for i, c := range clusters {
			names[i] = c.Name
		}
		return nil, fmt.Errorf("nodeA %q is not a cluster of the lab (clusters: %v)", s.NodeA, names)
	}
	if len(r.peers) == 0 {
		return nil, fmt.Errorf("the lab has no cluster besides nodeA %q", s.NodeA)
	}
	r.mapper = newIdentityMapper(s.Protocol, clusters)
	return r, nil
}

// Peers lists the peer clusters in lab order.
func (r *Runner) Peers() []string { return append([]string(nil), r.peers...) }

// Pause is the pause before run index of condition: uniform in
// [0, phaseMax) for the random phase, derived from (seed, condition, index)
// alone (impair.Phase.Pause) so that a resumed campaign draws exactly the
// pauses it would have drawn; 0 for the aligned phase.
func Pause(phase string, seed int64, phaseMax time.Duration, condition string, index int) time.Duration {
	return impair.Phase(phase).Pause(seed, condition, index, phaseMax)
}

func (r *Runner) pause(cond string, i int) time.Duration {
	return Pause(r.s.Phase, r.s.Seed, r.s.PhaseMax, cond, i)
}

// onPeer and onPod are the informers' handlers.
func (r *Runner) onPeer(e peerEvent) {
	r.mu.Lock()
	if r.cur != nil {
		r.cur.peerEvent(e)
	}
	r.mu.Unlock()
	r.changed.fire()
}

func (r *Runner) onPod(e podEvent) {
	r.mu.Lock()
	if r.cur != nil {
		r.cur.podEvent(e)
	}
	r.mu.Unlock()
	r.changed.fire()
}

// workload reads A's workload: its pod selector and (Deployment) replicas.
func (r *Runner) workload(ctx context.Context) error {
	info, err := workload.Read(ctx, r.a.Kube, r.s.Protocol)
	if err != nil {
		return fmt.Errorf("cluster %q: %w", r.a.Name, err)
	}
	r.selector, r.replicas = info.Selector, info.Replicas
	return nil
}

// setEnabled enables or disables A's workload.
func (r *Runner) setEnabled(ctx context.Context, on bool) error {
	if err := workload.Set(ctx, r.a.Kube, r.s.Protocol, on, r.replicas); err != nil {
		return fmt.Errorf("cluster %q: %w", r.a.Name, err)
	}
	return nil
}

// waitUntil blocks until cond holds (re-checked on every watch event), the
// timeout passes or ctx ends.
func (r *Runner) waitUntil(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := r.clk.After(timeout)
	for {
		ch := r.changed.wait()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-deadline:
			return fmt.Errorf("waiting for %s: not done after %s", what, timeout)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// startWatchers starts every cluster's informers in one errgroup and waits
// until all are synced. The returned stop function ends them.
func (r *Runner) startWatchers(ctx context.Context) (func(), error) {
	wctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(wctx)
	for _, c := range r.clusters {
		w, err := newWatcher(c, r.s.Protocol, r.selector, r.mapper, r.clk, r.onPeer, r.onPod)
		if err != nil {
			cancel()
			return nil, err
		}
		r.watchers[c.Name] = w
		g.Go(func() error { w.run(gctx); return nil })
	}
	stop := func() { cancel(); _ = g.Wait() }
	// HasSynced flips without an event on empty caches, so poll (client-go's
	// WaitForCacheSync) rather than wait for a broadcast.
	sctx, scancel := context.WithTimeout(ctx, r.o.ResetTimeout)
	defer scancel()
	var fns []cache.InformerSynced
	for _, w := range r.watchers {
		fns = append(fns, w.synced)
	}
	if !cache.WaitForCacheSync(sctx.Done(), fns...) {
		stop()
		var unsynced []string
		for n, w := range r.watchers {
			if !w.synced() {
				unsynced = append(unsynced, n)
			}
		}
		sort.Strings(unsynced)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("waiting for watchers to sync: %w", err)
		}
		return nil, fmt.Errorf("clusters %v: watchers not synced after %s", unsynced, r.o.ResetTimeout)
	}
	return stop, nil
}

// resumeNext is, per condition, the run index to continue from: one past
// the last run that completed. An aborted run is run again (same index, so
// the same pause); its aborted record stays in runs.jsonl, marked as such.
func resumeNext(runs []results.Run) map[string]int {
	next := map[string]int{}
	for _, r := range runs {
		if !r.Aborted && r.Index+1 > next[r.Condition] {
			next[r.Condition] = r.Index + 1
		}
	}
	return next
}

func leaves(s *scenarios.Scenario) bool {
	return s.Measures(scenarios.MeasureFailureDetection) || s.Measures(scenarios.MeasureGracefulLeave)
}

func warmTag(w bool) string {
	if w {
		return " (warm-up)"
	}
	return ""
}

// abort restores the lab under a fresh bounded context and records the run
// in flight (if any) as aborted.
func (r *Runner) abort(ctx context.Context, rec store.Recorder, imp *impairState, run *results.Run, cause error) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.CleanupTimeout)
	defer cancel()
	r.mu.Lock()
	r.cur = nil
	r.mu.Unlock()
	errs := []error{cause}
	if err := r.setEnabled(cctx, true); err != nil {
		errs = append(errs, fmt.Errorf("restoring node A: %w", err))
	}
	if imp != nil {
		if err := imp.remove(cctx); err != nil {
			errs = append(errs, fmt.Errorf("removing impairment: %w", err))
		}
	}
	if run != nil {
		// Whatever stopped it (Ctrl-C, or a failure such as the lab's API
		// going away with its Docker daemon), the run did not complete:
		// it is kept as aborted, left out of the statistics and run again
		// by --resume. A failed run once recorded as complete made the
		// resume skip its index.
		run.Aborted = true
		run.Errors = append(run.Errors, cause.Error())
		if err := rec.Append(cctx, *run); err != nil {
			errs = append(errs, fmt.Errorf("recording aborted run: %w", err))
		}
	}
	return errors.Join(errs...)
}

// finish detaches the run state and writes it into run.
func (r *Runner) finish(st *runState, run *results.Run) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == st {
		r.cur = nil
	}
	run.Peers = nil
	st.fill(run)
}

// SilenceSpec is the impairment that fails node A for a failureDetection
// measurement: every packet leaving its discovery interface is dropped.
func SilenceSpec() impair.Spec { return impair.Spec{LossPct: 100} }

// failureMethod is how the manifest (and so the report) describes the
// failureDetection measurement; %s is the backend.
const failureMethod = "failureDetection: failure simulated by silencing node A's discovery interface (100 %% egress drop, %s), then stopping it; leaveMS is when the drop was in place"

// silencer returns the backend that drops all of node A's discovery egress,
// refusing (before any run) a host that has none.
func (r *Runner) silencer() (impair.Impairment, error) {
	const what = "measurement failureDetection: node A is failed by dropping 100 %% of its discovery interface's egress (so that no goodbye leaves it) before it is stopped"
	if r.o.Impairments == nil {
		return nil, fmt.Errorf(what + ", but no impairment backend is available (netem or nftables netdev egress; see `testbed doctor`)")
	}
	b, err := r.o.Impairments(SilenceSpec())
	if err != nil {
		return nil, fmt.Errorf(what+": %w", err)
	}
	if b == nil || b.Backend() == impair.BackendNone {
		return nil, fmt.Errorf(what + ", but this host has no backend that can drop packets (netem or nftables netdev egress)")
	}
	return b, nil
}

// leave stops A and waits until every peer dropped A, or the run timeout.
//
// Graceful leave: the workload is disabled and its pods terminate normally,
// so the protocol may say goodbye. Failure detection: A's discovery
// interface is first silenced (SilenceSpec, 100 % egress drop after the IP
// stack), and only then is the workload disabled and its pods deleted with
// grace 0. The kubelet still sends SIGTERM, but a goodbye sent on it never
// leaves A, so peers can only notice A is gone by their own expiry. LeaveMS
// is the instant the drop was verified in place; the silence is removed
// when leave returns, on every path, under a fresh bounded context.
func (r *Runner) leave(ctx context.Context, st *runState, run *results.Run) (err error) {
	r.mu.Lock()
	st.leaving = true
	st.leaveAt = r.clk.Now()
	r.mu.Unlock()
	if r.silence != nil {
		targets, serr := r.silenceA(ctx)
		defer func() {
			if rerr := r.unsilence(ctx, targets); rerr != nil {
				if err != nil {
					err = errors.Join(err, rerr)
				} else {
					run.Errors = append(run.Errors, rerr.Error())
				}
			}
		}()
		if serr != nil {
			return serr
		}
		r.mu.Lock()
		st.leaveAt = r.clk.Now()
		r.mu.Unlock()
	}
	v := st.ms(st.leaveAt)
	run.Pod.LeaveMS = &v
	if err := r.setEnabled(ctx, false); err != nil {
		return err
	}
	if r.s.Measures(scenarios.MeasureFailureDetection) {
		p := r.s.Protocol
		zero := int64(0)
		for _, pod := range r.watchers[r.s.NodeA].podList() {
			err := r.a.Kube.CoreV1().Pods(p.WorkloadNamespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("cluster %q: killing pod %s: %w", r.s.NodeA, pod.Name, err)
			}
		}
	}
	err = r.waitUntil(ctx, r.s.RunTimeout, "peers to drop node A", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return st.allGone()
	})
	if err != nil && ctx.Err() == nil {
		run.TimedOut = true
		return nil
	}
	return err
}

// silenceA applies SilenceSpec to the discovery interface of each of A's
// live pods. It returns the targets it tried, so that the caller removes
// even a partly applied silence.
func (r *Runner) silenceA(ctx context.Context) ([]impair.Target, error) {
	// The run may complete before A's pod reaches the runner's watch (the
	// peers' objects can arrive first): wait for it rather than race it.
	live := func() bool {
		for _, p := range r.watchers[r.s.NodeA].podList() {
			if p.DeletionTimestamp == nil && p.Spec.NodeName != "" {
				return true
			}
		}
		return false
	}
	if err := r.waitUntil(ctx, r.s.RunTimeout, "node A's discovery pod to show in the watch", live); err != nil {
		return nil, fmt.Errorf("cluster %q: no live discovery pod of node A to silence before stopping it: %w", r.s.NodeA, err)
	}
	var targets []impair.Target
	for _, p := range r.watchers[r.s.NodeA].podList() {
		if p.DeletionTimestamp != nil || p.Spec.NodeName == "" {
			continue
		}
		t := impair.Target{Cluster: r.s.NodeA, Node: p.Spec.NodeName, Namespace: p.Namespace, Pod: p.Name, Interface: r.o.Interface}
		targets = append(targets, t)
		if err := r.silence.Apply(ctx, t, SilenceSpec()); err != nil {
			return targets, fmt.Errorf("cluster %q: silencing node A's discovery interface (%s 100 %% egress drop) before stopping it: %w", r.s.NodeA, r.silence.Backend(), err)
		}
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("cluster %q: no live discovery pod of node A to silence before stopping it", r.s.NodeA)
	}
	return targets, nil
}

// unsilence removes the silence from targets under a fresh context bounded
// by CleanupTimeout, so that it also runs after a Ctrl-C.
func (r *Runner) unsilence(ctx context.Context, targets []impair.Target) error {
	if len(targets) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.CleanupTimeout)
	defer cancel()
	var errs []error
	for _, t := range targets {
		if err := r.silence.Remove(cctx, t); err != nil {
			errs = append(errs, fmt.Errorf("cluster %q: removing the silence from node A's pod %s: %w", r.s.NodeA, t.Pod, err))
		}
	}
	return errors.Join(errs...)
}

// resetPeerObjects deletes A's peer resources (and, if peerSide, every
// peer's resource for A) and waits until the caches show them gone.
func (r *Runner) resetPeerObjects(ctx context.Context, peerSide bool) error {
	p := r.s.Protocol
	gvr := schema.GroupVersionResource{Group: p.Group, Version: p.Version, Resource: p.Resource}
	targets := func() map[string][]string {
		out := map[string][]string{}
		for _, c := range r.clusters {
			if c.Name != r.s.NodeA && !peerSide {
				continue
			}
			for _, u := range r.watchers[c.Name].peerObjects() {
				if c.Name == r.s.NodeA || r.mapper.subject(u) == r.s.NodeA {
					out[c.Name] = append(out[c.Name], u.GetName())
				}
			}
		}
		return out
	}
	g, gctx := errgroup.WithContext(ctx)
	for cl, names := range targets() {
		c := r.cluster(cl)
		g.Go(func() error {
			for _, n := range names {
				err := c.Dynamic.Resource(gvr).Namespace(p.PeerNamespace).Delete(gctx, n, metav1.DeleteOptions{})
				if err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("cluster %q: deleting %s %s/%s: %w", cl, p.Resource, p.PeerNamespace, n, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return r.waitUntil(ctx, r.o.ResetTimeout, "peer resources about node A to be gone", func() bool {
		return len(targets()) == 0
	})
}

func (r *Runner) cluster(name string) Cluster {
	for _, c := range r.clusters {
		if c.Name == name {
			return c
		}
	}
	return Cluster{Name: name}
}

// apiLatency is the median of three GETs of A's workload.
func (r *Runner) apiLatency(ctx context.Context) float64 {
	p := r.s.Protocol
	var ds []float64
	for range 3 {
		t := r.clk.Now()
		var err error
		if p.WorkloadKind == scenarios.WorkloadDeployment {
			_, err = r.a.Kube.AppsV1().Deployments(p.WorkloadNamespace).Get(ctx, p.WorkloadName, metav1.GetOptions{})
		} else {
			_, err = r.a.Kube.AppsV1().DaemonSets(p.WorkloadNamespace).Get(ctx, p.WorkloadName, metav1.GetOptions{})
		}
		if err != nil {
			return 0
		}
		ds = append(ds, msOf(r.clk.Now().Sub(t)))
	}
	return stats.Median(ds)
}

func (r *Runner) manifest(m results.Manifest, backends []impair.Impairment) results.Manifest {
	s := r.s
	if m.Campaign == "" {
		m.Campaign = campaignID(s)
	}
	if m.Kind == "" {
		m.Kind = "campaign"
	}
	if m.Started.IsZero() {
		m.Started = time.Now()
	}
	m.Seed = s.Seed
	m.Protocol = s.Protocol.Name
	m.NodeA = s.NodeA
	m.Peers = r.Peers()
	m.Phase = s.Phase
	m.AnnounceIntervalMS = msOf(s.Protocol.AnnounceInterval)
	m.Measurements = append([]string(nil), s.Measurements...)
	if ref := s.Reference; ref != nil {
		m.Reference = &results.Reference{Source: ref.Source, FirstPeerMS: msOf(ref.FirstPeer), Note: ref.Note}
	}
	m.Conditions = nil
	for i, c := range s.Conditions {
		m.Conditions = append(m.Conditions, results.Condition{Name: c.Name, Runs: c.Runs, Warmup: c.Warmup,
			Impairment: impairmentRecord(backends[i].Backend(), c.Target, c.Impairment, impair.Stats{})})
		if b := backends[i].Backend(); b != impair.BackendNone && m.Host.ImpairmentBackend == "" {
			m.Host.ImpairmentBackend = b
		}
	}
	if r.silence != nil {
		m.Warnings = append(m.Warnings, fmt.Sprintf(failureMethod, r.silence.Backend()))
	}
	if s.Phase == scenarios.PhaseAligned {
		m.Warnings = append(m.Warnings, "phase aligned: each run starts a fixed cycle C after the previous run's end (the reference study's cycle), "+
			"so its discovery times may phase-lock to the announce period; a phase random campaign shows the true spread")
	}
	return m
}

func campaignID(s *scenarios.Scenario) string { return fmt.Sprintf("%s-%d", s.Name, s.Seed) }

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtMS(v float64) string {
	if !(v > 0) { // also NaN: no sample yet
		return "-"
	}
	return fmt.Sprintf("%.0f ms", v)
}

// allFound is the time A had found every peer.
func allFound(r *results.Run) (float64, bool) {
	var m float64
	for _, p := range r.Peers {
		if p.DiscoveredMS == nil {
			return 0, false
		}
		m = max(m, *p.DiscoveredMS)
	}
	return m, len(r.Peers) > 0
}

func lastFound(r *results.Run) float64 {
	var m float64
	for _, p := range r.Peers {
		if p.DiscoveredMS != nil {
			m = max(m, *p.DiscoveredMS)
		}
	}
	return m
}
