package kind

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	kindlog "sigs.k8s.io/kind/pkg/log"

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

type fakeProvider struct {
	calls    []string
	failures int // Create fails this many times
}

func (f *fakeProvider) Create(name string, _ ...cluster.CreateOption) error {
	f.calls = append(f.calls, "create "+name)
	if f.failures > 0 {
		f.failures--
		return errors.New("kubeadm init failed")
	}
	return nil
}

func (f *fakeProvider) Delete(name, kc string) error {
	f.calls = append(f.calls, "delete "+name+" "+filepath.Base(kc))
	return nil
}

func (f *fakeProvider) List() ([]string, error) { return nil, nil }

func (f *fakeProvider) ExportKubeConfig(string, string, bool) error { return nil }

func (f *fakeProvider) CollectLogs(name, dir string) error {
	f.calls = append(f.calls, "logs "+name+" "+filepath.Base(dir))
	return nil
}

func TestCreateRetries(t *testing.T) {
	tests := []struct {
		name     string
		failures int
		retries  int
		cancel   bool
		strays   [][]int // what each look for stray docker runs finds; then none
		// strayForever repeats strays' last entry for ever.
		strayForever bool
		want         []string
		wantErr      string
	}{
		{name: "first attempt", want: []string{"create c1"}},
		{name: "waits for a killed create's docker run, then deletes the node it made", strays: [][]int{{9}, {9}, {9}},
			want: []string{"delete c1 c1", "create c1"}},
		{name: "a killed create's docker run that never ends", strays: [][]int{{9}}, strayForever: true,
			wantErr: "docker run (pid [9]) of a killed create still runs after 1ms; wait for it or kill it"},
		{name: "retry after collecting logs and deleting the partial cluster", failures: 1, retries: 1,
			want: []string{"create c1", "logs c1 attempt-1", "delete c1 c1", "create c1"}},
		{name: "out of retries", failures: 2, retries: 1,
			want:    []string{"create c1", "logs c1 attempt-1", "delete c1 c1", "create c1", "logs c1 attempt-2", "delete c1 c1"},
			wantErr: "attempt 2: kubeadm init failed"},
		{name: "cancelled before the first attempt", cancel: true, wantErr: "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fp := &fakeProvider{failures: tt.failures}
			looks := 0
			k := &Kind{newProvider: func(kindlog.Logger) provider { return fp }, strayPoll: time.Millisecond, strayLimit: time.Minute,
				strays: func(cluster string) ([]int, error) {
					if cluster != "c1" {
						t.Errorf("looked for stray runs of %q", cluster)
					}
					if looks++; looks <= len(tt.strays) {
						return tt.strays[looks-1], nil
					}
					if tt.strayForever {
						return tt.strays[len(tt.strays)-1], nil
					}
					return nil, nil
				}}
			if tt.strayForever {
				k.strayLimit = time.Millisecond
			}
			c := topology.ClusterPlan{Name: "c1", Kubeconfig: filepath.Join(dir, "kubeconfig", "c1"), LogDir: filepath.Join(dir, "logs", "c1")}
			if err := os.MkdirAll(filepath.Dir(c.Kubeconfig), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(c.Kubeconfig, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			err := k.Create(ctx, c, tt.retries)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), `cluster "c1"`)) {
				t.Fatalf("err = %v, want %q naming the cluster", err, tt.wantErr)
			}
			if strings.Join(fp.calls, "|") != strings.Join(tt.want, "|") {
				t.Errorf("calls = %q, want %q", fp.calls, tt.want)
			}
			if err == nil {
				if st, _ := os.Stat(c.Kubeconfig); st.Mode().Perm() != 0o600 {
					t.Errorf("kubeconfig mode %v, want 0600", st.Mode().Perm())
				}
			}
			if _, err := os.Stat(filepath.Join(c.LogDir, "kind.log")); err != nil {
				t.Errorf("no kind.log: %v", err)
			}
		})
	}
}
