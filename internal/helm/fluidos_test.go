package helm

import (
	"fmt"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"github.com/fluidos-lab/testbed/topology"
)

func plan24(t *testing.T) *topology.Plan {
	t.Helper()
	topo, err := topology.Load("../../topology/24-nodes.yaml", topology.WithEnvironment(topology.Environment{}))
	if err != nil {
		t.Fatalf("loading 24-nodes topology: %v", err)
	}
	p, err := topo.Plan()
	if err != nil {
		t.Fatalf("planning: %v", err)
	}
	if len(p.Clusters) != 24 || p.Fluidos == nil {
		t.Fatalf("want 24 clusters with FLUIDOS, got %d (fluidos %v)", len(p.Clusters), p.Fluidos != nil)
	}
	return p
}

// nodeAddr is a stand-in for the control-plane address Docker assigns.
func nodeAddr(i int) string { return fmt.Sprintf("172.30.0.%d", i+2) }

func TestFluidosValues24Clusters(t *testing.T) {
	p := plan24(t)
	subnets := map[string]string{}
	ids := map[string]string{}
	for i, c := range p.Clusters {
		v, err := FluidosValues(p, c, nodeAddr(i))
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		get := func(path ...string) any {
			x, ok := lookup(v, path...)
			if !ok {
				t.Fatalf("%s: %s missing", c.Name, strings.Join(path, "."))
			}
			return x
		}
		var oct []string
		for _, k := range []string{"firstOctet", "secondOctet", "thirdOctet"} {
			s, ok := get("networkManager", "config", "address", k).(string)
			if !ok {
				t.Fatalf("%s: address.%s is %T, want string", c.Name, k, get("networkManager", "config", "address", k))
			}
			oct = append(oct, s)
		}
		sub := strings.Join(oct, ".")
		if want := strings.TrimSuffix(c.Macvlan.Subnet, ".0/24"); sub != want {
			t.Errorf("%s: octets %s, plan subnet %s", c.Name, sub, c.Macvlan.Subnet)
		}
		if other, dup := subnets[sub]; dup {
			t.Errorf("%s and %s share macvlan octets %s", other, c.Name, sub)
		}
		subnets[sub] = c.Name
		ip := get("common", "configMaps", "nodeIdentity", "ip").(string)
		if ip != nodeAddr(i) {
			t.Errorf("%s: identity ip %q, want %q", c.Name, ip, nodeAddr(i))
		}
		if other, dup := ids[ip]; dup {
			t.Errorf("%s and %s share identity ip %s", other, c.Name, ip)
		}
		ids[ip] = c.Name
		if b, ok := get("networkManager", "config", "enableLocalDiscovery").(bool); !ok || !b {
			t.Errorf("%s: enableLocalDiscovery = %#v, want bool true", c.Name, get("networkManager", "config", "enableLocalDiscovery"))
		}
		if a := get("networkManager", "pod", "annotations", "k8s.v1.cni.cncf.io/networks"); a != "macvlan-conf@eth1" {
			t.Errorf("%s: annotation = %#v", c.Name, a)
		}
		if m := get("networkManager", "config", "netInterface"); m != "eth0" {
			t.Errorf("%s: netInterface = %#v", c.Name, m)
		}
		if _, ok := lookup(v, "common", "configMaps", "nodeIdentity", "nodeID"); ok {
			t.Errorf("%s: nodeID must not be set", c.Name)
		}
		if _, ok := lookup(v, "networkManager", "configMaps"); ok {
			t.Errorf("%s: stale networkManager.configMaps set", c.Name)
		}
		if sel := get("common", "nodeSelector", "kubernetes.io/hostname"); sel != c.Name+"-control-plane" {
			t.Errorf("%s: nodeSelector hostname = %#v", c.Name, sel)
		}
		if tag := get("tag"); tag != "v0.1.2" {
			t.Errorf("%s: tag = %#v", c.Name, tag)
		}
		if port := get("rearController", "service", "gateway", "nodePort", "port"); port == nil {
			t.Errorf("%s: nodePort missing", c.Name)
		}

		ch, err := FluidosChart(p, c, nodeAddr(i))
		if err != nil {
			t.Fatal(err)
		}
		if ch.Namespace != "fluidos" || ch.Release != "node" || ch.Repo == "" || ch.Version != "v0.1.2" {
			t.Errorf("%s: chart plan %+v", c.Name, ch)
		}
		rels, err := FluidosReleases(p, c, nodeAddr(i))
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, r := range rels {
			order = append(order, r.Namespace+"/"+r.Release)
			if r.Version == "" {
				t.Errorf("%s: release %s unpinned", c.Name, r.Release)
			}
		}
		if got := strings.Join(order, ","); got != "cert-manager/cert-manager,kube-system/metrics-server,fluidos/node" {
			t.Errorf("%s: release order %s", c.Name, got)
		}
	}
}

func TestFluidosValuesTopologyOverrides(t *testing.T) {
	p := plan24(t)
	c := p.Clusters[3]
	// A per-cluster override wins over generated defaults, except the
	// plan's octets, which are forced back to strings.
	c.Charts = append([]topology.ChartPlan(nil), c.Charts...)
	c.Charts = append(c.Charts, topology.ChartPlan{Name: topology.FluidosChartName, Values: map[string]any{
		"networkManager": map[string]any{"config": map[string]any{
			"multicast": map[string]any{"port": 4001},
			"address":   map[string]any{"thirdOctet": 99},
		}},
	}})
	v, err := FluidosValues(p, c, "172.30.0.9")
	if err != nil {
		t.Fatal(err)
	}
	if port, _ := lookup(v, "networkManager", "config", "multicast", "port"); port != 4001 {
		t.Errorf("multicast port = %#v, want the override 4001", port)
	}
	if third, _ := lookup(v, "networkManager", "config", "address", "thirdOctet"); third != fmt.Sprint(c.Macvlan.Octets[2]) {
		t.Errorf("thirdOctet = %#v, want the plan's %q", third, fmt.Sprint(c.Macvlan.Octets[2]))
	}
}

func TestCheckFluidosValuesRejectsTraps(t *testing.T) {
	p := plan24(t)
	good, err := FluidosValues(p, p.Clusters[0], "172.30.0.2")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		patch map[string]any
		want  string
	}{
		{"nodeID typo trap", map[string]any{"common": map[string]any{"configMaps": map[string]any{"nodeIdentity": map[string]any{"nodeID": "x"}}}}, "nodeID"},
		{"string bool", map[string]any{"networkManager": map[string]any{"config": map[string]any{"enableLocalDiscovery": "true"}}}, "must be a bool"},
		{"nil bool", map[string]any{"networkManager": map[string]any{"config": map[string]any{"enableLocalDiscovery": nil}}}, "must be a bool"},
		{"annotation without interface", map[string]any{"networkManager": map[string]any{"pod": map[string]any{"annotations": map[string]any{"k8s.v1.cni.cncf.io/networks": "macvlan-conf"}}}}, "<nad>@<interface>"},
		{"int octet", map[string]any{"networkManager": map[string]any{"config": map[string]any{"address": map[string]any{"secondOctet": 101}}}}, "secondOctet must be a string"},
		{"stale key", map[string]any{"networkManager": map[string]any{"configMaps": map[string]any{}}}, "stale key"},
		{"no port", map[string]any{"rearController": map[string]any{"service": map[string]any{"gateway": map[string]any{"nodePort": map[string]any{"port": ""}}}}}, "nodePort.port is required"},
		{"no ip", map[string]any{"common": map[string]any{"configMaps": map[string]any{"nodeIdentity": map[string]any{"ip": ""}}}}, "ip is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckFluidosValues(topology.DeepMerge(good, tc.patch))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
	if err := CheckFluidosValues(good); err != nil {
		t.Fatalf("generated values rejected: %v", err)
	}
}

func TestFluidosValuesErrors(t *testing.T) {
	p := plan24(t)
	c := p.Clusters[0]
	if _, err := FluidosValues(p, c, ""); err == nil || !strings.Contains(err.Error(), c.Name) {
		t.Errorf("empty node address: err = %v", err)
	}
	noCP := c
	noCP.Nodes = nil
	if _, err := FluidosValues(p, noCP, "1.2.3.4"); err == nil {
		t.Error("no control plane: want error")
	}
	bad := *p
	bad.Fluidos = &topology.ChartPlan{Name: "fluidos", Values: map[string]any{"common": map[string]any{"configMaps": map[string]any{"nodeIdentity": map[string]any{"nodeID": "abc"}}}}}
	if _, err := FluidosValues(&bad, c, "1.2.3.4"); err == nil || !strings.Contains(err.Error(), "nodeID") {
		t.Errorf("nodeID in topology values: err = %v", err)
	}
}

// standInChart holds templates copied in shape from the FLUIDOS node chart
// (v0.1.2 deployments/node/templates): the same value paths and the same
// template functions, so the generated values are proven to render the way
// the real chart renders them.
func standInChart() *chart.Chart {
	tpl := func(name, data string) *chart.File { return &chart.File{Name: "templates/" + name, Data: []byte(data)} }
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "node", Version: "0.1.2"},
		Values: map[string]any{
			"tag": "", "pullPolicy": "IfNotPresent",
			"common":         map[string]any{"nodeSelector": map[string]any{}, "tolerations": []any{}},
			"networkManager": map[string]any{"imageName": "ghcr.io/fluidos-project/network-manager", "pod": map[string]any{"annotations": map[string]any{}}},
		},
		Templates: []*chart.File{
			tpl("nm.yaml", `args:
  - --enable-local-discovery={{ .Values.networkManager.config.enableLocalDiscovery | toString }}
  {{- if eq .Values.networkManager.config.enableLocalDiscovery true }}
  - --cniInterface={{ (get .Values.networkManager.pod.annotations "k8s.v1.cni.cncf.io/networks" | split "@")._1 }}
  {{- end }}
image: {{ .Values.networkManager.imageName }}:{{ .Values.tag | default .Chart.AppVersion }}
multicast: {{ print .Values.networkManager.config.multicast.address ":" .Values.networkManager.config.multicast.port}}
{{- if and .Values.networkManager.pod.annotations (eq .Values.networkManager.config.enableLocalDiscovery true) }}
annotations:
  {{- toYaml .Values.networkManager.pod.annotations | nindent 2 }}
{{- end }}
{{- if ((.Values.common).nodeSelector) }}
nodeSelector:
{{- toYaml .Values.common.nodeSelector | nindent 2 }}
{{- end }}
`),
			tpl("nad.yaml", `{{- if eq .Values.networkManager.config.enableLocalDiscovery true -}}
{{- $subnet := print .Values.networkManager.config.address.firstOctet "." .Values.networkManager.config.address.secondOctet "." .Values.networkManager.config.address.thirdOctet ".0/24" -}}
name: {{ (get .Values.networkManager.pod.annotations "k8s.v1.cni.cncf.io/networks" | split "@")._0 }}
master: {{ .Values.networkManager.config.netInterface }}
subnet: {{ $subnet }}
{{- end }}`),
			tpl("identity.yaml", `{{ if .Values.common.configMaps.nodeIdentity.domain }}
domain: {{ .Values.common.configMaps.nodeIdentity.domain }}
{{- else }}
{{- fail "The FLUIDOS Node domain (.Values.common.configMaps.nodeIdentity.domain) must be set." }}
{{- end }}
{{- if .Values.common.configMaps.nodeIdentity.nodeID }}
nodeID: {{ .Values.commmon.configMaps.nodeIdentity.nodeID }}
{{- else }}
nodeID: random
{{- end }}
{{- if .Values.common.configMaps.nodeIdentity.ip }}
ip: {{ .Values.common.configMaps.nodeIdentity.ip }}
{{- end }}
{{- if .Values.rearController.service.gateway.nodePort.port }}
port: {{ .Values.rearController.service.gateway.nodePort.port | quote }}
{{- else }}
{{- fail "The FLUIDOS Node port (.Values.rearController.service.gateway.nodePort.port) must be set." }}
{{- end }}
`),
		},
	}
}

func renderStandIn(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	vals, err := normalizeValues(vals) // as Helm stores and renders them
	if err != nil {
		t.Fatal(err)
	}
	ch := standInChart()
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "node", Namespace: "fluidos", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	return engine.Render(ch, rv)
}

func TestFluidosValuesRenderLikeTheChart(t *testing.T) {
	p := plan24(t)
	for _, i := range []int{0, 9, 10, 23} { // 10+ is where FLUIDOS's own thirdOctet collided
		c := p.Clusters[i]
		v, err := FluidosValues(p, c, nodeAddr(i))
		if err != nil {
			t.Fatal(err)
		}
		out, err := renderStandIn(t, v)
		if err != nil {
			t.Fatalf("%s: render: %v", c.Name, err)
		}
		nm, nad, id := out["node/templates/nm.yaml"], out["node/templates/nad.yaml"], out["node/templates/identity.yaml"]
		for _, want := range []string{
			"--enable-local-discovery=true\n",
			"--cniInterface=eth1\n",
			"image: ghcr.io/fluidos-project/network-manager:v0.1.2\n",
			"multicast: 239.11.11.1:4000\n",
			"k8s.v1.cni.cncf.io/networks: macvlan-conf@eth1",
			"kubernetes.io/hostname: " + c.Name + "-control-plane",
		} {
			if !strings.Contains(nm, want) {
				t.Errorf("%s: network-manager render lacks %q:\n%s", c.Name, want, nm)
			}
		}
		if strings.Contains(nm, "<nil>") {
			t.Errorf("%s: render contains <nil>:\n%s", c.Name, nm)
		}
		wantSub := "subnet: " + c.Macvlan.Subnet
		if !strings.Contains(nad, wantSub) || !strings.Contains(nad, "name: macvlan-conf") || !strings.Contains(nad, "master: eth0") {
			t.Errorf("%s: NAD render, want %q:\n%s", c.Name, wantSub, nad)
		}
		if !strings.Contains(id, "ip: "+nodeAddr(i)) || !strings.Contains(id, `port: "30000"`) || !strings.Contains(id, "nodeID: random") {
			t.Errorf("%s: identity render:\n%s", c.Name, id)
		}
	}
}

// The stand-in reproduces the real chart's traps, so the checks above are
// meaningful: without enableLocalDiscovery the flag renders <nil>, and a
// string "true" makes `eq` fail.
func TestStandInReproducesChartTraps(t *testing.T) {
	p := plan24(t)
	v, err := FluidosValues(p, p.Clusters[0], "172.30.0.2")
	if err != nil {
		t.Fatal(err)
	}
	unset := topology.DeepMerge(v, nil)
	delete(unset["networkManager"].(map[string]any)["config"].(map[string]any), "enableLocalDiscovery")
	out, err := renderStandIn(t, unset)
	if err == nil && !strings.Contains(out["node/templates/nm.yaml"], "<nil>") {
		t.Errorf("unset enableLocalDiscovery should render <nil> or fail, got:\n%s", out["node/templates/nm.yaml"])
	}
	str := topology.DeepMerge(v, map[string]any{"networkManager": map[string]any{"config": map[string]any{"enableLocalDiscovery": "true"}}})
	if _, err := renderStandIn(t, str); err == nil {
		t.Error(`enableLocalDiscovery "true" (string) should fail eq in the chart`)
	}
	typo := topology.DeepMerge(v, map[string]any{"common": map[string]any{"configMaps": map[string]any{"nodeIdentity": map[string]any{"nodeID": "abc"}}}})
	if _, err := renderStandIn(t, typo); err == nil {
		t.Error("setting nodeID should break rendering (chart typo .Values.commmon)")
	}
}

func TestFluidosImages(t *testing.T) {
	imgs, warns := FluidosImages("0.1.2")
	want := []string{
		"ghcr.io/fluidos-project/local-resource-manager:v0.1.2",
		"ghcr.io/fluidos-project/rear-manager:v0.1.2",
		"ghcr.io/fluidos-project/rear-controller:v0.1.2",
		"ghcr.io/fluidos-project/network-manager:v0.1.2",
		"dtzar/helm-kubectl:latest",
	}
	for i, w := range want {
		if imgs[i] != w {
			t.Errorf("image %d = %s, want %s", i, imgs[i], w)
		}
	}
	for _, img := range imgs[len(want):] {
		if _, tag, err := splitImage(img); err != nil || tag == "latest" {
			t.Errorf("prerequisite image %s not pinned", img)
		}
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "dtzar/helm-kubectl") {
		t.Errorf("warnings = %v", warns)
	}
}
