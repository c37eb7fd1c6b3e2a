//go:build e2e

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// e2eBinary returns the testbed binary under test. Outside CI a missing
// prerequisite skips the test with a clear message; in CI (CI=true) the e2e
// tier must run, so it fails instead.
func e2eBinary(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("e2e prerequisite missing in CI: "+format, args...)
		}
		t.Skipf("skipping e2e: "+format, args...)
	}
	bin := os.Getenv("TESTBED_BIN")
	if bin == "" {
		missing("TESTBED_BIN is not set (run `make e2e`)")
	}
	if _, err := os.Stat(bin); err != nil {
		missing("TESTBED_BIN %s: %v", bin, err)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		missing("no docker client on PATH")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		missing("Docker engine not reachable: %v", err)
	}
	if os.Getenv("TESTBED_NODE_IMAGE") == "" {
		missing("TESTBED_NODE_IMAGE is not set (a KinD node image present locally)")
	}
	return bin
}

// repoRoot is the module root (tests run in cmd/testbed).
func repoRoot(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
