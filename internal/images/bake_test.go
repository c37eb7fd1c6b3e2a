package images

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestBakedName(t *testing.T) {
	files := map[string]string{"/etc/testbed/p/etcd+strategic.yaml": "spec: {}\n", "/etc/testbed/p/kube-apiserver+strategic.yaml": "spec: {}\n"}
	a := BakedName("testbed.local/kind-node:v1.34.2", "sha256:base", map[string]string{"multus:v4": "sha256:m", "agent:abc": "sha256:a"}, files)
	b := BakedName("testbed.local/kind-node:v1.34.2", "sha256:base", map[string]string{"agent:abc": "sha256:a", "multus:v4": "sha256:m"},
		map[string]string{"/etc/testbed/p/kube-apiserver+strategic.yaml": "spec: {}\n", "/etc/testbed/p/etcd+strategic.yaml": "spec: {}\n"})
	if a != b {
		t.Errorf("name depends on map order: %s vs %s", a, b)
	}
	if !strings.HasPrefix(a, "testbed.local/kind-node:v1.34.2-") || len(a) != len("testbed.local/kind-node:v1.34.2-")+12 {
		t.Errorf("name %q", a)
	}
	for _, changed := range []string{
		BakedName("testbed.local/kind-node:v1.34.2", "sha256:other", map[string]string{"multus:v4": "sha256:m", "agent:abc": "sha256:a"}, files),
		BakedName("testbed.local/kind-node:v1.34.2", "sha256:base", map[string]string{"multus:v4": "sha256:m2", "agent:abc": "sha256:a"}, files),
		BakedName("testbed.local/kind-node:v1.34.2", "sha256:base", map[string]string{"multus:v4": "sha256:m"}, files),
		BakedName("testbed.local/kind-node:v1.34.2", "sha256:base", map[string]string{"multus:v4": "sha256:m", "agent:abc": "sha256:a"}, nil),
		BakedName("testbed.local/kind-node:v1.34.2", "sha256:base", map[string]string{"multus:v4": "sha256:m", "agent:abc": "sha256:a"},
			map[string]string{"/etc/testbed/p/etcd+strategic.yaml": "spec: {x: 1}\n", "/etc/testbed/p/kube-apiserver+strategic.yaml": "spec: {}\n"}),
	} {
		if changed == a {
			t.Errorf("a different image set gave the same name %s", a)
		}
	}
	if got := BakedName("kindest/node@sha256:abc", "sha256:b", nil, nil); !strings.HasPrefix(got, BakedRepo+":node-") {
		t.Errorf("digest base: %s", got)
	}
}

func TestCommitChanges(t *testing.T) {
	info := image.InspectResponse{ID: "sha256:base", Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Entrypoint: []string{"/usr/local/bin/entrypoint", "/sbin/init"}}}}
	got, err := commitChanges(info, "node:v1", map[string]string{"b:1": "sha256:b", "a:1": "sha256:a"}, map[string]string{"/etc/z": "z", "/etc/a": "a"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`ENTRYPOINT ["/usr/local/bin/entrypoint","/sbin/init"]`,
		`CMD []`,
		`LABEL dev.testbed.baked=true`,
		`LABEL dev.testbed.baked.base="node:v1@sha256:base"`,
		`LABEL dev.testbed.baked.images="[\"a:1@sha256:a\",\"b:1@sha256:b\"]"`,
		`LABEL dev.testbed.baked.files="[\"/etc/a\",\"/etc/z\"]"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := commitChanges(image.InspectResponse{}, "node:v1", nil, nil); err == nil {
		t.Error("an image without entrypoint was accepted")
	}
}

// fakeBakeAPI serves ImageList/ImageRemove/ImageInspect for Bake and Prune.
type fakeBakeAPI struct {
	BakeAPI
	images  []image.Summary
	have    map[string]string
	removed []string
	inUse   map[string]bool
}

// ImageList honours the label and reference filters Built uses (a
// reference filter matches the repository of any tag).
func (f *fakeBakeAPI) ImageList(_ context.Context, o image.ListOptions) ([]image.Summary, error) {
	var out []image.Summary
	for _, im := range f.images {
		ok := true
		for _, l := range o.Filters.Get("label") {
			k, v, _ := strings.Cut(l, "=")
			ok = ok && im.Labels[k] == v
		}
		for _, r := range o.Filters.Get("reference") {
			ok = ok && hasRepo(im.RepoTags, r)
		}
		if ok {
			out = append(out, im)
		}
	}
	return out, nil
}

func (f *fakeBakeAPI) ImageRemove(_ context.Context, id string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	if f.inUse[id] {
		return nil, errdefs.Conflict(errors.New("image is being used by running container"))
	}
	f.removed = append(f.removed, id)
	return nil, nil
}

func (f *fakeBakeAPI) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if id, ok := f.have[ref]; ok {
		return image.InspectResponse{ID: id}, nil
	}
	return image.InspectResponse{}, errdefs.NotFound(errors.New("no such image"))
}

func TestPruneOnlyUnusedBuilt(t *testing.T) {
	managed := map[string]string{"dev.testbed.managed": "true"}
	f := &fakeBakeAPI{
		images: []image.Summary{
			{ID: "b1", RepoTags: []string{BakedRepo + ":v1-aaa"}, Labels: map[string]string{LabelBaked: "true"}},
			{ID: "b2", RepoTags: []string{BakedRepo + ":v1-bbb"}, Labels: map[string]string{LabelBaked: "true"}},
			{ID: "b3", RepoTags: []string{BakedRepo + ":v1-ccc"}, Labels: map[string]string{LabelBaked: "true"}},
			{ID: "a1", RepoTags: []string{AgentRepo + ":0123456789ab"}, Labels: managed},
			{ID: "a2", RepoTags: []string{AgentRepo + ":ba9876543210"}, Labels: managed},
			{ID: "a3", RepoTags: []string{AgentRepo + ":someone-else"}, Labels: map[string]string{}},
			{ID: "probe", RepoTags: []string{"testbed.local/hostb-probe:1"}, Labels: managed},
			{ID: "other", RepoTags: []string{"kindest/node:v1"}, Labels: map[string]string{}},
		},
		inUse: map[string]bool{"b2": true},
	}
	removed, err := Prune(context.Background(), f, []string{BakedRepo + ":v1-ccc", AgentRepo + ":ba9876543210"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.removed, ",") != "b1,a1" || strings.Join(removed, ",") != BakedRepo+":v1-aaa,"+AgentRepo+":0123456789ab" {
		t.Errorf("removed %v (%v), want only the unused, unkept images this tool built: b1 and a1", f.removed, removed)
	}
}
