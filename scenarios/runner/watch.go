package runner

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/fluidos-lab/testbed/scenarios"
)

// Ground-truth annotations written by the reference agent (Unix ns).
const (
	AnnotationFirstRecv = "agent.testbed.dev/first-recv-ns"
	AnnotationFirstSend = "agent.testbed.dev/first-send-ns"
)

// eventKind is what happened to an object.
type eventKind int

const (
	evAdd eventKind = iota
	evUpdate
	evDelete
)

// peerEvent is one peer-resource event, already mapped to clusters.
type peerEvent struct {
	kind     eventKind
	observer string // cluster holding the object
	subject  string // cluster the object describes ("" = unknown)
	uid      types.UID
	annots   map[string]string
	at       time.Time
}

// podEvent is one event on a discovery pod.
type podEvent struct {
	kind    eventKind
	cluster string
	pod     *corev1.Pod
	at      time.Time
}

// watcher holds one cluster's informers.
type watcher struct {
	cluster Cluster
	peers   cache.SharedIndexInformer
	pods    cache.SharedIndexInformer
}

// identityMapper maps a peer object's identity to a cluster name.
type identityMapper struct {
	path   []string
	match  string
	byName map[string]bool
	byAddr map[string]string
}

func newIdentityMapper(p scenarios.Protocol, clusters []Cluster) *identityMapper {
	m := &identityMapper{path: p.IdentityPath, match: p.IdentityMatch, byName: map[string]bool{}, byAddr: map[string]string{}}
	for _, c := range clusters {
		m.byName[c.Name] = true
		if c.Address != "" {
			m.byAddr[c.Address] = c.Name
		}
	}
	return m
}

// subject returns the cluster an object describes, or "".
func (m *identityMapper) subject(u *unstructured.Unstructured) string {
	v, ok, err := unstructured.NestedString(u.Object, m.path...)
	if err != nil || !ok || v == "" {
		return ""
	}
	switch m.match {
	case scenarios.MatchNodeAddress:
		host := v
		if h, _, err := net.SplitHostPort(v); err == nil {
			host = h
		}
		return m.byAddr[host]
	default:
		if m.byName[v] {
			return v
		}
	}
	return ""
}

// stripTransform drops what the runner never reads (managed fields, most of
// the spec) so that 24 clusters' caches stay small.
func stripTransform(obj any) (any, error) {
	// Only an object that has managed fields is written to: the fake
	// clients of the tests hand one object to several informers, and an
	// unconditional delete raced with their handlers' reads.
	if a, err := metaAccessor(obj); err == nil && len(a.GetManagedFields()) > 0 {
		a.SetManagedFields(nil)
	}
	return obj, nil
}

func metaAccessor(obj any) (metav1.Object, error) {
	if o, ok := obj.(metav1.Object); ok {
		return o, nil
	}
	return nil, fmt.Errorf("%T has no object metadata", obj)
}

// newWatcher builds (but does not start) the informers of one cluster.
// Peer events and pod events are delivered to the given callbacks with the
// time the handler ran, taken from clk.
func newWatcher(c Cluster, p scenarios.Protocol, podSelector labels.Selector, m *identityMapper, clk Clock,
	onPeer func(peerEvent), onPod func(podEvent)) (*watcher, error) {
	gvr := schema.GroupVersionResource{Group: p.Group, Version: p.Version, Resource: p.Resource}
	peers := dynamicinformer.NewFilteredDynamicInformer(c.Dynamic, gvr, p.PeerNamespace, 0, cache.Indexers{}, nil).Informer()
	if err := peers.SetTransform(stripTransform); err != nil {
		return nil, fmt.Errorf("cluster %q: peer informer: %w", c.Name, err)
	}
	peerEv := func(k eventKind, obj any) {
		at := clk.Now()
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		onPeer(peerEvent{kind: k, observer: c.Name, subject: m.subject(u), uid: u.GetUID(), annots: u.GetAnnotations(), at: at})
	}
	if _, err := peers.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { peerEv(evAdd, obj) },
		UpdateFunc: func(old, obj any) {
			// A relist after an expired watch reports an object deleted and
			// re-created under the same name as an update: split it.
			if o, ok := old.(*unstructured.Unstructured); ok {
				if n, ok := obj.(*unstructured.Unstructured); ok && o.GetUID() != n.GetUID() {
					peerEv(evDelete, old)
					peerEv(evAdd, obj)
					return
				}
			}
			peerEv(evUpdate, obj)
		},
		DeleteFunc: func(obj any) { peerEv(evDelete, obj) },
	}); err != nil {
		return nil, fmt.Errorf("cluster %q: peer informer handler: %w", c.Name, err)
	}

	f := informers.NewSharedInformerFactoryWithOptions(c.Kube, 0, informers.WithNamespace(p.WorkloadNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = podSelector.String() }))
	pods := f.Core().V1().Pods().Informer()
	if err := pods.SetTransform(stripTransform); err != nil {
		return nil, fmt.Errorf("cluster %q: pod informer: %w", c.Name, err)
	}
	podEv := func(k eventKind, obj any) {
		at := clk.Now()
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if pod, ok := obj.(*corev1.Pod); ok {
			onPod(podEvent{kind: k, cluster: c.Name, pod: pod, at: at})
		}
	}
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { podEv(evAdd, obj) },
		UpdateFunc: func(_, obj any) { podEv(evUpdate, obj) },
		DeleteFunc: func(obj any) { podEv(evDelete, obj) },
	}); err != nil {
		return nil, fmt.Errorf("cluster %q: pod informer handler: %w", c.Name, err)
	}
	return &watcher{cluster: c, peers: peers, pods: pods}, nil
}

// run starts the informers and blocks until ctx ends.
func (w *watcher) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, inf := range []cache.SharedIndexInformer{w.peers, w.pods} {
		wg.Add(1)
		go func() { defer wg.Done(); inf.RunWithContext(ctx) }()
	}
	wg.Wait()
}

func (w *watcher) synced() bool { return w.peers.HasSynced() && w.pods.HasSynced() }

// peerObjects returns the cached peer objects.
func (w *watcher) peerObjects() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range w.peers.GetStore().List() {
		if u, ok := o.(*unstructured.Unstructured); ok {
			out = append(out, u)
		}
	}
	return out
}

// podList returns the cached discovery pods.
func (w *watcher) podList() []*corev1.Pod {
	var out []*corev1.Pod
	for _, o := range w.pods.GetStore().List() {
		if p, ok := o.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

// broadcast wakes every waiter when anything changed.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

// wait returns a channel closed at the next fire.
func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) fire() {
	b.mu.Lock()
	close(b.ch)
	b.ch = make(chan struct{})
	b.mu.Unlock()
}
