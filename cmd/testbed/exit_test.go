package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/fluidos-lab/testbed/internal/preflight"
	"github.com/fluidos-lab/testbed/provision"
)

// TestExitCodes pins the documented exit codes across commands: 0 ok, 1
// error, 2 bad input, 3 threshold or regression breach, 4 doctor found a
// blocking problem, 130 interrupted.
func TestExitCodes(t *testing.T) {
	t.Setenv("TESTBED_STATE_DIR", t.TempDir())
	base := writeSynthCampaign(t, "base", 0, 1)
	slow := writeSynthCampaign(t, "slow", 2000, 2)
	rules := filepath.Join(t.TempDir(), "thresholds.yaml")
	if err := os.WriteFile(rules, []byte("apiVersion: testbed.dev/v1alpha1\nkind: Thresholds\nrules:\n  - metric: median\n    maxRegressionPct: 5\n    alpha: 0.01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"ok", []string{"version"}, exitOK},
		{"error: no campaign there", []string{"report", filepath.Join(t.TempDir(), "missing")}, exitFailed},
		{"bad input: invalid file", []string{"validate", topologyDir + "/testdata/invalid-tabs.yaml"}, exitBadInput},
		{"bad input: unknown flag", []string{"plan", "--bogus", topologyDir + "/2-nodes.yaml"}, exitBadInput},
		{"bad input: unknown command", []string{"nope"}, exitBadInput},
		{"bad input: missing argument", []string{"up"}, exitBadInput},
		{"bad input: output format", []string{"plan", topologyDir + "/2-nodes.yaml", "-o", "xml"}, exitBadInput},
		{"bad input: run with both", []string{"run", "a.yaml", "--resume", "dir"}, exitBadInput},
		{"bad input: invalid scenario", []string{"run", "testdata/invalid-scenario.yaml"}, exitBadInput},
		{"breach", []string{"compare", base, slow, "--thresholds", rules}, exitBreach},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, stderr, code := runCLI(t, tc.args...); code != tc.want {
				t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.want, stderr)
			}
		})
	}
	failing := doctorDeps{
		host:   func() preflight.Host { return fixtureHost(30 << 20) },
		docker: func() (preflight.DockerAPI, error) { return nil, errors.New("Cannot connect to the Docker daemon") },
	}
	if _, _, code := runDoctor(t, failing); code != exitDoctor {
		t.Errorf("doctor with a failing check: exit %d, want %d", code, exitDoctor)
	}
	for _, err := range []error{context.Canceled, fmt.Errorf("up: %w", provision.ErrInterrupted), errors.New("anything")} {
		if got := exitCodeOf(err, err.Error() == "anything"); got != exitInterrupted {
			t.Errorf("exitCodeOf(%v) = %d, want %d", err, got, exitInterrupted)
		}
	}
}
