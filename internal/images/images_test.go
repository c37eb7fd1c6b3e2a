package images

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                             "docker.io/library/busybox:latest",
		"busybox:1.36":                        "docker.io/library/busybox:1.36",
		"dtzar/helm-kubectl:latest":           "docker.io/dtzar/helm-kubectl:latest",
		"ghcr.io/k8snetworkplumbingwg/m:v4":   "ghcr.io/k8snetworkplumbingwg/m:v4",
		"testbed.local/reference-agent:abc":   "testbed.local/reference-agent:abc",
		"localhost:5000/x":                    "localhost:5000/x:latest",
		"registry.k8s.io/pause@sha256:abcdef": "registry.k8s.io/pause@sha256:abcdef",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSnapshotter(t *testing.T) {
	v2 := "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"runc\"\n  snapshotter = \"overlayfs\"\n[plugins.x]\n  snapshotter = \"wrong\"\n"
	v3 := "version = 3\n[plugins.\"io.containerd.cri.v1.images\"]\n  snapshotter = \"native\"\n"
	for cfg, want := range map[string]string{v2: "overlayfs", v3: "native"} {
		got, err := ParseSnapshotter(cfg)
		if err != nil || got != want {
			t.Errorf("ParseSnapshotter = %q %v, want %q", got, err, want)
		}
	}
	if _, err := ParseSnapshotter("version = 2\n"); err == nil {
		t.Error("no snapshotter accepted")
	}
}

type fakeHost struct {
	have   map[string]bool
	pulled []string
}

func (f *fakeHost) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if f.have[ref] {
		return image.InspectResponse{ID: ref}, nil
	}
	return image.InspectResponse{}, errdefs.NotFound(errors.New("no such image"))
}

func (f *fakeHost) ImagePull(_ context.Context, ref string, _ image.PullOptions) (io.ReadCloser, error) {
	f.pulled = append(f.pulled, ref)
	f.have[ref] = true
	return io.NopCloser(strings.NewReader("{}")), nil
}

func (f *fakeHost) ImageSave(context.Context, []string, ...client.ImageSaveOption) (io.ReadCloser, error) {
	return nil, errors.New("unused")
}

func TestEnsureHost(t *testing.T) {
	refs := Unique([]string{"b:1", "a:1", ""}, []string{"a:1", "c:1"})
	if strings.Join(refs, " ") != "a:1 b:1 c:1" {
		t.Fatalf("Unique = %v", refs)
	}
	f := &fakeHost{have: map[string]bool{"a:1": true}}
	_, err := EnsureHost(context.Background(), f, refs, true)
	var me *MissingError
	if !errors.As(err, &me) || strings.Join(me.Refs, " ") != "b:1 c:1" || len(f.pulled) != 0 {
		t.Fatalf("offline: err=%v pulled=%v, want both missing listed and nothing pulled", err, f.pulled)
	}
	pulled, err := EnsureHost(context.Background(), f, refs, false)
	if err != nil || strings.Join(pulled, " ") != "b:1 c:1" {
		t.Fatalf("online: %v %v", pulled, err)
	}
	pulled, err = EnsureHost(context.Background(), f, refs, false)
	if err != nil || len(pulled) != 0 {
		t.Errorf("second ensure pulled %v %v", pulled, err)
	}
}
