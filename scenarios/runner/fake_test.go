package runner

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/impair"
)

var peerGVR = schema.GroupVersionResource{Group: "agent.testbed.dev", Version: "v1alpha1", Resource: "peers"}

const agentNS = "testbed-agent"

// testClock is a manual clock. Now is base+offset; After registers a timer
// that fires when the offset reaches it (Advance) or when the test fires it
// by duration (Fire). Every After call is announced on calls.
type testClock struct {
	mu     sync.Mutex
	base   time.Time
	off    time.Duration
	timers []*testTimer
	calls  chan time.Duration
}

type testTimer struct {
	at time.Duration
	d  time.Duration
	ch chan time.Time
}

func newTestClock() *testClock {
	return &testClock{base: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), calls: make(chan time.Duration, 1024)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(c.off)
}

func (c *testClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	t := &testTimer{at: c.off + d, d: d, ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.base.Add(c.off)
	} else {
		c.timers = append(c.timers, t)
	}
	c.mu.Unlock()
	select {
	case c.calls <- d:
	default:
	}
	return t.ch
}

// Advance moves the clock and fires due timers.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at <= c.off {
			t.ch <- c.base.Add(c.off)
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// Fire fires every pending timer of duration d without moving the clock.
func (c *testClock) Fire(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.d == d {
			t.ch <- c.base.Add(c.off)
			n++
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
	return n
}

// fakeLab simulates clusters running the reference agent: a DaemonSet
// controller that deletes/creates the pod when the nodeSelector changes,
// and agents that create Peer objects when node A starts.
type fakeLab struct {
	t        testing.TB
	clk      *testClock
	names    []string
	kube     map[string]*k8sfake.Clientset
	dyn      map[string]*dynamicfake.FakeDynamicClient
	clusters []Cluster

	mu sync.Mutex
	// onStart is called (outside any fake lock) when node A's pod starts.
	onStart func(l *fakeLab)
	// onStop is called (inside the DaemonSet patch, so inside the reset)
	// when node A is disabled.
	onStop  func(l *fakeLab)
	starts  int
	patches []string
	uid     int
}

func newFakeLab(t testing.TB, clk *testClock, names ...string) *fakeLab {
	l := &fakeLab{t: t, clk: clk, names: names, kube: map[string]*k8sfake.Clientset{}, dyn: map[string]*dynamicfake.FakeDynamicClient{}}
	scheme := runtime.NewScheme()
	for i, n := range names {
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: "reference-agent", Namespace: agentNS},
			Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "reference-agent"}}},
		}
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n + "-control-plane", Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("172.30.0.%d", i+2)}}}}
		kube := k8sfake.NewClientset(ds, node, l.pod(n))
		cluster := n
		kube.PrependReactor("patch", "daemonsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
			p := string(a.(k8stesting.PatchAction).GetPatch())
			l.mu.Lock()
			l.patches = append(l.patches, cluster+":"+p)
			l.mu.Unlock()
			tr := l.kube[cluster].Tracker()
			if strings.Contains(p, `"true"`) {
				l.mu.Lock()
				stop := l.onStop
				l.mu.Unlock()
				if stop != nil && cluster == l.names[0] {
					stop(l)
				}
				pods, _ := tr.List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), agentNS)
				for _, po := range pods.(*corev1.PodList).Items {
					_ = tr.Delete(corev1.SchemeGroupVersion.WithResource("pods"), agentNS, po.Name)
				}
			} else {
				pods, _ := tr.List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), agentNS)
				if len(pods.(*corev1.PodList).Items) == 0 {
					_ = tr.Add(l.pod(cluster))
					go l.started(cluster)
				}
			}
			return false, nil, nil
		})
		l.kube[n] = kube
		dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{peerGVR: "PeerList"})
		l.dyn[n] = dyn
		l.clusters = append(l.clusters, Cluster{Name: n, Kube: kube, Dynamic: dyn, Address: fmt.Sprintf("172.30.0.%d", i+2),
			Macvlan: netip.MustParsePrefix(fmt.Sprintf("10.100.%d.0/24", i))})
	}
	return l
}

func (l *fakeLab) pod(cluster string) *corev1.Pod {
	l.uid++
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("reference-agent-%d", l.uid), Namespace: agentNS,
			UID: types.UID(fmt.Sprintf("%s-pod-%d", cluster, l.uid)), Labels: map[string]string{"app": "reference-agent"}},
		Spec: corev1.PodSpec{NodeName: cluster + "-control-plane"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "agent", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
}

func (l *fakeLab) started(cluster string) {
	l.mu.Lock()
	l.starts++
	f := l.onStart
	l.mu.Unlock()
	if f != nil && cluster == l.names[0] {
		f(l)
	}
}

// peerObj builds the Peer object observer creates for subject.
func peerObj(subject string, uid string, recvNS int64) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("agent.testbed.dev/v1alpha1")
	u.SetKind("Peer")
	u.SetName("peer-" + subject)
	u.SetNamespace(agentNS)
	u.SetUID(types.UID(uid))
	if recvNS > 0 {
		u.SetAnnotations(map[string]string{AnnotationFirstRecv: fmt.Sprint(recvNS), AnnotationFirstSend: fmt.Sprint(recvNS - 2e6)})
	}
	_ = unstructured.SetNestedField(u.Object, subject, "spec", "cluster")
	return u
}

func (l *fakeLab) create(observer, subject, uid string, recvNS int64) {
	if _, err := l.dyn[observer].Resource(peerGVR).Namespace(agentNS).Create(context.Background(), peerObj(subject, uid, recvNS), metav1.CreateOptions{}); err != nil {
		l.t.Errorf("create %s/%s: %v", observer, subject, err)
	}
}

func (l *fakeLab) delete(observer, subject string) {
	if err := l.dyn[observer].Resource(peerGVR).Namespace(agentNS).Delete(context.Background(), "peer-"+subject, metav1.DeleteOptions{}); err != nil {
		l.t.Errorf("delete %s/%s: %v", observer, subject, err)
	}
}

// fakeImpairment records calls and counts 100 packets seen, 25 dropped per
// Stats call.
type fakeImpairment struct {
	mu      sync.Mutex
	applied map[string]int
	removed map[string]int
	reads   int
	// log lists Apply ("apply cluster/pod iface loss=N") and Remove
	// ("remove cluster/pod") calls and whatever a test notes, in order.
	log []string
	// onApply, if set, runs (outside the lock) on every Apply; a non-nil
	// error fails it after it was logged.
	onApply func(impair.Target, impair.Spec) error
}

// note appends an entry to the call log.
func (f *fakeImpairment) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, s)
}

// calls returns a copy of the call log.
func (f *fakeImpairment) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func newFakeImpairment() *fakeImpairment {
	return &fakeImpairment{applied: map[string]int{}, removed: map[string]int{}}
}

func (f *fakeImpairment) Backend() string { return impair.BackendNftables }
func (f *fakeImpairment) Apply(_ context.Context, t impair.Target, s impair.Spec) error {
	f.mu.Lock()
	f.applied[t.Cluster]++
	f.log = append(f.log, fmt.Sprintf("apply %s/%s %s loss=%v", t.Cluster, t.Pod, t.Interface, s.LossPct))
	hook := f.onApply
	f.mu.Unlock()
	if hook != nil {
		return hook(t, s)
	}
	return nil
}
func (f *fakeImpairment) Stats(_ context.Context, t impair.Target) (impair.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return impair.Stats{Seen: int64(100 * f.reads), Dropped: int64(25 * f.reads)}, nil
}
func (f *fakeImpairment) Remove(_ context.Context, t impair.Target) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed[t.Cluster]++
	f.log = append(f.log, fmt.Sprintf("remove %s/%s", t.Cluster, t.Pod))
	return nil
}

func testScenario(runs, warmup int, conds ...scenarios.Condition) *scenarios.Scenario {
	if len(conds) == 0 {
		conds = []scenarios.Condition{{Name: "loss-0", Runs: runs, Warmup: warmup, Target: scenarios.TargetPeers}}
	}
	return &scenarios.Scenario{Name: "t", NodeA: "a", Protocol: scenarios.Presets()[scenarios.PresetReferenceAgent],
		Phase: scenarios.PhaseRandom, RunTimeout: 40 * time.Second, Seed: 1, Measurements: []string{scenarios.MeasureDiscovery, scenarios.MeasureReverse},
		Conditions: conds}
}
