package provision

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fluidos-lab/testbed/topology"
)

func TestTestbedValuesAndMerge(t *testing.T) {
	plan := &topology.Plan{Name: "lab", Macvlan: topology.MacvlanPlan{NADName: "macvlan-conf", PodInterface: "eth1"}}
	c := topology.ClusterPlan{Name: "c2", Index: 2, Macvlan: topology.ClusterMacvlan{Subnet: "10.101.1.0/24", RangeStart: "10.101.1.101"}}
	tb := TestbedValues(plan, c, "172.31.0.3", "testbed.local/reference-agent:abc")
	want := map[string]any{
		"topology": "lab", "cluster": "c2", "clusterIndex": 2, "nodeAddress": "172.31.0.3",
		"agentImage": "testbed.local/reference-agent:abc",
		"macvlan":    map[string]any{"nad": "macvlan-conf", "interface": "eth1", "address": "10.101.1.101", "subnet": "10.101.1.0/24"},
	}
	if d := cmp.Diff(want, tb); d != "" {
		t.Errorf("testbed block (-want +got):\n%s", d)
	}
	chart := topology.ChartPlan{Name: "x", Values: map[string]any{
		"a":       map[string]any{"b": 1, "c": 2},
		"testbed": map[string]any{"cluster": "stale", "extra": true},
	}}
	got := WithValues(chart, map[string]any{"a": map[string]any{"c": 3}}, tb)
	if got.Values["a"].(map[string]any)["b"] != 1 || got.Values["a"].(map[string]any)["c"] != 3 {
		t.Errorf("overlay merge: %v", got.Values["a"])
	}
	gtb := got.Values["testbed"].(map[string]any)
	if gtb["cluster"] != "c2" || gtb["extra"] != true {
		t.Errorf("testbed merge: %v", gtb)
	}
	if chart.Values["testbed"].(map[string]any)["cluster"] != "stale" {
		t.Error("WithValues modified its input")
	}
}

func TestNADConfig(t *testing.T) {
	plan := &topology.Plan{Macvlan: topology.MacvlanPlan{Master: "eth0", Mode: "bridge", NADName: "macvlan-conf"}}
	c := topology.ClusterPlan{Name: "c1", Macvlan: topology.ClusterMacvlan{Subnet: "10.101.0.0/24", RangeStart: "10.101.0.101", RangeEnd: "10.101.0.101"}}
	s, err := NADConfig(plan, c)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(s), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"cniVersion": "0.3.1", "name": "macvlan-conf", "type": "macvlan", "master": "eth0", "mode": "bridge",
		"ipam": map[string]any{"type": "host-local", "subnet": "10.101.0.0/24", "rangeStart": "10.101.0.101", "rangeEnd": "10.101.0.101"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("NAD config (-want +got):\n%s", d)
	}
	if _, err := NADConfig(plan, topology.ClusterPlan{Name: "c9"}); err == nil {
		t.Error("NADConfig accepted a cluster without macvlan addresses")
	}
	if d := cmp.Diff([]string{"a"}, nadNamespaces(&topology.Plan{Macvlan: topology.MacvlanPlan{NADNamespaces: []string{"fluidos", "a"}}})); d != "" {
		t.Errorf("nad namespaces: %s", d)
	}
}

func TestChartsOf(t *testing.T) {
	fl := topology.ChartPlan{Name: "fluidos", Release: "node"}
	ra := topology.ChartPlan{Name: "reference-agent", Chart: "charts/reference-agent"}
	plan := &topology.Plan{Fluidos: &fl, ExtraCharts: []topology.ChartPlan{ra}}
	c := topology.ClusterPlan{Charts: []topology.ChartPlan{{Name: "multus"}, fl, ra}}
	f, extra := chartsOf(plan, c)
	if f == nil || f.Release != "node" || len(extra) != 1 || extra[0].Name != "reference-agent" {
		t.Errorf("chartsOf = %v %v", f, extra)
	}
	if !usesAgentImage(ra) || usesAgentImage(fl) {
		t.Error("usesAgentImage")
	}
}
