package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/impair"
)

// impairState is one condition's impairment on the lab: applied to every
// peer's discovery pod when the condition starts (and again whenever a peer
// pod is replaced), to A's new pod in every run when A is targeted, and
// removed when the condition ends or the campaign aborts.
type impairState struct {
	r       *Runner
	cond    scenarios.Condition
	backend impair.Impairment
	spec    impair.Spec
	// peers: the pod each peer target was applied to, and its counters at
	// the start of the current run.
	peerPods map[string]types.UID
	targets  map[string]impair.Target
	prev     map[string]impair.Stats
	// a is A's target in the current run (nil when not applied).
	a *impair.Target
	// windows are the current run's counter windows per impaired cluster,
	// on the runner's clock: from the counters' baseline (a peer's
	// snapshot before the run, A's fresh table) to their read after it,
	// each instant the midpoint of the call that took it.
	windows map[string][2]time.Time
}

// stamp records the midpoint of [start, now] as one end (0 from, 1 to) of
// cluster's counter window.
func (m *impairState) stamp(cluster string, end int, start time.Time) {
	if m.windows == nil {
		m.windows = map[string][2]time.Time{}
	}
	now := m.r.clk.Now()
	w := m.windows[cluster]
	w[end] = start.Add(now.Sub(start) / 2)
	if end == 0 {
		w[1] = time.Time{}
	}
	m.windows[cluster] = w
}

func (m *impairState) none() bool { return m.spec.IsZero() }

func (m *impairState) targetsPeers() bool {
	return !m.none() && (m.cond.Target == scenarios.TargetPeers || m.cond.Target == scenarios.TargetBoth)
}

func (m *impairState) targetsA() bool {
	return !m.none() && (m.cond.Target == scenarios.TargetNodeA || m.cond.Target == scenarios.TargetBoth)
}

func (m *impairState) target(cluster string, p *corev1.Pod) impair.Target {
	return impair.Target{Cluster: cluster, Node: p.Spec.NodeName, Namespace: p.Namespace, Pod: p.Name, Interface: m.r.o.Interface}
}

// ensurePeers (re)applies the impairment to every peer pod that does not
// carry it yet, and snapshots the counters for the coming run.
func (m *impairState) ensurePeers(ctx context.Context) error {
	if !m.targetsPeers() {
		return nil
	}
	if m.peerPods == nil {
		m.peerPods, m.targets, m.prev = map[string]types.UID{}, map[string]impair.Target{}, map[string]impair.Stats{}
	}
	for _, peer := range m.r.peers {
		pod := runningPod(m.r.watchers[peer].podList())
		if pod == nil {
			return fmt.Errorf("cluster %q: no running discovery pod to impair", peer)
		}
		t := m.target(peer, pod)
		if m.peerPods[peer] != pod.UID {
			if err := m.backend.Apply(ctx, t, m.spec); err != nil {
				return fmt.Errorf("cluster %q: applying %s impairment: %w", peer, m.backend.Backend(), err)
			}
			m.peerPods[peer], m.targets[peer] = pod.UID, t
			m.prev[peer] = impair.Stats{}
		}
		start := m.r.clk.Now()
		st, err := m.backend.Stats(ctx, t)
		if err != nil {
			return fmt.Errorf("cluster %q: reading impairment counters: %w", peer, err)
		}
		m.stamp(peer, 0, start)
		m.prev[peer] = st
	}
	return nil
}

// applyA applies the impairment to A's pod of this run.
func (m *impairState) applyA(ctx context.Context, pod *corev1.Pod) error {
	t := m.target(m.r.s.NodeA, pod)
	start := m.r.clk.Now()
	if err := m.backend.Apply(ctx, t, m.spec); err != nil {
		return fmt.Errorf("cluster %q: applying %s impairment to node A: %w", m.r.s.NodeA, m.backend.Backend(), err)
	}
	m.stamp(m.r.s.NodeA, 0, start)
	m.a = &t
	return nil
}

// read builds the run's impairment record from the counters accrued during
// the run.
func (m *impairState) read(ctx context.Context, _ *corev1.Pod) (results.Impairment, error) {
	var total impair.Stats
	var errs []error
	if m.targetsPeers() {
		for _, peer := range m.r.peers {
			t, ok := m.targets[peer]
			if !ok {
				continue
			}
			start := m.r.clk.Now()
			st, err := m.backend.Stats(ctx, t)
			if err != nil {
				errs = append(errs, fmt.Errorf("cluster %q: reading impairment counters: %w", peer, err))
				continue
			}
			m.stamp(peer, 1, start)
			total = total.Add(st.Sub(m.prev[peer]))
		}
	}
	if m.a != nil {
		start := m.r.clk.Now()
		if st, err := m.backend.Stats(ctx, *m.a); err != nil {
			errs = append(errs, fmt.Errorf("cluster %q: reading impairment counters: %w", m.r.s.NodeA, err))
		} else {
			m.stamp(m.r.s.NodeA, 1, start)
			total = total.Add(st)
		}
		// A's pod is replaced by the next run; do not leave this one
		// impaired (the last run's pod outlives the campaign).
		if err := m.backend.Remove(ctx, *m.a); err != nil {
			errs = append(errs, fmt.Errorf("cluster %q: removing impairment: %w", m.r.s.NodeA, err))
		}
		m.a = nil
	}
	return impairmentRecord(m.backend.Backend(), m.cond.Target, m.spec, total), errors.Join(errs...)
}

// remove takes the impairment off every target. Idempotent.
func (m *impairState) remove(ctx context.Context) error {
	if m == nil || m.none() {
		return nil
	}
	var errs []error
	for peer, t := range m.targets {
		if err := m.backend.Remove(ctx, t); err != nil {
			errs = append(errs, fmt.Errorf("cluster %q: removing impairment: %w", peer, err))
		}
	}
	m.peerPods, m.targets = nil, nil
	if m.a != nil {
		if err := m.backend.Remove(ctx, *m.a); err != nil {
			errs = append(errs, fmt.Errorf("cluster %q: removing impairment: %w", m.r.s.NodeA, err))
		}
		m.a = nil
	}
	return errors.Join(errs...)
}

// runningPod picks the pod that is running (not terminating) and placed.
func runningPod(pods []*corev1.Pod) *corev1.Pod {
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning {
			return p
		}
	}
	return nil
}

// criStarts reads container start times with crictl inside the node.
type criStarts struct{ r *impair.Resolver }

// NewCRIStarts adapts impair.Resolver (crictl in the KinD node) to
// ContainerStarts: the start of the pod's first container.
func NewCRIStarts(r *impair.Resolver) ContainerStarts { return criStarts{r} }

func (c criStarts) ContainerStart(ctx context.Context, cluster string, pod *corev1.Pod) (time.Time, error) {
	if len(pod.Spec.Containers) == 0 || pod.Spec.NodeName == "" {
		return time.Time{}, fmt.Errorf("cluster %q: pod %s/%s has no container or node yet", cluster, pod.Namespace, pod.Name)
	}
	t, err := c.r.ContainerStart(ctx, pod.Spec.NodeName, pod.Namespace, pod.Name, pod.Spec.Containers[0].Name)
	if err != nil {
		return time.Time{}, fmt.Errorf("cluster %q: %w", cluster, err)
	}
	return t, nil
}

// impairmentRecord builds the results record of a run: what was asked (spec, target
// "peers"|"nodeA"|"both"), which backend applied it and what it achieved.
func impairmentRecord(backend, target string, spec impair.Spec, st impair.Stats) results.Impairment {
	r := results.Impairment{
		Backend:        backend,
		Target:         target,
		LossPct:        spec.LossPct,
		DelayMS:        float64(spec.Delay) / 1e6,
		JitterMS:       float64(spec.Jitter) / 1e6,
		CorrelationPct: spec.CorrelationPct,
		DuplicatePct:   spec.DuplicatePct,
		CorruptPct:     spec.CorruptPct,
		Rate:           spec.Rate,
		Seed:           spec.Seed,
	}
	if backend != impair.BackendNone {
		r.AchievedLossPct = st.AchievedLossPct()
		r.PacketsSeen = st.Seen
		r.PacketsDropped = st.Dropped
	}
	return r
}
