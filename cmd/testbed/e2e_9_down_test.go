//go:build e2e

package main

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestE2EDown removes the CI lab and checks nothing of it remains; in CI it
// then runs `down --all` and checks that no container or network with this
// tool's labels is left at all.
func TestE2EDown(t *testing.T) {
	bin := e2eBinary(t)
	file := e2eTopology(t)
	plan := e2ePlan(t, file)
	_, d, err := testbedRun(t, bin, 10*time.Minute, "down", file)
	if err != nil {
		t.Fatalf("down: %v", err)
	}
	t.Logf("MEASURED: %d-cluster down: %s", len(plan.Clusters), d.Round(time.Millisecond))
	assertNoLabDocker(t, plan)
	// A second down finds nothing and succeeds.
	if _, _, err := testbedRun(t, bin, 2*time.Minute, "down", file); err != nil {
		t.Errorf("second down: %v", err)
	}
	if os.Getenv("CI") != "true" {
		return // other labs may share this engine outside CI
	}
	if _, _, err := testbedRun(t, bin, 10*time.Minute, "down", "--all"); err != nil {
		t.Fatalf("down --all: %v", err)
	}
	for _, args := range [][]string{
		{"ps", "-aq", "--filter", "label=dev.testbed.managed=true"},
		{"network", "ls", "-q", "--filter", "label=dev.testbed.managed=true"},
	} {
		b, err := exec.Command("docker", args...).Output()
		if err != nil || len(bytes.TrimSpace(b)) > 0 {
			t.Errorf("docker %v: left %q %v", args, b, err)
		}
	}
	// After up, the multicast check, a selftest, campaigns, a sweep, the
	// fault cases (run SIGKILLed and resumed, a peer paused, a full disk)
	// and down --all: Docker exactly as before the lab.
	if before, ok := dockerBefore(t); ok {
		if d := before.diff(dockerObjects(t)); d != "" {
			t.Errorf("FAULT lab-down-after-faults: Docker differs from before the CI lab:\n%s", d)
		} else {
			t.Log("FAULT lab-down-after-faults: Docker's containers, networks and volumes exactly as before the CI lab")
		}
	}
}
