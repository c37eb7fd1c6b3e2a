package topology

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fluidos-lab/testbed/internal/yamlfile/fuzzseed"
)

// FuzzLoad: no input may panic the loader, validator or planner, and every
// rejection must be a located ErrorList.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	shipped, _ := filepath.Glob("*.yaml")
	for _, s := range append(seeds, shipped...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: testbed.dev/v1alpha1\nkind: Topology\nmetadata: &a {name: x}\nclusters: *a\n"))
	for _, s := range fuzzseed.Seeds("apiVersion: testbed.dev/v1alpha1\nkind: Topology\nmetadata:\n  name: lab\nclusters:\n  count: 2\nfluidos:\n  enabled: true\n") {
		f.Add(s)
	}
	f.Add([]byte("apiVersion: testbed.dev/v1alpha1\nkind: Topology\nmetadata: {name: x}\nclusters: {count: 2, namePattern: '%s%d%v'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		top, err := Parse("fuzz.yaml", data, WithEnvironment(testEnv))
		if err != nil {
			list, ok := AsErrorList(err)
			if !ok || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
			}
			for _, e := range list {
				if e.Line < 1 || e.Column < 1 {
					t.Fatalf("unlocated error: %#v", e)
				}
			}
			return
		}
		p, err := top.Plan()
		if err != nil {
			t.Fatalf("valid topology failed to plan: %v", err)
		}
		if len(p.Clusters) == 0 {
			t.Fatal("valid topology with no clusters")
		}
	})
}
