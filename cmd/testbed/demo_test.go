package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/scenarios"
)

// TestDemoFiles: the demo's embedded lab and campaign are valid and agree
// (the scenario's topology and node A resolve), and a second demo into the
// same directory is refused instead of overwriting the first one's files.
func TestDemoFiles(t *testing.T) {
	dir := t.TempDir()
	topo, scen, err := writeDemoFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, plan, err := loadTopologyPlan(topo); err != nil || len(plan.Clusters) != 3 {
		t.Fatalf("demo topology: %v", err)
	}
	s, err := scenarios.Load(scen)
	if err != nil {
		t.Fatalf("demo scenario: %v", err)
	}
	if errs := scenarios.CheckReferences(s); len(errs) > 0 {
		t.Fatalf("demo scenario references: %v", errs)
	}
	if len(s.Conditions) != 2 || s.TopologyFile != filepath.Join(dir, "topology.yaml") {
		t.Errorf("demo scenario: %d conditions, topology %s", len(s.Conditions), s.TopologyFile)
	}
	before, _ := os.ReadFile(topo)
	if _, _, err := writeDemoFiles(dir); err == nil || exitCodeOf(err, false) != exitBadInput {
		t.Errorf("second demo into %s: %v, want a bad-input refusal", dir, err)
	}
	if after, _ := os.ReadFile(topo); string(after) != string(before) {
		t.Error("the first demo's topology was overwritten")
	}
}

func TestDemoETA(t *testing.T) {
	steps := []demoStep{{expected: 100 * time.Second}, {expected: 50 * time.Second}}
	cases := []struct {
		name          string
		left          []demoStep
		done, elapsed time.Duration
		want          time.Duration
	}{
		{"nothing done yet: the expectation", steps, 0, 0, 150 * time.Second},
		{"twice as slow so far", steps[1:], 100 * time.Second, 200 * time.Second, 100 * time.Second},
		{"faster so far", steps[1:], 100 * time.Second, 50 * time.Second, 25 * time.Second},
	}
	for _, tc := range cases {
		if got := demoETA(tc.left, tc.done, tc.elapsed); got != tc.want {
			t.Errorf("%s: ETA %s, want %s", tc.name, got, tc.want)
		}
	}
}
