package runner

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// realisticPeer is a Peer as the reference agent writes it: spec, status,
// annotations and the managed fields the API server adds.
func realisticPeer(subject string, i int) *unstructured.Unstructured {
	u := peerObj(subject, fmt.Sprintf("uid-%s-%d", subject, i), 1_700_000_000_000_000_000)
	_ = unstructured.SetNestedField(u.Object, fmt.Sprintf("10.101.%d.101:7946", i), "spec", "address")
	_ = unstructured.SetNestedStringSlice(u.Object, []string{"default"}, "spec", "groups")
	_ = unstructured.SetNestedField(u.Object, time.Unix(1_700_000_000, 0).Format(time.RFC3339Nano), "spec", "lastSeen")
	_ = unstructured.SetNestedField(u.Object, time.Unix(1_700_000_015, 0).Format(time.RFC3339Nano), "spec", "expiry")
	u.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "reference-agent"})
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "reference-agent", Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: "agent.testbed.dev/v1alpha1", FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{".":{},"f:agent.testbed.dev/first-recv-ns":{},"f:agent.testbed.dev/first-send-ns":{}}},"f:spec":{".":{},"f:address":{},"f:cluster":{},"f:expiry":{},"f:groups":{},"f:lastSeen":{}}}`)}}})
	return u
}

// BenchmarkWatchers24Clusters measures the watchers of a 24-cluster lab
// (a full mesh: 23 Peer objects per cluster, one agent pod per cluster)
// against client-go's fake API servers: the heap and goroutines the synced
// informers hold, and the CPU per watch event delivered into a run.
func BenchmarkWatchers24Clusters(b *testing.B) {
	names := make([]string, 24)
	for i := range names {
		names[i] = fmt.Sprintf("c%02d", i+1)
	}
	names[0] = "a"
	clk := newTestClock()
	lab := newFakeLab(b, clk, names...)
	ctx := context.Background()
	for i, obs := range names {
		for j, subj := range names {
			if i == j {
				continue
			}
			if _, err := lab.dyn[obs].Resource(peerGVR).Namespace(agentNS).Create(ctx, realisticPeer(subj, j), metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	r, err := New(testScenario(1, 0), lab.clusters, Options{Interface: "eth1", Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.workload(ctx); err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	stop, err := r.startWatchers(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapMiB := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	goroutines := float64(runtime.NumGoroutine() - g0)

	st := newRunState("a", r.peers, true)
	r.mu.Lock()
	st.t0 = clk.Now()
	r.cur = st
	r.mu.Unlock()
	objs := make([]*unstructured.Unstructured, len(names))
	for i := range names {
		objs[i] = realisticPeer("a", 0)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := 1 + i%(len(names)-1)
		o := objs[k]
		o.SetAnnotations(map[string]string{"n": fmt.Sprint(i)})
		ch := r.changed.wait()
		o.SetResourceVersion("")
		if _, err := lab.dyn[names[k]].Resource(peerGVR).Namespace(agentNS).Update(ctx, o, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		<-ch
	}
	b.StopTimer()
	b.ReportMetric(heapMiB, "watch-heap-MiB")
	b.ReportMetric(goroutines, "goroutines")
}
