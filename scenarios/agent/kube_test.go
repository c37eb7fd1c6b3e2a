package agent

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

func newFakeDynamic(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schemaGVR]string{PeerGVR: "PeerList"}, objs...)
}

// failFirst makes the first n creates of object name fail.
func failFirst(c *dynamicfake.FakeDynamicClient, name string, n int) *int {
	calls := new(int)
	c.PrependReactor("create", Resource, func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj, ok := action.(k8stesting.CreateAction).GetObject().(metav1.Object)
		if !ok || obj.GetName() != name {
			return false, nil, nil
		}
		*calls++
		if *calls <= n {
			return true, nil, errInjected
		}
		return false, nil, nil
	})
	return calls
}

func getPeer(t *testing.T, c *dynamicfake.FakeDynamicClient, cluster string) (Peer, bool) {
	t.Helper()
	u, err := c.Resource(PeerGVR).Namespace(Namespace).Get(context.Background(), ObjectName(cluster), metav1.GetOptions{})
	if err != nil {
		return Peer{}, false
	}
	p, err := PeerFromObject(u)
	if err != nil {
		t.Fatal(err)
	}
	return p, true
}

func TestKubeStoreRoundTrip(t *testing.T) {
	t.Parallel()
	c := newFakeDynamic()
	s := NewKubeStore(c, Namespace, "node-01")
	ctx := context.Background()
	p := Peer{
		Cluster: "node-02", Address: "10.100.2.101:4001", Groups: []string{"default"},
		LastSeen: t0, Expiry: t0.Add(10 * time.Second), FirstRecvNS: t0.UnixNano(), FirstSendNS: t0.UnixNano() - 250_000,
		PeerStartNS: 5, ObserverStartNS: 6, Observer: "node-01",
	}
	if err := s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, ok := getPeer(t, c, "node-02")
	if !ok {
		t.Fatal("peer-node-02 not created")
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Fatalf("object (-want +got):\n%s", diff)
	}
	u, _ := c.Resource(PeerGVR).Namespace(Namespace).Get(ctx, "peer-node-02", metav1.GetOptions{})
	if v := u.GetAnnotations()["agent.testbed.dev/first-recv-ns"]; v != strconv.FormatInt(t0.UnixNano(), 10) {
		t.Fatalf("first-recv-ns annotation = %q", v)
	}
	// Create over an existing object replaces the ground truth.
	p2 := p
	p2.FirstSendNS = 77
	if err := s.Create(ctx, p2); err != nil {
		t.Fatal(err)
	}
	if got, _ := getPeer(t, c, "node-02"); got.FirstSendNS != 77 {
		t.Fatalf("re-create kept old ground truth: %+v", got)
	}
	p3 := p2
	p3.LastSeen = t0.Add(5 * time.Second)
	if err := s.Update(ctx, p3); err != nil {
		t.Fatal(err)
	}
	if got, _ := getPeer(t, c, "node-02"); !got.LastSeen.Equal(p3.LastSeen) || got.FirstSendNS != 77 {
		t.Fatalf("update: %+v", got)
	}
	if err := s.Delete(ctx, "node-02"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "node-02"); err != nil {
		t.Fatalf("deleting a missing peer: %v", err)
	}
	if err := s.Update(ctx, p3); !errorsIsNotFound(err) {
		t.Fatalf("update of missing object = %v, want ErrNotFound", err)
	}
}

func TestKubeStorePurge(t *testing.T) {
	t.Parallel()
	stale := PeerObject(Peer{Cluster: "old", Address: "10.0.0.1:1", Groups: []string{"default"}, LastSeen: t0, Expiry: t0}, Namespace)
	other := PeerObject(Peer{Cluster: "other", Address: "10.0.0.1:1", Groups: []string{"default"}, LastSeen: t0, Expiry: t0}, "elsewhere")
	c := newFakeDynamic(stale, other)
	n, err := NewKubeStore(c, Namespace, "node-01").Purge(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1, nil", n, err)
	}
	if _, ok := getPeer(t, c, "old"); ok {
		t.Fatal("stale peer survived purge")
	}
	if _, err := c.Resource(PeerGVR).Namespace("elsewhere").Get(context.Background(), "peer-other", metav1.GetOptions{}); err != nil {
		t.Fatalf("purge touched another namespace: %v", err)
	}
}

// TestAPIErrorsAreRetriedAndCounted: create fails three times; the agent
// keeps discovering other peers meanwhile, retries with growing backoff and
// finally writes the object with the ground truth of the first announcement.
func TestAPIErrorsAreRetriedAndCounted(t *testing.T) {
	t.Parallel()
	c := newFakeDynamic()
	calls := failFirst(c, "peer-node-02", 3)
	a, clk := newTestAgent(t, testConfig("node-01"), NewKubeStore(c, Namespace, "node-01"))
	ctx := context.Background()
	first := clk.Now()
	a.HandleMessage(announce("node-02", 11), first)

	var waits []time.Duration
	for range 10 {
		next := a.Sync(ctx)
		if _, ok := getPeer(t, c, "node-02"); ok {
			break
		}
		if next.IsZero() {
			t.Fatal("failed create scheduled no retry")
		}
		waits = append(waits, next.Sub(clk.Now()))
		// Discovery goes on while the API is failing.
		a.HandleMessage(announce("node-03", 12), clk.Now())
		clk.Advance(next.Sub(clk.Now()))
	}
	if diff := cmp.Diff([]time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}, waits); diff != "" {
		t.Fatalf("backoff (-want +got):\n%s", diff)
	}
	p, ok := getPeer(t, c, "node-02")
	if !ok || p.FirstSendNS != 11 || p.FirstRecvNS != first.UnixNano() {
		t.Fatalf("peer after retries = %+v (found %v); want ground truth of the first announcement", p, ok)
	}
	if _, ok := getPeer(t, c, "node-03"); !ok {
		t.Fatal("node-03, discovered during the outage, was not written")
	}
	m := a.Metrics()
	if got := m.APIErrors[opCreate].Load(); got != 3 {
		t.Fatalf("create errors = %d, want 3", got)
	}
	if got := m.APIPendingRetry.Load(); got != 0 {
		t.Fatalf("pending retries = %d after success", got)
	}
	if *calls != 4 {
		t.Fatalf("create calls of node-02 = %d, want 4", *calls)
	}
}

func TestUpdateOfDeletedObjectRecreates(t *testing.T) {
	t.Parallel()
	c := newFakeDynamic()
	a, clk := newTestAgent(t, testConfig("node-01"), NewKubeStore(c, Namespace, "node-01"))
	ctx := context.Background()
	a.HandleMessage(announce("node-02", 11), clk.Now())
	a.Sync(ctx)
	if err := c.Resource(PeerGVR).Namespace(Namespace).Delete(ctx, "peer-node-02", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second)
	a.HandleMessage(announce("node-02", 12), clk.Now())
	next := a.Sync(ctx) // update fails NotFound
	clk.Advance(next.Sub(clk.Now()))
	a.Sync(ctx) // re-create
	p, ok := getPeer(t, c, "node-02")
	if !ok || p.FirstSendNS != 11 {
		t.Fatalf("peer = %+v (found %v), want re-created with original ground truth", p, ok)
	}
}
