package sweep

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/workload"
	"github.com/fluidos-lab/testbed/topology"
)

func agentDS() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "reference-agent", Namespace: "testbed-agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "reference-agent"}}}}
}

func TestKubeWorkloadsSet(t *testing.T) {
	plan := &topology.Plan{Name: "lab", Clusters: []topology.ClusterPlan{{Name: "c1", Kubeconfig: "c1"}, {Name: "c2", Kubeconfig: "c2"}, {Name: "c3", Kubeconfig: "c3"}}}
	clients := map[string]*fake.Clientset{
		"c1": fake.NewClientset(agentDS()),
		"c2": fake.NewClientset(agentDS()),
		"c3": fake.NewClientset(), // protocol not installed there
	}
	k := &KubeWorkloads{Client: func(kubeconfig string) (kubernetes.Interface, error) { return clients[kubeconfig], nil }}
	p := scenarios.Presets()[scenarios.PresetReferenceAgent]
	ctx := context.Background()
	if err := k.Set(ctx, plan, p, []string{"c1"}, []string{"c2", "c3"}); err != nil {
		t.Fatal(err)
	}
	sel := func(c string) map[string]string {
		ds, err := clients[c].AppsV1().DaemonSets("testbed-agent").Get(ctx, "reference-agent", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ds.Spec.Template.Spec.NodeSelector
	}
	if v := sel("c2")[workload.DisabledLabel]; v != "true" {
		t.Errorf("c2 not disabled: %v", sel("c2"))
	}
	if _, ok := sel("c1")[workload.DisabledLabel]; ok {
		t.Errorf("c1 disabled: %v", sel("c1"))
	}
	if err := k.Set(ctx, plan, p, []string{"c2"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := sel("c2")[workload.DisabledLabel]; ok {
		t.Errorf("c2 not re-enabled: %v", sel("c2"))
	}
	// Enabling where the protocol is missing is an error naming the cluster.
	err := k.Set(ctx, plan, p, []string{"c3"}, nil)
	if err == nil || !strings.Contains(err.Error(), `cluster "c3"`) {
		t.Errorf("enable on c3: %v", err)
	}
	if err := k.Set(ctx, plan, p, []string{"c9"}, nil); err == nil || !strings.Contains(err.Error(), "c9") {
		t.Errorf("unknown cluster: %v", err)
	}
}
