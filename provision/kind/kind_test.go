package kind

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/fluidos-lab/testbed/topology"
)

func TestConfig(t *testing.T) {
	c := topology.ClusterPlan{Name: "c1", NodeImage: "testbed.local/kind-node:v1.34.2", PodSubnet: "10.244.0.0/16", ServiceSubnet: "10.96.0.0/16",
		Nodes: []topology.NodePlan{{Name: "c1-control-plane", Role: "control-plane"}, {Name: "c1-worker", Role: "worker"}}}
	cfg := Config(c)
	if cfg.Name != "c1" || len(cfg.Nodes) != 2 || cfg.Nodes[0].Role != v1alpha4.ControlPlaneRole || cfg.Nodes[1].Role != v1alpha4.WorkerRole {
		t.Fatalf("config %+v", cfg)
	}
	for _, n := range cfg.Nodes {
		if n.Image != c.NodeImage {
			t.Errorf("node image %q", n.Image)
		}
	}
	if cfg.Networking.PodSubnet != c.PodSubnet || cfg.Networking.ServiceSubnet != c.ServiceSubnet {
		t.Errorf("networking %+v", cfg.Networking)
	}
	if got := Config(topology.ClusterPlan{Name: "x"}); len(got.Nodes) != 1 {
		t.Errorf("empty plan nodes = %d, want one control plane", len(got.Nodes))
	}
}

func TestLogger(t *testing.T) {
	var b bytes.Buffer
	l := NewLogger(&b, "c1", 1)
	l.Warn("w")
	l.V(1).Infof("info %d", 1)
	l.V(2).Info("hidden")
	if l.V(2).Enabled() || !l.V(0).Enabled() {
		t.Error("verbosity gates")
	}
	out := b.String()
	if !strings.Contains(out, "kind-cluster=c1 WARN w") || !strings.Contains(out, "INFO info 1") || strings.Contains(out, "hidden") {
		t.Errorf("log:\n%s", out)
	}
}

func TestUseNetwork(t *testing.T) {
	t.Setenv(NetworkEnv, "")
	if err := UseNetwork("testbed-lab"); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv(NetworkEnv); got != "testbed-lab" {
		t.Errorf("%s = %q", NetworkEnv, got)
	}
}
