package helm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func ds(gen, observed int64, desired, updated, ready, available int32) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: MultusDaemonSet, Namespace: MultusNamespace, Generation: gen},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: observed, DesiredNumberScheduled: desired,
			UpdatedNumberScheduled: updated, NumberReady: ready, NumberAvailable: available},
	}
}

func TestDaemonSetReady(t *testing.T) {
	tests := []struct {
		name string
		ds   *appsv1.DaemonSet
		want bool
	}{
		{"rolled out", ds(2, 2, 1, 1, 1, 1), true},
		{"three nodes rolled out", ds(1, 1, 3, 3, 3, 3), true},
		{"generation not observed", ds(2, 1, 1, 1, 1, 1), false},
		{"nothing scheduled yet", ds(1, 1, 0, 0, 0, 0), false},
		{"pod not ready", ds(1, 1, 1, 1, 0, 0), false},
		{"old pod still serving", ds(2, 2, 2, 1, 2, 2), false},
	}
	for _, tc := range tests {
		if got := DaemonSetReady(tc.ds); got != tc.want {
			t.Errorf("%s: ready=%v want %v", tc.name, got, tc.want)
		}
	}
}

func TestWaitDaemonSetReadyWatches(t *testing.T) {
	cs := fake.NewClientset(ds(1, 1, 1, 0, 0, 0))
	// The fake tracker does not replay missed events, so update only once
	// the wait's watch is open.
	watching := make(chan struct{})
	var once sync.Once
	cs.PrependWatchReactor("daemonsets", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := cs.Tracker().Watch(a.GetResource(), a.GetNamespace())
		once.Do(func() { close(watching) })
		return true, w, err
	})
	// A guard so a regression fails instead of hanging; not a synchroniser.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- WaitDaemonSetReady(ctx, cs, MultusNamespace, MultusDaemonSet) }()
	<-watching
	// The kubelet reports the pod ready: the wait must see it via the watch.
	ready := ds(1, 1, 1, 1, 1, 1)
	if _, err := cs.AppsV1().DaemonSets(MultusNamespace).UpdateStatus(ctx, ready, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("wait: %v", err)
	}
}

func TestWaitDaemonSetReadyStopsWithContext(t *testing.T) {
	cs := fake.NewClientset(ds(1, 1, 1, 0, 0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := WaitDaemonSetReady(ctx, cs, MultusNamespace, MultusDaemonSet)
	if err == nil || !strings.Contains(err.Error(), MultusDaemonSet) {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "not") {
		t.Fatalf("err = %v", err)
	}
}

func TestSplitImage(t *testing.T) {
	tests := []struct{ in, repo, tag string }{
		{"ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2", "ghcr.io/k8snetworkplumbingwg/multus-cni", "v4.2.2"},
		{"localhost:5000/multus:v1", "localhost:5000/multus", "v1"},
		{"localhost:5000/multus", "", ""},
		{"multus@sha256:abc", "", ""},
		{"multus:", "", ""},
	}
	for _, tc := range tests {
		repo, tag, err := splitImage(tc.in)
		if tc.repo == "" {
			if err == nil {
				t.Errorf("%s: want error", tc.in)
			}
			continue
		}
		if err != nil || repo != tc.repo || tag != tc.tag {
			t.Errorf("%s: got %q %q %v", tc.in, repo, tag, err)
		}
	}
}
