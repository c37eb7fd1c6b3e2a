package helm

import (
	"os"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// TestRealFluidosChartRenders renders the real FLUIDOS node chart (a local
// checkout of fluidos-project/node deployments/node, or its packaged .tgz)
// with the generated values of all 24 clusters. The chart cannot be fetched
// here, so the test runs only when FLUIDOS_CHART is set.
func TestRealFluidosChartRenders(t *testing.T) {
	path := os.Getenv("FLUIDOS_CHART")
	if path == "" {
		t.Skip("set FLUIDOS_CHART to a FLUIDOS node chart directory or .tgz to render it with the generated values")
	}
	ch, err := loader.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p := plan24(t)
	preload, _ := FluidosImages(p.Fluidos.Version)
	known := map[string]bool{}
	for _, img := range preload {
		known[img] = true
	}
	for i, c := range p.Clusters {
		v, err := FluidosValues(p, c, nodeAddr(i))
		if err != nil {
			t.Fatal(err)
		}
		v, err = normalizeValues(v)
		if err != nil {
			t.Fatal(err)
		}
		rv, err := chartutil.ToRenderValues(ch, v, chartutil.ReleaseOptions{Name: FluidosRelease, Namespace: FluidosNamespace, IsInstall: true}, chartutil.DefaultCapabilities)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		out, err := engine.Render(ch, rv)
		if err != nil {
			t.Fatalf("%s: render: %v", c.Name, err)
		}
		var nm, nad, id string
		for name, doc := range out {
			switch {
			case strings.HasSuffix(name, "fluidos-network-manager-daemonset.yaml"):
				nm = doc
			case strings.HasSuffix(name, "fluidos-pre-install-hook-network.yaml"):
				nad = doc
			case strings.HasSuffix(name, "fluidos-node-identity-configmap.yaml"):
				id = doc
			}
			if strings.Contains(doc, "<nil>") {
				t.Errorf("%s: %s renders <nil>", c.Name, name)
			}
			for _, line := range strings.Split(doc, "\n") {
				f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "- "))
				if len(f) == 2 && f[0] == "image:" && !known[strings.Trim(f[1], `"`)] {
					t.Errorf("%s: %s uses image %s, which is not in FluidosImages (not preloaded)", c.Name, name, f[1])
				}
			}
		}
		for _, want := range []string{
			"name: node-network-manager",
			"--enable-local-discovery=true",
			"--cniInterface=eth1",
			"image: ghcr.io/fluidos-project/network-manager:v0.1.2",
			"value: 239.11.11.1:4000",
			"k8s.v1.cni.cncf.io/networks: macvlan-conf@eth1",
			"kubernetes.io/hostname: " + c.Name + "-control-plane",
		} {
			if !strings.Contains(nm, want) {
				t.Errorf("%s: network-manager DaemonSet lacks %q", c.Name, want)
			}
		}
		if !strings.Contains(nad, `"subnet": "`+c.Macvlan.Subnet+`"`) || !strings.Contains(nad, `"master": "eth0"`) || !strings.Contains(nad, "name: macvlan-conf") {
			t.Errorf("%s: NAD:\n%s", c.Name, nad)
		}
		if !strings.Contains(id, "ip: "+nodeAddr(i)) || !strings.Contains(id, `port: "30000"`) || !strings.Contains(id, "name: fluidos-node-identity") {
			t.Errorf("%s: identity ConfigMap:\n%s", c.Name, id)
		}
		if i == 0 {
			t.Logf("%s network-manager DaemonSet:\n%s", c.Name, nm)
		}
	}
}
