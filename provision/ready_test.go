package provision

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/internal/helm"
	"github.com/fluidos-lab/testbed/topology"
)

// confExec answers `test -f` on Multus' configuration with "absent" for the
// first missing checks of every node, then "present".
type confExec struct {
	mu      sync.Mutex
	missing int
	checks  map[string]int
}

func (c *confExec) Exec(_ context.Context, node string, cmd []string, _ io.Reader) ([]byte, []byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.Join(cmd, " ") != "test -f "+helm.MultusConfFile {
		return nil, nil, errors.New("unexpected command " + strings.Join(cmd, " "))
	}
	c.checks[node]++
	if c.checks[node] <= c.missing {
		return nil, nil, errors.New("exit 1")
	}
	return nil, nil, nil
}

// Multus is installed without Helm's wait, and the ready step waits for
// the nodes, the DaemonSet and Multus' configuration on every node before
// any chart that needs the macvlan interface is installed.
func TestReadyWaitsForMultusConfiguration(t *testing.T) {
	f := newFakeLab()
	plan := testPlan(t, 2)
	other := topology.ChartPlan{Name: "metrics", Release: "metrics", Namespace: "metrics", Chart: "charts/metrics"}
	plan.ExtraCharts = append(plan.ExtraCharts, other)
	for i := range plan.Clusters {
		plan.Clusters[i].Charts = append(plan.Clusters[i].Charts, other)
	}
	x := &confExec{missing: 3, checks: map[string]int{}}
	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	p := newTestProvisioner(t, f, WithExec(x),
		WithMultus(helm.MultusChart, func(context.Context, kubernetes.Interface) error { note("multus-ds"); return nil }))
	p.waitNodes = func(context.Context, kubernetes.Interface, int) error { note("nodes"); return nil }
	p.confPoll = 0
	rep, err := p.Up(context.Background(), plan, UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Clusters {
		if n := x.checks[c.Name+"-control-plane"]; n != 4 {
			t.Errorf("%s: %d checks of Multus' configuration, want 4 (3 absent, then present)", c.Name, n)
		}
		if _, ok := rep.NodesReady[c.Name]; !ok {
			t.Errorf("%s: no node-ready time in the report", c.Name)
		}
		applied := f.applied[c.Kubeconfig]
		if len(applied) != 3 || applied[0].Name != helm.MultusChartName || !applied[0].SkipWait || !applied[1].SkipWait || applied[2].SkipWait {
			t.Errorf("%s: charts applied %+v: want Multus first and the agent without Helm's wait (watched instead), another chart with it", c.Name, applied)
		}
	}
	if rep.ClustersReady <= 0 {
		t.Errorf("ClustersReady %s", rep.ClustersReady)
	}
	if len(order) != 4 {
		t.Errorf("waits %v: want the nodes and the DaemonSet waited for on each of the 2 clusters", order)
	}
}
