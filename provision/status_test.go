package provision

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/network"
	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/internal/helm"
)

// TestStatusFindsWorkloadsAnywhere: a discovery protocol installed as an
// extra chart, under another release name in another namespace, is found
// by its workload and counted there (pods and peers), though the plan does
// not know it; a not-ready pod is a problem that names the protocol and
// the namespace.
func TestStatusFindsWorkloadsAnywhere(t *testing.T) {
	f := newFakeLab()
	plan := testPlan(t, 1)
	plan.ExtraCharts = nil
	plan.Clusters[0].Charts = nil
	f.networks[plan.Network.Name] = network.Summary{Name: plan.Network.Name, ID: "id", Labels: dockernet.Labels(plan.Name)}
	c := plan.Clusters[0]
	f.nodes[c.Name] = []dockernet.Node{{Name: c.Name + "-control-plane", Cluster: c.Name, Role: "control-plane", State: "running"}}
	if err := os.WriteFile(c.Kubeconfig, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	kc, dc, _ := f.kube(c.Kubeconfig)
	ctx := context.Background()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": "lab-nm"}}
	objs := []struct {
		ns, name string
		ready    []bool
	}{{"lab-nm", FluidosDaemonSet, []bool{true}}, {"lab-agents", AgentDaemonSet, []bool{true, false}}}
	for _, o := range objs {
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: o.name, Namespace: o.ns}, Spec: appsv1.DaemonSetSpec{Selector: sel}}
		if _, err := kc.AppsV1().DaemonSets(o.ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for i, r := range o.ready {
			st := corev1.ConditionFalse
			if r {
				st = corev1.ConditionTrue
			}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", o.name, i), Namespace: o.ns, Labels: sel.MatchLabels},
				Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
			if _, err := kc.CoreV1().Pods(o.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 3 {
		obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "network.fluidos.eu/v1alpha1", "kind": "KnownCluster",
			"metadata": map[string]any{"name": fmt.Sprintf("kc-%d", i), "namespace": "lab-nm"}}}
		if _, err := dc.Resource(KnownClusterResource).Namespace("lab-nm").Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	multus := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: helm.MultusDaemonSet, Namespace: helm.MultusNamespace},
		Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, NumberReady: 1, UpdatedNumberScheduled: 1, NumberAvailable: 1}}
	if _, err := kc.AppsV1().DaemonSets(helm.MultusNamespace).Create(ctx, multus, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := newTestProvisioner(t, f).Status(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	cs := st.Clusters[0]
	want := []DiscoveryStatus{
		{Protocol: "reference-agent", Namespace: "lab-agents", PodsReady: 1, Pods: 2},
		{Protocol: "network-manager", Namespace: "lab-nm", PodsReady: 1, Pods: 1, Peers: 3},
	}
	if d := cmp.Diff(want, cs.Discovery); d != "" {
		t.Errorf("discovery (-want +got):\n%s\nerrors %v", d, cs.Errors)
	}
	probs := cs.Problems()
	if len(probs) != 1 || probs[0] != "reference-agent in lab-agents: 1 of 2 pods ready" {
		t.Errorf("problems %q, want only the agent's not-ready pod", probs)
	}
	// Only the protocols it is given: without the agent, only the NM.
	p := newTestProvisioner(t, f, WithProtocols(DefaultProtocols()[1:]))
	st, err = p.Status(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if d := st.Clusters[0].Discovery; len(d) != 1 || d[0].Protocol != "network-manager" {
		t.Errorf("with one protocol: %+v", d)
	}
	if probs := st.Clusters[0].Problems(); len(probs) != 0 {
		t.Errorf("healthy cluster has problems %q", strings.Join(probs, "; "))
	}
}
