package compare

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/internal/yamlfile/fuzzseed"
)

// FuzzParseThresholds: no input panics the thresholds loader, every
// rejection is a located ErrorList, and nothing accepted can fail open (no
// rules, or a rule without a limit).
func FuzzParseThresholds(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "thresholds.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	for _, s := range fuzzseed.Seeds(string(b)) {
		f.Add(s)
	}
	f.Add([]byte("- metric: allPeers\n  stat: p90\n  max: 3s\n"))
	f.Add([]byte(thresholdsHeader + "  - stat: median\n    maxRegressionPct: .nan\n    alpha: .inf\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseThresholds("fuzz.yaml", data)
		if err != nil {
			list, ok := yamlfile.AsErrorList(err)
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
		if len(rules) == 0 {
			t.Fatal("accepted a thresholds file with no rules")
		}
		for _, r := range rules {
			if r.Max == nil && r.MaxRegressionPct == nil {
				t.Fatalf("accepted a rule without a limit: %+v", r)
			}
		}
	})
}
