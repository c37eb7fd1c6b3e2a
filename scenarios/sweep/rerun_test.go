package sweep

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/topology"
)

type fakeStore map[string]image.InspectResponse

func (f fakeStore) ImageInspect(_ context.Context, ref string) (image.InspectResponse, error) {
	ii, ok := f[ref]
	if !ok {
		return image.InspectResponse{}, errors.New("No such image: " + ref)
	}
	return ii, nil
}

const (
	dNode  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	dOther = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	dMult  = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
)

// sweptCell runs the test sweep and stamps the 2-cluster cell's manifest
// with what a real lab would have recorded.
func sweptCell(t *testing.T) (string, results.Manifest) {
	t.Helper()
	s := loadTestSweep(t, nil)
	if _, err := newSweeper(&fakeLab{}, &fakeWorkloads{}, &fakeRunner{}).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	dir := Cell{"reference-agent", 2}.Dir(s.Output)
	camp, err := store.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := camp.Manifest
	m.Software = results.Software{Tool: "v0.1.0", Commit: "abc", Go: "go1.26.8", Kind: "v0.33.0", Helm: "v3.19.5", Docker: "20.10.24"}
	m.Host = results.Host{Kernel: "6.1.0", CgroupMode: "v2", CPUModel: "EPYC", CPUs: 2, MemoryMiB: 8000}
	m.Lab.NodeImage = "kindest/node:v1.34.0"
	m.Lab.NodeImageDigest = dNode
	m.Lab.Images = map[string]string{"ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2": dMult, "testbed.local/reference-agent:0123456789ab": dOther,
		"registry.k8s.io/kube-proxy:v1.34.0": dOther}
	m.Warnings = []string{"image dtzar/helm-kubectl:latest uses the moving tag \"latest\": pin a version and a digest"}
	if err := store.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func TestPlanRerun(t *testing.T) {
	dir, m := sweptCell(t)
	same := RerunOptions{Software: m.Software, Host: m.Host, AgentImage: "testbed.local/reference-agent:0123456789ab"}
	tests := []struct {
		name      string
		store     fakeStore
		opts      RerunOptions
		nodeImage string
		want      []string // substrings of differences, in order
	}{
		{
			name: "registry digest present: exact apart from the original's own missing pin",
			store: fakeStore{
				"kindest/node@" + dNode:                          {ID: dOther, RepoDigests: []string{"kindest/node@" + dNode}},
				"ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2": {ID: dMult},
			},
			opts:      same,
			nodeImage: "kindest/node@" + dNode,
			want:      []string{`original run: image dtzar/helm-kubectl:latest uses the moving tag`},
		},
		{
			name:      "local image ID still behind the tag",
			store:     fakeStore{"kindest/node:v1.34.0": {ID: dNode}, "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2": {ID: dMult}},
			opts:      same,
			nodeImage: "kindest/node:v1.34.0",
			want:      []string{"original run: image dtzar"},
		},
		{
			name:  "everything moved",
			store: fakeStore{"kindest/node:v1.34.0": {ID: dOther}, "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2": {ID: dOther}},
			opts: RerunOptions{Software: results.Software{Tool: "v0.2.0", Commit: "def", Go: "go1.26.8", Kind: "v0.33.0", Helm: "v3.19.5", Docker: "24.0.0"},
				Host: results.Host{Kernel: "6.8.0", CgroupMode: "v2", CPUModel: "EPYC", CPUs: 64, MemoryMiB: 8000}, AgentImage: "testbed.local/reference-agent:fedcba987654"},
			want: []string{
				"testbed version was v0.1.0, now v0.2.0", "testbed commit was abc, now def", "Docker engine was 20.10.24, now 24.0.0",
				"kernel was 6.1.0, now 6.8.0", "CPU count was 2, now 64",
				"node image kindest/node:v1.34.0 now is " + dOther,
				"reference agent image was testbed.local/reference-agent:0123456789ab, this binary provisions testbed.local/reference-agent:fedcba987654",
				"original run: image dtzar",
			},
		},
		{
			name:  "node image gone",
			store: fakeStore{},
			opts:  same,
			want:  []string{"node image kindest/node:v1.34.0 (" + dNode + ") is no longer on this host", "original run"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanRerun(context.Background(), dir, tt.store, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.NodeImage != tt.nodeImage {
				t.Errorf("node image = %q, want %q", p.NodeImage, tt.nodeImage)
			}
			if len(p.Differences) != len(tt.want) {
				t.Fatalf("differences:\n%s", strings.Join(p.Differences, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(p.Differences[i], w) {
					t.Errorf("difference %d = %q, want %q", i, p.Differences[i], w)
				}
			}
			top, err := topology.Parse("t.yaml", p.TopologyDoc)
			if err != nil {
				t.Fatal(err)
			}
			if tt.nodeImage != "" && top.Clusters.NodeImage != tt.nodeImage {
				t.Errorf("topology node image = %q", top.Clusters.NodeImage)
			}
			if !reflect.DeepEqual(p.Clusters, []string{"ct-01", "ct-02"}) {
				t.Errorf("clusters = %v", p.Clusters)
			}
		})
	}
}

func TestRerunReproducesTheCell(t *testing.T) {
	dir, m := sweptCell(t)
	p, err := PlanRerun(context.Background(), dir, fakeStore{"kindest/node:v1.34.0": {ID: dNode}}, RerunOptions{Software: m.Software, Host: m.Host})
	if err != nil {
		t.Fatal(err)
	}
	lab, wl, rn := &fakeLab{}, &fakeWorkloads{}, &fakeRunner{}
	rr := &Rerunner{Lab: lab, Workloads: wl, Runner: rn, Collector: &fakeCollector{}}
	out := filepath.Join(t.TempDir(), "rerun")
	res, err := rr.Run(context.Background(), p, out, true, compare.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lab.calls, []labCall{{"down", 3}, {"up", 3}}) {
		t.Errorf("lab calls = %v", lab.calls)
	}
	if len(rn.calls) != 1 || !reflect.DeepEqual(rn.calls[0].Clusters, []string{"ct-01", "ct-02"}) || rn.calls[0].Scenario.NodeA != "ct-01" {
		t.Fatalf("runner calls = %+v", rn.calls)
	}
	if !reflect.DeepEqual(wl.calls[0], setCall{"reference-agent", []string{"ct-01", "ct-02"}, []string{"ct-03"}}) {
		t.Errorf("workloads = %+v", wl.calls)
	}
	if len(res.Significant) != 0 || len(res.Comparison.Rows) == 0 {
		t.Errorf("significant = %v rows %d", res.Significant, len(res.Comparison.Rows))
	}
	for _, f := range []string{FileCompare, FileCellScenario, FileCellTopology, store.FileManifest} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	camp, err := store.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(camp.Runs) != 10 || len(camp.Manifest.Warnings) == 0 || !strings.Contains(camp.Manifest.Warnings[0], "not exact") {
		t.Errorf("rerun campaign: %d runs, warnings %v", len(camp.Runs), camp.Manifest.Warnings)
	}
}

func TestLabDifferences(t *testing.T) {
	was := results.Lab{NodeImageDigest: dNode, Charts: map[string]string{"multus": "4.2.2", "reference-agent": "0.1.0"},
		Images: map[string]string{"m:v1": dMult, "k:v1": dNode, "testbed.local/reference-agent:aaa": dOther}, Multus: "v4.2.2", CNIPlugins: "v1.6.2"}
	if d := LabDifferences(was, was); len(d) != 0 {
		t.Errorf("identical labs differ: %v", d)
	}
	now := results.Lab{NodeImageDigest: dOther, Charts: map[string]string{"multus": "4.2.3", "extra": "1"},
		Images: map[string]string{"m:v1": dOther, "n:v1": dNode, "testbed.local/reference-agent:bbb": dOther}, Multus: "v4.2.2", CNIPlugins: "v1.7.0"}
	want := []string{
		"node image ran as " + dNode + ", now as " + dOther,
		"chart multus was 4.2.2, now 4.2.3",
		"chart reference-agent 0.1.0 is no longer installed",
		"chart extra 1 is installed now but was not",
		"image k:v1 no longer runs",
		"image m:v1 ran as " + dMult + ", now as " + dOther,
		"image n:v1 runs now but did not in the original",
		"CNI plugins were v1.6.2, now v1.7.0",
	}
	got := LabDifferences(was, now)
	if len(got) != len(want) {
		t.Fatalf("differences:\n%s", strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasSuffix(got[i], w) || !strings.HasPrefix(got[i], "read back: ") {
			t.Errorf("difference %d = %q, want %q", i, got[i], w)
		}
	}
}
