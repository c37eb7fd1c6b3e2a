//go:build e2e

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios/sweep"
)

// TestE2ESweep runs scenarios/sweep/ci-2x2.yaml (2 and 3 clusters × 0 and
// 20 % loss, 5 runs per cell and condition, strategy subset) on the CI lab
// the earlier e2e tests leave up, kills the sweep with SIGKILL during its
// second cell, resumes it to completion, checks the report, then reruns the
// 2-cluster cell and expects compare to find no significant difference.
// TESTBED_E2E_SWEEP replaces the sweep file (same matrix on another lab).
func TestE2ESweep(t *testing.T) {
	bin := e2eBinary(t)
	root := repoRoot(t)
	file := os.Getenv("TESTBED_E2E_SWEEP")
	if file == "" {
		if os.Getenv("TESTBED_E2E_TOPOLOGY") != "" {
			t.Skip("TESTBED_E2E_TOPOLOGY is set but the ci-2x2 sweep runs on topology/ci-3-nodes.yaml; set TESTBED_E2E_SWEEP too")
		}
		file = filepath.Join(root, "scenarios", "sweep", "ci-2x2.yaml")
	}
	s, err := sweep.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sweep")
	cell2 := sweep.Cell{Protocol: "reference-agent", Clusters: 2}
	cell3 := sweep.Cell{Protocol: "reference-agent", Clusters: 3}

	// 1. Start the sweep and SIGKILL it once the second cell has recorded a run.
	start := time.Now()
	killedAt := killDuring(t, bin, root, 15*time.Minute, " run 2/5:", cell3,
		"sweep", file, "--output", out)
	t.Logf("MEASURED: sweep killed after %s, in cell %s", killedAt.Round(time.Second), cell3)
	st, err := sweep.ReadState(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Cells[0].Status != sweep.StatusComplete || st.Cells[1].Status != sweep.StatusPartial {
		t.Fatalf("after the kill: %+v", st.Cells)
	}
	partial, err := store.Read(cell3.Dir(out))
	if err != nil {
		t.Fatal(err)
	}
	before := len(partial.Runs)

	// 2. Resume to completion.
	o, d, err := testbedRun(t, bin, 15*time.Minute, "sweep", file, "--output", out)
	if err != nil {
		t.Fatalf("resumed sweep: %v", err)
	}
	t.Logf("MEASURED: resumed sweep took %s; whole sweep wall time %s", d.Round(time.Second), time.Since(start).Round(time.Second))
	if !strings.Contains(o, "cell reference-agent/2-clusters: complete, skipped") || !strings.Contains(o, "cell reference-agent/3-clusters: resuming") {
		t.Errorf("resume did not skip cell 2 and resume cell 3")
	}
	for _, c := range []sweep.Cell{cell2, cell3} {
		camp, err := store.Read(c.Dir(out))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, r := range camp.Runs {
			seen[r.Condition]++
		}
		for _, cond := range s.Conditions {
			if seen[cond.Name] < 5 {
				t.Errorf("cell %s condition %s: %d runs recorded, want 5", c, cond.Name, seen[cond.Name])
			}
		}
		if c == cell3 && len(camp.Runs) <= before {
			t.Errorf("cell 3 did not continue: %d runs before, %d after", before, len(camp.Runs))
		}
		if camp.Manifest.Ended.IsZero() || camp.Manifest.Software.Docker == "" || camp.Manifest.Lab.NodeImageDigest == "" ||
			len(camp.Manifest.Lab.Charts) == 0 || len(camp.Manifest.Lab.Images) == 0 || camp.Manifest.Lab.CNIPlugins == "" || camp.Manifest.Host.Kernel == "" {
			t.Errorf("cell %s manifest incomplete: software %+v host %+v lab %+v", c, camp.Manifest.Software, camp.Manifest.Host, camp.Manifest.Lab)
		}
		if want := c.Clusters - 1; len(camp.Manifest.Peers) != want {
			t.Errorf("cell %s: peers %v, want %d", c, camp.Manifest.Peers, want)
		}
		t.Logf("MEASURED: cell %s manifest warnings: %v", c, camp.Manifest.Warnings)
	}
	var rep sweep.Report
	b, err := os.ReadFile(filepath.Join(out, sweep.DirReport, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report/summary.json: %v", err)
	}
	if len(rep.Points) != 4 {
		t.Errorf("report points = %d, want 4", len(rep.Points))
	}
	for _, p := range rep.Points {
		t.Logf("MEASURED: %s %s: all peers median %.0f ms p90 %.0f ms, responsiveness %.2f (%d runs)", p.Cell, p.Condition, p.AllPeers.Median, p.AllPeers.P90, p.Responsiveness, p.Runs)
	}
	for _, f := range []string{"report/report.md", "report/summary.json", "report/sweep-reference-agent-allPeers.svg", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	// The sweep compared against itself passes any regression threshold.
	th := filepath.Join(t.TempDir(), "thresholds.yaml")
	if err := os.WriteFile(th, []byte("apiVersion: testbed.dev/v1alpha1\nkind: Thresholds\nrules:\n  - metric: allPeers\n    stat: median\n    maxRegressionPct: 50\n    alpha: 0.05\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := testbedRun(t, bin, time.Minute, "sweep", "compare", out, out, "--thresholds", th); err != nil {
		t.Errorf("sweep compare against itself: %v", err)
	}

	// 3. Rerun the 2-cluster cell on the same lab and compare.
	rdir := filepath.Join(t.TempDir(), "rerun")
	o, d, err = testbedRun(t, bin, 10*time.Minute, "rerun", cell2.Dir(out), "--output", rdir)
	t.Logf("MEASURED: rerun of %s took %s", cell2, d.Round(time.Second))
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if !strings.Contains(o, "compare: no significant difference") {
		t.Errorf("rerun compare found a significant difference")
	}
	if _, err := os.Stat(filepath.Join(rdir, sweep.FileCompare)); err != nil {
		t.Error(err)
	}
}

// killDuring starts the binary, watches its output for a line containing
// marker after the cell's start line, SIGKILLs it and returns when it ended.
func killDuring(t *testing.T, bin, dir string, timeout time.Duration, marker string, cell sweep.Cell, args ...string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	pr, pw := io.Pipe()
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(pw, &log), io.MultiWriter(pw, &log)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	sc := bufio.NewScanner(pr)
	inCell, killed := false, false
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "cell "+cell.String()+": running") {
			inCell = true
		}
		if inCell && !killed && strings.Contains(l, marker) {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err := <-done
	d := time.Since(start)
	t.Logf("killed sweep output:\n%s", log.String())
	if !killed {
		t.Fatalf("the sweep ended (%v) before reaching %q in cell %s", err, marker, cell)
	}
	return d
}
