package provenance

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/topology"
)

type fakeDocker struct {
	images     map[string]string // container -> image ID
	repoDigest map[string][]string
}

func (f *fakeDocker) ServerVersion(context.Context) (types.Version, error) {
	return types.Version{Version: "20.10.24", APIVersion: "1.41"}, nil
}
func (f *fakeDocker) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	img, ok := f.images[id]
	if !ok {
		return container.InspectResponse{}, errors.New("no such container")
	}
	return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{Image: img},
		Config: &container.Config{Image: "kindest/node:v1.34.0"}}, nil
}
func (f *fakeDocker) ImageInspect(_ context.Context, ref string) (image.InspectResponse, error) {
	return image.InspectResponse{ID: ref, RepoDigests: f.repoDigest[ref]}, nil
}

type fakeHelm map[string][]Release

func (f fakeHelm) Releases(_ context.Context, kubeconfig string) ([]Release, error) {
	r, ok := f[kubeconfig]
	if !ok {
		return nil, errors.New("unreachable")
	}
	return r, nil
}

type fakeExec struct{ out string }

func (f fakeExec) Exec(_ context.Context, node string, cmd []string, _ io.Reader) ([]byte, []byte, error) {
	if cmd[0] != "/opt/cni/bin/macvlan" {
		return nil, nil, errors.New("unexpected command " + strings.Join(cmd, " "))
	}
	return nil, []byte(f.out), errors.New("exit status 1")
}

func testPlan() *topology.Plan {
	p := &topology.Plan{Name: "lab", CNIPlugins: topology.CNIPlan{Version: "v1.6.2", Plugins: []string{"macvlan", "host-local"}}}
	for _, n := range []string{"c1", "c2", "c3"} {
		p.Clusters = append(p.Clusters, topology.ClusterPlan{Name: n, Kubeconfig: "/kc/" + n,
			Nodes: []topology.NodePlan{{Name: n + "-control-plane", Role: "control-plane"}}})
	}
	return p
}

func TestCollect(t *testing.T) {
	idNode := "sha256:" + strings.Repeat("c", 64)
	tests := []struct {
		name  string
		src   func() Sources
		check func(t *testing.T, m results.Manifest)
	}{
		{
			name: "everything read back",
			src: func() Sources {
				kube := map[string]kubernetes.Interface{
					"c1": fake.NewClientset(pod("kube-system", "multus", corev1.ContainerStatus{Image: "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2", ImageID: "x@" + dA})),
					"c2": fake.NewClientset(pod("testbed-agent", "a", corev1.ContainerStatus{Image: "testbed.local/reference-agent:latest", ImageID: dB})),
				}
				return Sources{ToolVersion: "v0.1.0", Root: fstest.MapFS{"proc/sys/kernel/osrelease": {Data: []byte("6.1.0\n")}},
					Docker: &fakeDocker{images: map[string]string{"c1-control-plane": idNode, "c2-control-plane": idNode},
						repoDigest: map[string][]string{idNode: {"kindest/node@" + dA}}},
					Helm: fakeHelm{"/kc/c1": {{Name: "multus", Chart: "multus", Version: "4.2.2", Status: "deployed"}},
						"/kc/c2": {{Name: "reference-agent", Chart: "reference-agent", Version: "0.1.0", Status: "deployed"}}},
					Exec: fakeExec{out: "CNI macvlan plugin v1.6.2\nCNI protocol versions supported: 0.1.0\n"},
					Kube: func(c topology.ClusterPlan) (kubernetes.Interface, error) { return kube[c.Name], nil },
					Now:  func() time.Time { return time.Unix(100, 0) },
				}
			},
			check: func(t *testing.T, m results.Manifest) {
				if m.Software.Tool != "v0.1.0" || m.Software.Docker != "20.10.24 (API 1.41)" || m.Host.Kernel != "6.1.0" || !m.Started.Equal(time.Unix(100, 0)) {
					t.Errorf("software/host/start = %+v %+v %v", m.Software, m.Host, m.Started)
				}
				if m.Lab.NodeImage != "kindest/node:v1.34.0" || m.Lab.NodeImageDigest != dA {
					t.Errorf("node image = %s %s", m.Lab.NodeImage, m.Lab.NodeImageDigest)
				}
				if m.Lab.Charts["multus"] != "4.2.2" || m.Lab.Charts["reference-agent"] != "0.1.0" || m.Lab.Multus != "v4.2.2" || m.Lab.CNIPlugins != "v1.6.2" {
					t.Errorf("lab = %+v", m.Lab)
				}
				if len(m.Lab.Images) != 2 || len(m.Lab.Clusters) != 2 {
					t.Errorf("images %v clusters %v", m.Lab.Images, m.Lab.Clusters)
				}
				joined := strings.Join(m.Warnings, "\n")
				if !strings.Contains(joined, `moving tag "latest"`) || !strings.Contains(joined, "multus-cni:v4.2.2 is pinned by tag only") {
					t.Errorf("warnings = %v", m.Warnings)
				}
				if len(m.Inputs) != 1 || m.Inputs[0].Role != "sweep" {
					t.Errorf("inputs = %+v", m.Inputs)
				}
			},
		},
		{
			name: "sources missing or failing become warnings",
			src: func() Sources {
				return Sources{ToolVersion: "dev",
					Docker: &fakeDocker{images: map[string]string{"c1-control-plane": idNode}},
					Helm:   fakeHelm{},
					Exec:   fakeExec{out: "exec failed: no such file"},
				}
			},
			check: func(t *testing.T, m results.Manifest) {
				if m.Lab.NodeImageDigest != idNode {
					t.Errorf("node image digest = %q, want the local ID", m.Lab.NodeImageDigest)
				}
				joined := strings.Join(m.Warnings, "\n")
				for _, w := range []string{"no registry digest", `cluster "c2": node image not read`, `cluster "c1": Helm releases not read`,
					"container image digests not recorded", "multus version not found", "CNI plugins version not read back"} {
					if !strings.Contains(joined, w) {
						t.Errorf("warnings lack %q:\n%s", w, joined)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Collector{Sources: tt.src(), Kind: "campaign"}
			m, err := c.Collect(context.Background(), testPlan(), []string{"c1", "c2"}, []results.Input{{Role: "sweep", Path: "s.yaml", SHA256: "x", Content: "y"}})
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != "campaign" || m.Lab.Topology != "lab" {
				t.Errorf("kind %q topology %q", m.Kind, m.Lab.Topology)
			}
			tt.check(t, m)
		})
	}
}
