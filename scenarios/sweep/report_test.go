package sweep

import (
	"context"
	"encoding/json"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

// runTestSweep runs the test sweep into a fresh directory nested two levels
// inside a scratch root, so that escapes upwards stay observable in root.
func runTestSweep(t *testing.T) (root string, s *Sweep) {
	t.Helper()
	s = loadTestSweep(t, nil)
	root = t.TempDir()
	s.Output = filepath.Join(root, "a", "b", "sweep")
	if _, err := newSweeper(&fakeLab{}, &fakeWorkloads{}, &fakeRunner{}).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return root, s
}

// editState rewrites the sweep's sweep.json.
func editState(t *testing.T, dir string, edit func(*State)) {
	t.Helper()
	st, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	edit(st)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileState), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// filesOutside lists regular files under root that are not under inside.
func filesOutside(t *testing.T, root, inside string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && p == inside {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestWriteReportConfinesNamesFromSweepJSON(t *testing.T) {
	tests := []struct {
		name, protocol, want string
	}{
		{"parent escape", "../../evil", `"../../evil" cannot name a report file: it contains a path separator`},
		{"deep escape", "../../../../../evil", "path separator"},
		{"dot dot only", "..", `it contains ".."`},
		{"subdirectory", "a/b", "path separator"},
		{"backslash", `..\evil`, "path separator"},
		{"NUL", "evil\x00", "NUL"},
		{"hidden", ".evil", "starts with a dot"},
		{"over-long", strings.Repeat("p", MaxFileComponent+1), "longer than 64 bytes"},
		{"space", "two words", `contains ' '`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, s := runTestSweep(t)
			editState(t, s.Output, func(st *State) { st.Cells[0].Protocol = tc.protocol })
			before := filesOutside(t, root, filepath.Join(s.Output, DirReport))
			_, err := WriteReport(context.Background(), s.Output)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WriteReport: %v, want an error containing %q", err, tc.want)
			}
			if after := filesOutside(t, root, filepath.Join(s.Output, DirReport)); len(after) != len(before) {
				t.Errorf("files written outside %s/: %v", DirReport, after[len(before):])
			}
		})
	}
}

func TestWriteReportStaysInReportDirectory(t *testing.T) {
	t.Run("report is a symlink out of the sweep", func(t *testing.T) {
		_, s := runTestSweep(t)
		elsewhere := t.TempDir()
		report := filepath.Join(s.Output, DirReport)
		if err := os.RemoveAll(report); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, report); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteReport(context.Background(), s.Output); err == nil {
			t.Error("WriteReport followed a symlink out of the sweep directory")
		}
		if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
			t.Errorf("written through the symlink: %v", ents)
		}
	})
	t.Run("a planted symlink is replaced, not followed", func(t *testing.T) {
		_, s := runTestSweep(t)
		target := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		report := filepath.Join(s.Output, DirReport)
		if err := os.MkdirAll(report, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(report, "report.md"))
		if err := os.Symlink(target, filepath.Join(report, "report.md")); err != nil {
			t.Fatal(err)
		}
		rep, err := WriteReport(context.Background(), s.Output)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(target); string(b) != "keep" {
			t.Errorf("the symlink's target was overwritten: %q", b)
		}
		if fi, err := os.Lstat(filepath.Join(report, "report.md")); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("report.md: %v %v", fi, err)
		}
		for _, f := range rep.Files {
			if !strings.HasPrefix(f, DirReport+string(filepath.Separator)) {
				t.Errorf("file %s outside %s/", f, DirReport)
			}
		}
	})
	t.Run("a cell directory outside the sweep is refused", func(t *testing.T) {
		_, s := runTestSweep(t)
		editState(t, s.Output, func(st *State) { st.Cells[0].Dir = "../../../elsewhere" })
		if _, err := WriteReport(context.Background(), s.Output); err == nil || !strings.Contains(err.Error(), "not inside the sweep directory") {
			t.Errorf("WriteReport: %v", err)
		}
	})
	t.Run("valid protocols still work", func(t *testing.T) {
		_, s := runTestSweep(t)
		rep, err := WriteReport(context.Background(), s.Output)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Files) == 0 || len(rep.Points) == 0 {
			t.Fatalf("report: %+v", rep)
		}
		for _, f := range rep.Files {
			if _, err := os.Stat(filepath.Join(s.Output, f)); err != nil {
				t.Error(err)
			}
		}
		ents, _ := os.ReadDir(filepath.Join(s.Output, DirReport))
		for _, e := range ents {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temp file left: %s", e.Name())
			}
		}
	})
}

func TestCheckFileComponent(t *testing.T) {
	for _, ok := range []string{"reference-agent", "fluidos_v2", "p.1", strings.Repeat("p", MaxFileComponent)} {
		if err := checkFileComponent("protocol", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a..b", "/abs", "a/b", `a\b`, "a\x00", ".a", "é", "a b", strings.Repeat("p", MaxFileComponent+1)} {
		if err := checkFileComponent("protocol", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCompareSweepsStreams(t *testing.T) {
	_, base := runTestSweep(t)
	_, same := runTestSweep(t)
	rules, err := compare.ParseThresholds("t.yaml", []byte("apiVersion: testbed.dev/v1alpha1\nkind: Thresholds\nrules:\n  - metric: allPeers\n    stat: median\n    maxRegressionPct: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	cmp, err := CompareSweeps(t.Context(), base.Output, same.Output, compare.Options{Seed: 1}, rules)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.Cells) != 2 || cmp.Breaches() != 0 || len(cmp.Unmatched) != 0 {
		t.Errorf("identical sweeps: cells %d breaches %d unmatched %v", len(cmp.Cells), cmp.Breaches(), cmp.Unmatched)
	}
	// Options fail closed.
	for _, o := range []compare.Options{{Alpha: math.NaN()}, {Alpha: 1.5}, {Bootstrap: 1_000_000_000}, {Bootstrap: -1}} {
		if _, err := CompareSweeps(t.Context(), base.Output, same.Output, o, rules); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	// A campaign with a duplicated run is refused by every reader.
	st, err := ReadState(base.Output)
	if err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(base.Output, st.Cells[0].Dir, store.FileRuns)
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if err := os.WriteFile(runs, append(b, []byte(first+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CompareSweeps(t.Context(), base.Output, same.Output, compare.Options{Seed: 1}, rules); err == nil || !strings.Contains(err.Error(), "recorded twice") {
		t.Errorf("duplicate run: %v", err)
	}
	if _, err := WriteReport(context.Background(), base.Output); err == nil || !strings.Contains(err.Error(), "recorded twice") {
		t.Errorf("duplicate run in the report: %v", err)
	}
}

func TestPointsCarryWireRates(t *testing.T) {
	for _, wire := range []bool{false, true} {
		camp := stats.Synthesize(stats.SynthOptions{Seed: 1, Peers: 3, Runs: 5, LossPcts: []float64{0}, IntervalMS: 5000, StartupMS: 900, TimeoutMS: 40000, Wire: wire})
		pts := Points(Cell{Protocol: "reference-agent", Clusters: 4}, camp)
		if len(pts) != 1 {
			t.Fatalf("%d points", len(pts))
		}
		p := pts[0]
		md := Markdown(&Report{Sweep: "s", Points: pts})
		if !wire {
			if p.AnnouncementsPerSec != nil || !strings.Contains(md, "| - | - | - |") {
				t.Errorf("no capture: rates %v, table\n%s", p.AnnouncementsPerSec, md)
			}
			continue
		}
		// Synthesize: one 120-byte announcement per 5 s period per sender.
		if p.AnnouncementsPerSec == nil || math.Abs(*p.AnnouncementsPerSec-0.2) > 1e-9 || math.Abs(*p.BytesPerSec-24) > 1e-9 {
			t.Fatalf("rates %v %v", p.AnnouncementsPerSec, p.BytesPerSec)
		}
		if !strings.Contains(md, "| 0.200 | 24.0 | 96 |") {
			t.Errorf("table lacks the rates (per sender, whole lab of 4):\n%s", md)
		}
	}
}
