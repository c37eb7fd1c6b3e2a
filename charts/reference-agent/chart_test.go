package referenceagent

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	var files []*loader.BufferedFile
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) == ".go" {
			return err
		}
		data, err := fs.ReadFile(FS(), p)
		files = append(files, &loader.BufferedFile{Name: p, Data: data})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func render(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	c := loadChart(t)
	rv, err := chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{Name: "reference-agent", Namespace: "testbed-agent", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	return engine.Render(c, rv)
}

func testbedValues() map[string]any {
	return map[string]any{"testbed": map[string]any{
		"topology": "ci-3", "cluster": "ci-02", "clusterIndex": 2, "nodeAddress": "172.31.0.3",
		"agentImage": "testbed.local/reference-agent:0123456789ab",
		"macvlan":    map[string]any{"nad": "macvlan-conf", "interface": "eth1", "address": "10.101.2.101", "subnet": "10.101.2.0/24"},
	}}
}

func TestChartRenders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		extra    map[string]any
		wantKind string
		wantArgs []string
		noArgs   []string
	}{
		{
			name: "daemonset default", wantKind: "DaemonSet",
			wantArgs: []string{"agent", "--cluster=ci-02", "--interface=eth1", "--group-address=239.11.11.2", "--port=4001", "--group=default", "--interval=5s", "--ttl=10s", "--housekeeping=20s", "--namespace=testbed-agent", "--metrics-address=:9464"},
			noArgs:   []string{"--first-delay"},
		},
		{
			name:     "deployment with tenants and immediate first announcement",
			extra:    map[string]any{"kind": "Deployment", "agent": map[string]any{"groups": []any{"tenant-a", "tenant-b"}, "firstDelay": "0s", "interval": "1s"}},
			wantKind: "Deployment",
			wantArgs: []string{"--group=tenant-a", "--group=tenant-b", "--first-delay=0s", "--interval=1s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vals := testbedValues()
			for k, v := range tc.extra {
				vals[k] = v
			}
			out, err := render(t, vals)
			if err != nil {
				t.Fatal(err)
			}
			var ds appsv1.DaemonSet // same shape for the fields checked
			if err := yaml.Unmarshal([]byte(out["reference-agent/templates/workload.yaml"]), &ds); err != nil {
				t.Fatal(err)
			}
			if ds.Kind != tc.wantKind {
				t.Fatalf("kind = %q, want %q", ds.Kind, tc.wantKind)
			}
			if got := ds.Spec.Template.Annotations["k8s.v1.cni.cncf.io/networks"]; got != "macvlan-conf@eth1" {
				t.Fatalf("multus annotation = %q", got)
			}
			ctr := ds.Spec.Template.Spec.Containers[0]
			if ctr.Image != "testbed.local/reference-agent:0123456789ab" || ctr.ImagePullPolicy != "IfNotPresent" {
				t.Fatalf("image %q pull %q", ctr.Image, ctr.ImagePullPolicy)
			}
			args := strings.Join(ctr.Args, " ")
			for _, a := range tc.wantArgs {
				if !strings.Contains(" "+args+" ", " "+a+" ") {
					t.Errorf("args %q lack %q", args, a)
				}
			}
			for _, a := range tc.noArgs {
				if strings.Contains(args, a) {
					t.Errorf("args %q contain %q", args, a)
				}
			}
			if !strings.Contains(out["reference-agent/templates/rbac.yaml"], "peers") {
				t.Error("RBAC does not grant peers")
			}
		})
	}
}

func TestChartRejects(t *testing.T) {
	t.Parallel()
	noCluster := testbedValues()
	noCluster["testbed"].(map[string]any)["cluster"] = ""
	badKind := testbedValues()
	badKind["kind"] = "StatefulSet"
	for name, vals := range map[string]map[string]any{"no cluster": noCluster, "bad kind": badKind} {
		t.Run(name, func(t *testing.T) {
			if _, err := render(t, vals); err == nil {
				t.Fatal("render succeeded")
			}
		})
	}
}

func TestChartShipsCRD(t *testing.T) {
	t.Parallel()
	c := loadChart(t)
	if c.Metadata.Version != Version {
		t.Fatalf("Chart.yaml version %s, Version const %s", c.Metadata.Version, Version)
	}
	crds := c.CRDObjects()
	if len(crds) != 1 || !strings.Contains(string(crds[0].File.Data), "name: peers.agent.testbed.dev") {
		t.Fatalf("CRDs = %v", crds)
	}
}
