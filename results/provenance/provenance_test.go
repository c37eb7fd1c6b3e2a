package provenance

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"testing/fstest"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestReadHost(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		want func(t *testing.T, kernel, cgroup, model string, cpus, mem int)
	}{
		{
			name: "cgroup v2 host",
			fs: fstest.MapFS{
				"proc/sys/kernel/osrelease":        {Data: []byte("6.1.0-28-amd64\n")},
				"sys/fs/cgroup/cgroup.controllers": {Data: []byte("cpu memory\n")},
				"proc/cpuinfo":                     {Data: []byte("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n")},
				"proc/meminfo":                     {Data: []byte("MemTotal:       24576000 kB\nMemFree: 1 kB\n")},
			},
			want: func(t *testing.T, kernel, cgroup, model string, cpus, mem int) {
				if kernel != "6.1.0-28-amd64" || cgroup != "v2" || model != "AMD EPYC 7B13" || cpus != 2 || mem != 24000 {
					t.Errorf("got kernel=%q cgroup=%q model=%q cpus=%d mem=%d", kernel, cgroup, model, cpus, mem)
				}
			},
		},
		{
			name: "cgroup v1 host without cpuinfo",
			fs: fstest.MapFS{
				"sys/fs/cgroup/memory/x": {Data: []byte("1")},
			},
			want: func(t *testing.T, kernel, cgroup, model string, cpus, mem int) {
				if kernel != "" || cgroup != "v1" || model != "" || mem != 0 || cpus < 1 {
					t.Errorf("got kernel=%q cgroup=%q model=%q cpus=%d mem=%d", kernel, cgroup, model, cpus, mem)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ReadHost(tt.fs)
			tt.want(t, h.Kernel, h.CgroupMode, h.CPUModel, h.CPUs, h.MemoryMiB)
		})
	}
}

func TestSoftwareFrom(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Settings:  []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}},
		Deps: []*debug.Module{
			{Path: "sigs.k8s.io/kind", Version: "v0.33.0"},
			{Path: "helm.sh/helm/v3", Version: "v3.19.5"},
			{Path: "k8s.io/client-go", Version: "v0.34.2", Replace: &debug.Module{Path: "k8s.io/client-go", Version: "v0.34.3"}},
		},
	}
	s := softwareFrom("v1.2.3", bi)
	if s.Tool != "v1.2.3" || s.Commit != "abc123" || s.Go != "go1.26.8" || s.Kind != "v0.33.0" || s.Helm != "v3.19.5" || s.ClientGo != "v0.34.3" {
		t.Errorf("softwareFrom = %+v", s)
	}
	if s := softwareFrom("dev", nil); s.Tool != "dev" || s.Go == "" {
		t.Errorf("without build info: %+v", s)
	}
}

func TestReadInput(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(p, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := ReadInput("topology", p)
	if err != nil {
		t.Fatal(err)
	}
	// sha256("abc")
	if in.SHA256 != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || in.Content != "abc" || in.Role != "topology" {
		t.Errorf("ReadInput = %+v", in)
	}
	if _, err := ReadInput("scenario", filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "scenario") {
		t.Errorf("missing file error = %v", err)
	}
}

func pod(ns, name string, statuses ...corev1.ContainerStatus) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Status: corev1.PodStatus{ContainerStatuses: statuses}}
}

const (
	dA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestReadImages(t *testing.T) {
	c1 := fake.NewClientset(
		pod("kube-system", "multus", corev1.ContainerStatus{Image: "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2", ImageID: "ghcr.io/k8snetworkplumbingwg/multus-cni@" + dA}),
		pod("testbed-agent", "agent", corev1.ContainerStatus{Image: "testbed.local/reference-agent:0123456789ab", ImageID: dB}),
		pod("default", "pending", corev1.ContainerStatus{Image: "x:1", ImageID: ""}),
	)
	c2 := fake.NewClientset(
		pod("kube-system", "multus", corev1.ContainerStatus{Image: "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2", ImageID: "docker-pullable://ghcr.io/k8snetworkplumbingwg/multus-cni@" + dB}),
	)
	images, warnings, err := ReadImages(context.Background(), []Cluster{{"node-01", c1}, {"node-02", c2}})
	if err != nil {
		t.Fatal(err)
	}
	if images["ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2"] != dA || images["testbed.local/reference-agent:0123456789ab"] != dB || len(images) != 2 {
		t.Errorf("images = %v", images)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "node-02") {
		t.Errorf("warnings = %v", warnings)
	}
}

func TestDigest(t *testing.T) {
	tests := map[string]string{
		"docker.io/library/busybox@" + dA: dA,
		dB:                                dB,
		"sha256:short":                    "",
		"":                                "",
	}
	for in, want := range tests {
		if got := Digest(in); got != want {
			t.Errorf("Digest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPinWarnings(t *testing.T) {
	tests := []struct {
		ref  string
		want string // substring; "" = no warning
	}{
		{"ghcr.io/x/y:v1.0.0@" + dA, ""},
		{"dtzar/helm-kubectl:latest", "moving tag"},
		{"localhost:5000/img", "no tag"},
		{"ghcr.io/fluidos-project/network-manager:v0.1.2", "tag only"},
	}
	for _, tt := range tests {
		got := PinWarnings([]string{tt.ref})
		if tt.want == "" {
			if len(got) != 0 {
				t.Errorf("PinWarnings(%s) = %v, want none", tt.ref, got)
			}
			continue
		}
		if len(got) != 1 || !strings.Contains(got[0], tt.want) {
			t.Errorf("PinWarnings(%s) = %v, want %q", tt.ref, got, tt.want)
		}
	}
}
