package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/topology"
	"sigs.k8s.io/yaml"
)

func TestPlanCommandJSON24(t *testing.T) {
	t.Setenv("TESTBED_STATE_DIR", "/state")
	t.Setenv("TESTBED_NODE_IMAGE", "")
	stdout, stderr, code := runCLI(t, "plan", topologyDir+"/24-nodes.yaml", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p topology.Plan
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("not a Plan: %v", err)
	}
	if len(p.Clusters) != 24 {
		t.Fatalf("%d clusters", len(p.Clusters))
	}
	seen := map[string]bool{}
	for _, c := range p.Clusters {
		for _, a := range []string{c.Macvlan.RangeStart, c.Macvlan.Subnet, c.Nodes[0].Name, c.Kubeconfig} {
			if seen[a] {
				t.Errorf("%s: %q is not unique", c.Name, a)
			}
			seen[a] = true
		}
	}
	if p.StateDir != "/state/reference-24" {
		t.Errorf("state dir %q", p.StateDir)
	}
}

func TestPlanCommandTableAndYAML(t *testing.T) {
	t.Setenv("TESTBED_STATE_DIR", "/state")
	t.Setenv("TESTBED_NODE_IMAGE", "testbed.local/node:offline")
	stdout, _, code := runCLI(t, "plan", topologyDir+"/testdata/valid-list-overrides.yaml")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, w := range []string{
		"CLUSTER  NODES",
		"beta     beta-control-plane,beta-worker,beta-worker2  dynamic in 192.168.50.0/24  10.200.1.101/24  /srv/testbed/lab/kubeconfig/beta",
		"testbed.local/node:dev", // per-cluster override beats the environment
		"fluidos@v0.1.2,agent@local,metrics@3.12.2",
		"fluidos:networkManager.config.netInterface=eth9",
		"agent:replicas=2",
		"estimate for 3 clusters: 3.0 GiB memory, 2.3 CPU cores, 10.8 GiB disk",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("table lacks %q:\n%s", w, stdout)
		}
	}
	stdout, _, code = runCLI(t, "plan", topologyDir+"/ci-3-nodes.yaml", "-o", "yaml")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var p topology.Plan
	if err := yaml.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatal(err)
	}
	if p.Fluidos != nil || len(p.ExtraCharts) != 1 || p.ExtraCharts[0].Namespace != "testbed-agent" || p.Clusters[0].NodeImage != "testbed.local/node:offline" {
		t.Errorf("ci plan %+v", p)
	}
}

func TestPlanCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"plan", topologyDir + "/testdata/invalid-overlaps.yaml"}, "invalid-overlaps.yaml:11:3: macvlan.subnet: the macvlan pool 172.30.0.0/20 overlaps the Docker network"},
		{[]string{"plan", topologyDir + "/2-nodes.yaml", "-o", "xml"}, `unknown output format "xml"`},
		{[]string{"plan"}, "accepts 1 arg(s), received 0"},
	}
	for _, tt := range tests {
		_, stderr, code := runCLI(t, tt.args...)
		if code != exitBadInput || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestSchemaCommand(t *testing.T) {
	stdout, _, code := runCLI(t, "schema", "topology")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	props := s["$defs"].(map[string]any)["Topology"].(map[string]any)["properties"].(map[string]any)
	for _, k := range []string{"apiVersion", "kind", "metadata", "clusters", "network", "macvlan", "fluidos", "extraCharts", "provisioning"} {
		if _, ok := props[k]; !ok {
			t.Errorf("schema lacks %s", k)
		}
	}
	if _, stderr, code := runCLI(t, "schema", "nope"); code != exitBadInput || !strings.Contains(stderr, `invalid argument "nope"`) {
		t.Errorf("schema nope: exit %d, %q", code, stderr)
	}
}
