package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

// runResultsCLI runs the root command in-process and returns stdout,
// stderr, the exit code main would use and the error.
func runResultsCLI(t *testing.T, args ...string) (string, string, int, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), exitCodeOf(err, false), err
}

// writeSynthCampaign writes a synthetic campaign into a new directory.
func writeSynthCampaign(t *testing.T, name string, shiftMS float64, seed uint64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	c := stats.Synthesize(stats.SynthOptions{Campaign: name, Seed: seed, Peers: 3, Runs: 60, Warmup: 1,
		LossPcts: []float64{0, 10}, IntervalMS: 5000, StartupMS: 900, StartupJitterMS: 100, ShiftMS: shiftMS})
	rec, err := store.Create(dir, c.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Runs {
		if err := rec.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReportCommand(t *testing.T) {
	dir := writeSynthCampaign(t, "base", 0, 1)
	out, _, _, err := runResultsCLI(t, "report", dir, "--no-png", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got reportOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("report -o json: %v\n%s", err, out)
	}
	if len(got.Summary) != 2 || got.Summary[0].Runs != 60 || got.Files.HTML != filepath.Join(dir, "report.html") {
		t.Fatalf("report output: %+v", got)
	}
	for _, p := range append([]string{got.Files.HTML, got.Files.Summary}, got.Files.Plots...) {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if _, _, _, err := runResultsCLI(t, "report", filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("report on a missing campaign: %v", err)
	}
}

func TestExportCommand(t *testing.T) {
	dir := writeSynthCampaign(t, "base", 0, 1)
	out, _, _, err := runResultsCLI(t, "export", dir)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// 2 conditions × 61 runs × 3 peers, plus the header.
	if len(recs) != 1+2*61*3 || recs[0][0] != "campaign" {
		t.Fatalf("csv: %d records, header %v", len(recs), recs[0])
	}
	out, _, _, err = runResultsCLI(t, "export", dir, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []store.ExportRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2*61*3 {
		t.Fatalf("json export: %d rows, %v", len(rows), err)
	}
	if _, _, _, err := runResultsCLI(t, "export", dir, "-o", "yaml"); err == nil {
		t.Error("export -o yaml accepted")
	}
}

func TestCompareCommand(t *testing.T) {
	base := writeSynthCampaign(t, "base", 0, 1)
	same := writeSynthCampaign(t, "same", 0, 2)
	slow := writeSynthCampaign(t, "slow", 2000, 2)
	rules := filepath.Join(t.TempDir(), "thresholds.yaml")
	if err := os.WriteFile(rules, []byte("apiVersion: testbed.dev/v1alpha1\nkind: Thresholds\nrules:\n  - metric: median\n    maxRegressionPct: 5\n    alpha: 0.01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"identical passes", []string{"compare", base, same, "--thresholds", rules}, 0, []string{"no change", "0 breach(es)"}},
		{"shifted breaches", []string{"compare", base, slow, "--thresholds", rules}, exitBreach, []string{"regression", "BREACH (rule line 4)"}},
		{"shifted without thresholds exits 0", []string{"compare", base, slow}, 0, []string{"regression"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, code, err := runResultsCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit code %d (%v), want %d\n%s", code, err, tc.code, out)
			}
			for _, c := range tc.contains {
				if !strings.Contains(out, c) {
					t.Errorf("output lacks %q:\n%s", c, out)
				}
			}
		})
	}
	out, _, code, _ := runResultsCLI(t, "compare", base, slow, "--thresholds", rules, "-o", "json")
	var got struct {
		Rows     []compare.Row    `json:"rows"`
		Breaches []compare.Breach `json:"breaches"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != exitBreach || len(got.Breaches) == 0 || len(got.Rows) != 2*(3+3) {
		t.Fatalf("compare -o json: code %d, %d rows, %d breaches, %v", code, len(got.Rows), len(got.Breaches), err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: testbed.dev/v1alpha1\nkind: Thresholds\nrules:\n  - metric: allPeers\n    stat: p90\n    limit: 3s\n"), 0o644)
	if _, _, _, err := runResultsCLI(t, "compare", base, same, "--thresholds", bad); err == nil || !strings.Contains(err.Error(), "bad.yaml:6:5: rules[0].limit: unknown field \"limit\"") {
		t.Errorf("bad thresholds: %v", err)
	}
}

// TestCompareRefusesBadOptions: NaN, infinite or out-of-range --alpha and
// --bootstrap are bad input (exit 2) with the valid range, never a panic
// and never a silent default.
func TestCompareRefusesBadOptions(t *testing.T) {
	base := writeSynthCampaign(t, "base", 0, 1)
	for _, args := range [][]string{{"--alpha", "NaN"}, {"--alpha", "+Inf"}, {"--alpha", "1.5"}, {"--alpha", "0"}, {"--bootstrap", "1000000000"}, {"--bootstrap", "-1"}} {
		_, _, code, err := runResultsCLI(t, append([]string{"compare", base, base}, args...)...)
		if code != exitBadInput || err == nil || !(strings.Contains(err.Error(), "out of range") || strings.Contains(err.Error(), "strictly between 0 and 1")) {
			t.Errorf("compare %v: exit %d, %v; want 2 and the valid range", args, code, err)
		}
	}
}

// TestReportRefusesBadRunsShown: --runs-shown outside 1..stats.MaxCurves
// is bad input (exit 2) naming the range, before anything is read or
// written; 0 and negative counts silently became 10.
func TestReportRefusesBadRunsShown(t *testing.T) {
	camp := writeSynthCampaign(t, "base", 0, 1)
	for _, n := range []string{"-1", "0", "2049"} {
		_, _, code, err := runResultsCLI(t, "report", camp, "--no-png", "--runs-shown", n)
		if code != exitBadInput || err == nil || !strings.Contains(err.Error(), "--runs-shown "+n+" is out of range: give 1 to 2048") {
			t.Errorf("--runs-shown %s: exit %d, %v; want 2 and the range", n, code, err)
		}
	}
	if _, err := os.Stat(filepath.Join(camp, "report.html")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused report wrote report.html: %v", err)
	}
	for _, n := range []string{"1", "2048"} {
		if _, _, code, err := runResultsCLI(t, "report", camp, "--no-png", "--runs-shown", n); code != 0 {
			t.Errorf("--runs-shown %s: exit %d, %v", n, code, err)
		}
	}
}
