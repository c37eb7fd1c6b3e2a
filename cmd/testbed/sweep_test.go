package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios/sweep"
)

// writeSweepDir writes a sweep directory with synthetic cell campaigns.
func writeSweepDir(t *testing.T, sizes ...int) string {
	t.Helper()
	dir := t.TempDir()
	st := sweep.State{Name: "cli", SHA256: "x", Strategy: sweep.StrategySubset}
	for _, n := range sizes {
		c := sweep.Cell{Protocol: "reference-agent", Clusters: n}
		syn := stats.Synthesize(stats.SynthOptions{Campaign: "cli", Seed: uint64(n), Peers: n - 1, Runs: 8,
			LossPcts: []float64{0, 20}, IntervalMS: 5000, StartupMS: 1000})
		rec, err := store.Create(c.Dir(dir), syn.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range syn.Runs {
			if err := rec.Append(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
		rec.Close()
		rel, _ := filepath.Rel(dir, c.Dir(dir))
		st.Cells = append(st.Cells, sweep.CellState{Cell: c, Dir: rel, Status: sweep.StatusComplete})
	}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, sweep.FileState), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSweepCommands(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: testbed.dev/v1alpha1\nkind: Sweep\nmetadata: {name: x}\nscenario: s.yaml\nclusters: [1]\nconditions: [{loss: 5}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, "sweep", bad)
	if code != 2 || !strings.Contains(errOut, "bad.yaml:5:12: clusters[0]: cluster count is 1, must be between 2 and 256") {
		t.Errorf("invalid sweep: code %d stderr %q", code, errOut)
	}

	base, cand := writeSweepDir(t, 2, 3), writeSweepDir(t, 2)
	out, errOut, code := runCLI(t, "sweep", "report", base, "-o", "json")
	if code != 0 {
		t.Fatalf("sweep report: code %d: %s", code, errOut)
	}
	var rep sweep.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Points) != 4 {
		t.Fatalf("sweep report -o json: %v, %d points", err, len(rep.Points))
	}
	if _, err := os.Stat(filepath.Join(base, "report", "report.md")); err != nil {
		t.Error(err)
	}
	th := filepath.Join(t.TempDir(), "th.yaml")
	if err := os.WriteFile(th, []byte("apiVersion: testbed.dev/v1alpha1\nkind: Thresholds\nrules:\n  - metric: allPeers\n    stat: median\n    maxRegressionPct: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, "sweep", "compare", base, base, "--thresholds", th); code != 0 {
		t.Errorf("sweep compared with itself: code %d: %s", code, errOut)
	}
	out, errOut, code = runCLI(t, "sweep", "compare", base, cand, "--thresholds", th)
	if code != exitBreach || !strings.Contains(errOut+out, "reference-agent/3-clusters (baseline only)") {
		t.Errorf("candidate lacking a cell: code %d\n%s\n%s", code, out, errOut)
	}
	if _, _, code := runCLI(t, "rerun", "a", "b"); code == 0 {
		t.Error("rerun accepted two directories")
	}
}
