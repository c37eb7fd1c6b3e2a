package workload

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/fluidos-lab/testbed/scenarios"
)

var (
	ds = scenarios.Protocol{WorkloadKind: scenarios.WorkloadDaemonSet, WorkloadName: "agent", WorkloadNamespace: "ns"}
	dp = scenarios.Protocol{WorkloadKind: scenarios.WorkloadDeployment, WorkloadName: "agent", WorkloadNamespace: "ns"}
)

func objects(replicas int32) (*appsv1.DaemonSet, *appsv1.Deployment) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ns"}, Spec: appsv1.DaemonSetSpec{Selector: sel}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ns"}, Spec: appsv1.DeploymentSpec{Selector: sel, Replicas: &replicas}}
}

func TestSetAndRead(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		p        scenarios.Protocol
		replicas int32
		check    func(t *testing.T, cs *fake.Clientset, on bool)
	}{
		{"daemonset", ds, 0, func(t *testing.T, cs *fake.Clientset, on bool) {
			d, _ := cs.AppsV1().DaemonSets("ns").Get(ctx, "agent", metav1.GetOptions{})
			_, disabled := d.Spec.Template.Spec.NodeSelector[DisabledLabel]
			if disabled == on {
				t.Errorf("on=%v but nodeSelector %v", on, d.Spec.Template.Spec.NodeSelector)
			}
		}},
		{"deployment keeps its replicas", dp, 3, func(t *testing.T, cs *fake.Clientset, on bool) {
			d, _ := cs.AppsV1().Deployments("ns").Get(ctx, "agent", metav1.GetOptions{})
			want := map[bool]int32{true: 3, false: 0}[on]
			if *d.Spec.Replicas != want {
				t.Errorf("on=%v replicas %d, want %d", on, *d.Spec.Replicas, want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, dep := objects(tc.replicas)
			cs := fake.NewClientset(d, dep)
			info, err := Read(ctx, cs, tc.p)
			if err != nil || info.Selector.String() != "app=agent" {
				t.Fatalf("Read: %+v %v", info, err)
			}
			if tc.p.WorkloadKind == scenarios.WorkloadDeployment && info.Replicas != tc.replicas {
				t.Errorf("replicas %d, want %d", info.Replicas, tc.replicas)
			}
			for _, on := range []bool{false, true, false} {
				if err := Set(ctx, cs, tc.p, on, info.Replicas); err != nil {
					t.Fatal(err)
				}
				tc.check(t, cs, on)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	if err := Set(ctx, cs, ds, false, 1); !apierrors.IsNotFound(err) {
		t.Errorf("missing workload: %v, want NotFound as is", err)
	}
	if _, err := Read(ctx, cs, dp); err == nil || !strings.Contains(err.Error(), "reading Deployment ns/agent") {
		t.Errorf("Read missing: %v", err)
	}
	noSel := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ns"}}
	if _, err := Read(ctx, fake.NewClientset(noSel), ds); err == nil || !strings.Contains(err.Error(), "no pod selector") {
		t.Errorf("empty selector: %v", err)
	}
}

func TestWaitGone(t *testing.T) {
	ctx := context.Background()
	sel := labels.SelectorFromSet(labels.Set{"app": "agent"})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": "agent"}}}
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "ns", Labels: map[string]string{"app": "other"}}}
	if err := WaitGone(ctx, fake.NewClientset(other), ds, sel, time.Hour, time.Hour); err != nil {
		t.Errorf("no pod of the workload: %v", err)
	}
	if err := WaitGone(ctx, fake.NewClientset(pod), ds, sel, time.Hour, 0); err == nil || !strings.Contains(err.Error(), "1 pod(s) of agent still present") {
		t.Errorf("timeout: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := WaitGone(cctx, fake.NewClientset(pod), ds, sel, time.Hour, time.Hour); err == nil {
		t.Error("cancelled wait returned nil")
	}
}
