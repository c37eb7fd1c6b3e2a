package runner

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

// scriptedAPI is a peer-resource API whose list result and watches the test
// controls, so it can expire (410) or drop a watch at will.
type scriptedAPI struct {
	mu      sync.Mutex
	objects []unstructured.Unstructured
	rv      int
	watches chan *watch.FakeWatcher
}

func (a *scriptedAPI) install(d *dynamicfake.FakeDynamicClient) {
	d.PrependReactor("list", "peers", func(k8stesting.Action) (bool, runtime.Object, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.rv++
		l := &unstructured.UnstructuredList{Items: append([]unstructured.Unstructured(nil), a.objects...)}
		l.SetAPIVersion("agent.testbed.dev/v1alpha1")
		l.SetKind("PeerList")
		l.SetResourceVersion(time.Duration(a.rv).String())
		return true, l, nil
	})
	d.PrependWatchReactor("peers", func(k8stesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFakeWithChanSize(16, false)
		a.watches <- w
		return true, w, nil
	})
}

func (a *scriptedAPI) set(objs ...*unstructured.Unstructured) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.objects = nil
	for _, o := range objs {
		a.objects = append(a.objects, *o.DeepCopy())
	}
}

func expired() *metav1.Status {
	return &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonExpired, Message: "too old resource version"}
}

// TestWatchReconnectIsNotRediscovery drives A's peer informer through an
// expired watch (410, relist), a dropped watch (re-watch) and a relist that
// finds the object replaced, and checks that only the first appearance is a
// discovery and the replacement is one flap.
func TestWatchReconnectIsNotRediscovery(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b", "c")
	api := &scriptedAPI{watches: make(chan *watch.FakeWatcher, 16)}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{peerGVR: "PeerList"})
	api.install(dyn)
	lab.clusters[0].Dynamic = dyn
	r, err := New(testScenario(1, 0), lab.clusters, Options{Interface: "eth1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.workload(ctx); err != nil {
		t.Fatal(err)
	}
	stop, err := r.startWatchers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	w1 := <-api.watches
	st := newRunState("a", []string{"b", "c"}, false)
	r.mu.Lock()
	st.t0 = clk.Now()
	r.cur = st
	r.mu.Unlock()

	b1 := peerObj("b", "uid-1", 0)
	b1.SetResourceVersion("10")
	clk.Advance(100 * time.Millisecond)
	api.set(b1)
	w1.Add(b1)
	waitFirst(r, "a", "b")

	// 1. The watch expires; the relist returns the same object.
	clk.Advance(time.Second)
	w1.Error(expired())
	w2 := <-api.watches
	// 2. The new watch delivers a replayed event, then drops; the informer
	// re-watches.
	w2.Modify(b1)
	w2.Stop()
	w3 := <-api.watches
	// 3. While disconnected, b's object was replaced (new UID): the relist
	// after the next expiry sees the new one under the same name.
	clk.Advance(time.Second)
	b2 := peerObj("b", "uid-2", 0)
	b2.SetResourceVersion("20")
	api.set(b2)
	w3.Error(expired())
	w4 := <-api.watches
	waitFlaps(r, "a", "b", 1, true)
	// 4. A replayed ADDED of the live object changes nothing.
	w4.Add(b2)
	c1 := peerObj("c", "uid-3", 0)
	clk.Advance(time.Second)
	w4.Add(c1)
	waitFirst(r, "a", "c")

	r.mu.Lock()
	defer r.mu.Unlock()
	o := st.obs[obsKey{"a", "b"}]
	if o.first == nil || st.ms(*o.first) != 100 {
		t.Fatalf("b first seen %v, want 100 ms", o.first)
	}
	if len(o.flaps) != 1 || o.flaps[0].DeletedMS != 2100 || ms(o.flaps[0].ReaddedMS) != 2100 {
		t.Errorf("flaps %+v", o.flaps)
	}
	if len(o.live) != 1 || !o.live["uid-2"] {
		t.Errorf("live %v", o.live)
	}
	if c := st.obs[obsKey{"a", "c"}]; c.first == nil || st.ms(*c.first) != 3100 {
		t.Errorf("c first %v", c.first)
	}
}
