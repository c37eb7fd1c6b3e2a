package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/store"
)

// TestRunsList: `runs ls` finds campaigns below a directory and tells
// complete, partial, aborted and sweep directories apart; a broken
// manifest is listed as unreadable, not fatal.
func TestRunsList(t *testing.T) {
	root := t.TempDir()
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	write := func(rel string, ended bool, runs []results.Run) {
		t.Helper()
		m := results.Manifest{Campaign: filepath.Base(rel), Kind: "campaign", Started: start, Protocol: "reference-agent",
			Conditions: []results.Condition{{Name: "loss-0", Runs: 2, Warmup: 1}},
			Inputs:     []results.Input{{Role: "scenario", Path: "scenarios/selftest.yaml"}}}
		start = start.Add(time.Hour)
		if ended {
			m.Ended = start
		}
		rec, err := store.Create(filepath.Join(root, rel), m)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if err := rec.Append(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
	}
	run := func(i int, aborted bool) results.Run {
		return results.Run{Condition: "loss-0", Index: i, Warmup: i == 0, Aborted: aborted}
	}
	write("a/complete", true, []results.Run{run(0, false), run(1, false), run(2, false)})
	write("a/partial", false, []results.Run{run(0, false)})
	write("b/aborted", false, []results.Run{run(0, false), run(1, true)})
	if err := os.MkdirAll(filepath.Join(root, "sweep"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "sweep", "manifest.json"), []byte(`{"campaign":"nightly","kind":"sweep","started":"2026-12-02T00:00:00Z"}`), 0o644)
	os.MkdirAll(filepath.Join(root, "broken"), 0o755)
	os.WriteFile(filepath.Join(root, "broken", "manifest.json"), []byte(`{"campaign":`), 0o644)

	out, errOut, code := runCLI(t, "runs", "ls", root)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Compare with runs of blanks collapsed (the table's column widths vary).
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"complete complete 3/3 1 scenarios/selftest.yaml", "partial partial 1/3", "aborted aborted 1/3", "nightly sweep"} {
		if !strings.Contains(flat, want) {
			t.Errorf("listing lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "broken") {
		t.Errorf("the broken manifest is not reported: %q", errOut)
	}
	jout, _, code := runCLI(t, "runs", "ls", root, "-o", "json")
	var list []store.Info
	if err := json.Unmarshal([]byte(jout), &list); err != nil || code != 0 {
		t.Fatalf("json: %v (exit %d)\n%s", err, code, jout)
	}
	states := map[string]string{}
	for _, in := range list {
		states[filepath.Base(in.Dir)] = in.State
		if filepath.Base(in.Dir) == "complete" && (in.Done != 3 || in.Planned != 3) {
			t.Errorf("complete campaign counts %d/%d", in.Done, in.Planned)
		}
	}
	want := map[string]string{"complete": "complete", "partial": "partial", "aborted": "aborted", "sweep": "sweep", "broken": "unreadable"}
	for k, v := range want {
		if states[k] != v {
			t.Errorf("%s: state %q, want %q", k, states[k], v)
		}
	}
}
