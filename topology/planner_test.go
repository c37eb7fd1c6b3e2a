package topology

import (
	"reflect"
	"strings"
	"testing"
)

func TestShippedTopologies(t *testing.T) {
	tests := []struct {
		file     string
		clusters int
		fluidos  bool
		charts   []string
	}{
		{"2-nodes.yaml", 2, true, []string{"fluidos"}},
		{"24-nodes.yaml", 24, true, []string{"fluidos"}},
		{"ci-3-nodes.yaml", 3, false, []string{"reference-agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			top, err := Load(tt.file, WithEnvironment(testEnv))
			if err != nil {
				t.Fatal(err)
			}
			p, err := top.Plan()
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Clusters) != tt.clusters {
				t.Fatalf("%d clusters, want %d", len(p.Clusters), tt.clusters)
			}
			if (p.Fluidos != nil) != tt.fluidos {
				t.Errorf("fluidos enabled = %v, want %v", p.Fluidos != nil, tt.fluidos)
			}
			seen := map[string]string{}
			for _, c := range p.Clusters {
				for _, k := range []string{c.Name, c.Macvlan.Subnet, c.Macvlan.RangeStart, c.Kubeconfig, c.Nodes[0].Name} {
					if other, dup := seen[k]; dup {
						t.Errorf("%q used by %s and %s", k, other, c.Name)
					}
					seen[k] = c.Name
				}
				var names []string
				for _, ch := range c.Charts {
					names = append(names, ch.Name)
					tb, _ := ch.Values["testbed"].(map[string]any)
					mv, _ := tb["macvlan"].(map[string]any)
					if tb["cluster"] != c.Name || mv["address"] != c.Macvlan.RangeStart {
						t.Errorf("%s/%s testbed values = %v", c.Name, ch.Name, tb)
					}
				}
				if !reflect.DeepEqual(names, tt.charts) {
					t.Errorf("%s charts %v, want %v", c.Name, names, tt.charts)
				}
			}
		})
	}
}

func TestPlan24(t *testing.T) {
	top, err := Load("24-nodes.yaml", WithEnvironment(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	p, err := top.Plan()
	if err != nil {
		t.Fatal(err)
	}
	first, last := p.Clusters[0], p.Clusters[23]
	if first.Name != "node-01" || last.Name != "node-24" || last.Index != 24 {
		t.Fatalf("names %s..%s", first.Name, last.Name)
	}
	if last.Nodes[0].Name != "node-24-control-plane" || last.Nodes[0].Address != "dynamic in 172.30.0.0/16" {
		t.Errorf("node %+v", last.Nodes[0])
	}
	if last.Macvlan.Subnet != "10.100.23.0/24" || last.Macvlan.Octets != [3]int{10, 100, 23} {
		t.Errorf("macvlan %+v", last.Macvlan)
	}
	// node-11 must not collide with node-01 (the FLUIDOS scripts' ${i: -1} bug).
	addr := func(c ClusterPlan) any {
		return c.Charts[0].Values["networkManager"].(map[string]any)["config"].(map[string]any)["address"].(map[string]any)["thirdOctet"]
	}
	if addr(p.Clusters[0]) == addr(p.Clusters[10]) {
		t.Errorf("node-01 and node-11 share thirdOctet %v", addr(p.Clusters[0]))
	}
	if p.Estimate.MemoryMiB != 24*estControlPlaneMemMiB || p.Estimate.CPUCores != 12 {
		t.Errorf("estimate %+v", p.Estimate)
	}
	if p.StateDir != "/state/reference-24" || last.Kubeconfig != "/state/reference-24/kubeconfig/node-24" {
		t.Errorf("paths %s %s", p.StateDir, last.Kubeconfig)
	}
	if p.Parallelism != 8 || p.Retries != 2 {
		t.Errorf("parallelism %d retries %d, want 8 (twice the 4 CPUs) and 2", p.Parallelism, p.Retries)
	}
}

func TestDefaultParallelism(t *testing.T) {
	tests := []struct{ clusters, cpus, want int }{
		{1, 2, 1}, {3, 2, 3}, {4, 2, 4}, {12, 2, 4}, {3, 1, 2}, {24, 16, 24}, {100, 16, 32},
	}
	for _, tt := range tests {
		top := &Topology{env: Environment{CPUs: tt.cpus}, Clusters: Clusters{Count: tt.clusters}}
		if got, _ := top.planProvisioning(tt.clusters); got != tt.want {
			t.Errorf("%d clusters on %d CPUs: parallelism %d, want %d", tt.clusters, tt.cpus, got, tt.want)
		}
	}
	set := &Topology{env: Environment{CPUs: 2}, Provisioning: &Provisioning{Parallelism: 1}}
	if got, _ := set.planProvisioning(3); got != 1 {
		t.Errorf("explicit parallelism 1 became %d", got)
	}
}

func TestEnvironmentPrecedence(t *testing.T) {
	src := `apiVersion: testbed.dev/v1alpha1
kind: Topology
metadata: {name: env}
clusters:
  count: 2
  nodeImage: kindest/node:v1.30.0
  overrides:
    node-02: {nodeImage: kindest/node:v1.31.0}
multus: {image: "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.1"}
cniPlugins: {tarball: /from/file.tgz}
`
	env := map[string]string{
		EnvNodeImage: "local/node:dev", EnvMultusImage: "local/multus:dev",
		EnvCNIPluginsTarball: "/from/env.tgz", "HOME": "/home/u",
	}
	e := EnvironmentFromOS(func(k string) string { return env[k] })
	if e.StateRoot != "/home/u/.local/state/testbed" {
		t.Errorf("state root %q", e.StateRoot)
	}
	top, err := Parse("env.yaml", []byte(src), WithEnvironment(e))
	if err != nil {
		t.Fatal(err)
	}
	p, err := top.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if p.Clusters[0].NodeImage != "local/node:dev" || p.Clusters[1].NodeImage != "kindest/node:v1.31.0" {
		t.Errorf("node images %s %s", p.Clusters[0].NodeImage, p.Clusters[1].NodeImage)
	}
	if p.Multus.Image != "local/multus:dev" || p.CNIPlugins.Tarball != "/from/env.tgz" {
		t.Errorf("multus %s tarball %s", p.Multus.Image, p.CNIPlugins.Tarball)
	}
	env["XDG_STATE_HOME"] = "/xdg"
	if got := EnvironmentFromOS(func(k string) string { return env[k] }).StateRoot; got != "/xdg/testbed" {
		t.Errorf("xdg state root %q", got)
	}
	env[EnvStateDir] = "/explicit"
	if got := EnvironmentFromOS(func(k string) string { return env[k] }).StateRoot; got != "/explicit" {
		t.Errorf("explicit state root %q", got)
	}
}

func TestPlanRejectsInvalidHandBuilt(t *testing.T) {
	top := &Topology{APIVersion: APIVersion, Kind: Kind, Metadata: Metadata{Name: "x"}, Clusters: Clusters{Count: 300}}
	if _, err := top.Plan(); err == nil || !strings.Contains(err.Error(), "count 300 is out of range") {
		t.Fatalf("err = %v", err)
	}
}

func TestDeepMerge(t *testing.T) {
	base := map[string]any{"a": map[string]any{"b": 1, "c": 2}, "l": []any{1}}
	over := map[string]any{"a": map[string]any{"c": 3, "d": 4}, "e": 5}
	got := DeepMerge(base, over)
	want := map[string]any{"a": map[string]any{"b": 1, "c": 3, "d": 4}, "l": []any{1}, "e": 5}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	got["a"].(map[string]any)["b"] = 9
	if base["a"].(map[string]any)["b"] != 1 {
		t.Error("DeepMerge aliased its input")
	}
	if d := DiffValues(base, got); !reflect.DeepEqual(d, []string{"a.b=9", "a.c=3", "a.d=4", "e=5"}) {
		t.Errorf("DiffValues = %v", d)
	}
}

func TestImageProblem(t *testing.T) {
	tests := []struct {
		ref, want string
	}{
		{"busybox:1.36.1", ""},
		{"localhost:5000/x/y:v1", ""},
		{"kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f", ""},
		{"busybox@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f", ""},
		{"localhost:5000/x", "no tag"},
		{"busybox:latest", ":latest"},
		{"busybox@md5:12", "malformed digest"},
		{"Busybox:1", "invalid repository"},
		{"busybox:", "invalid tag"},
		{"bu sybox:1", "whitespace"},
	}
	for _, tt := range tests {
		msg, fix := imageProblem(tt.ref)
		if tt.want == "" && msg != "" || tt.want != "" && (!strings.Contains(msg, tt.want) || fix == "") {
			t.Errorf("imageProblem(%q) = %q, %q; want %q", tt.ref, msg, fix, tt.want)
		}
	}
}

func TestValueChanges(t *testing.T) {
	top, err := Load("testdata/valid-list-overrides.yaml", WithEnvironment(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	p, err := top.Plan()
	if err != nil {
		t.Fatal(err)
	}
	got := top.ValueChanges(p)
	want := map[string]map[string][]string{
		"alpha": {"fluidos": {"rearController.service.gateway.nodePort.port=30001"}, "agent": {"period=1s"}},
		"beta": {"fluidos": {"networkManager.config.netInterface=eth9", "rearController.service.gateway.nodePort.port=30001"},
			"agent": {"period=1s", "replicas=2"}},
		"gamma": {"fluidos": {"provider=other", "rearController.service.gateway.nodePort.port=30001"}, "agent": {"period=1s"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ValueChanges = %v\nwant %v", got, want)
	}
}
