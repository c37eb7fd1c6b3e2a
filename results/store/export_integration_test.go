//go:build integration

package store_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

// TestIntegrationExportLoadsInPandas loads the CSV export with pandas and
// checks that numpy's default (linear, type 7) quantiles match ours.
func TestIntegrationExportLoadsInPandas(t *testing.T) {
	// The first python3 that can import pandas: Debian's python3-pandas
	// lives in /usr/bin/python3, which a pyenv shim may shadow on PATH.
	py := ""
	for _, cand := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(cand)
		if err == nil && exec.Command(p, "-c", "import pandas").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		msg := "no python3 with pandas (Debian: apt-get install -y python3-pandas)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c := stats.Synthesize(stats.SynthOptions{Seed: 4, Peers: 5, Runs: 37, Warmup: 2, LossPcts: []float64{0, 30},
		IntervalMS: 5000, StartupMS: 900, TimeoutMS: 20000})
	csvPath := filepath.Join(t.TempDir(), "runs.csv")
	var b bytes.Buffer
	if err := store.WriteCSV(&b, store.ExportRows(c)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(csvPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, pandas as pd
d = pd.read_csv(sys.argv[1])
d = d[~d.warmup & ~d.aborted]
for cond, g in d.groupby("condition", sort=False):
    first = g.groupby("run").discoveredMS.min()
    print(cond, len(g), repr(g.discoveredMS.quantile(0.9)), repr(first.quantile(0.25)), int(g.discoveredMS.isna().sum()))
`
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", script, csvPath).CombinedOutput()
	if err != nil {
		t.Fatalf("pandas: %v\n%s", err, out)
	}
	s := stats.Analyze(c)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(s.Conditions) {
		t.Fatalf("pandas saw %d conditions: %s", len(lines), out)
	}
	for i, l := range lines {
		f := strings.Fields(l)
		cs := s.Conditions[i]
		rows, _ := strconv.Atoi(f[1])
		p90, _ := strconv.ParseFloat(f[2], 64)
		first25, _ := strconv.ParseFloat(f[3], 64)
		missing, _ := strconv.Atoi(f[4])
		if f[0] != cs.Name || rows != cs.Runs*cs.Peers || missing != cs.MissingPeers ||
			math.Abs(p90-cs.AnyPeer.P90) > 1e-6 || math.Abs(first25-cs.FirstPeer.P25) > 1e-6 {
			t.Errorf("pandas %q vs ours: %s rows=%d p90=%v first p25=%v missing=%d", l, cs.Name, cs.Runs*cs.Peers, cs.AnyPeer.P90, cs.FirstPeer.P25, cs.MissingPeers)
		}
	}
}
