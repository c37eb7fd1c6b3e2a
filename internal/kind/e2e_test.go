//go:build e2e

package kind

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestE2EDeleteWaitsForStrayRun plays what a SIGKILLed up leaves behind: a
// docker CLI that will create a node of the cluster a moment later (here a
// shell named docker that sleeps, then runs `docker create` of the node
// image). Delete must wait for it and remove the node it made; a delete
// that did not wait found nothing and left the node to collide with the
// next create. It needs Docker and TESTBED_NODE_IMAGE (the offline env).
func TestE2EDeleteWaitsForStrayRun(t *testing.T) {
	image := os.Getenv("TESTBED_NODE_IMAGE")
	if image == "" {
		skipOrFail(t, "e2e: TESTBED_NODE_IMAGE must be set (source the offline env)")
	}
	if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
		skipOrFail(t, "e2e: docker or the node image "+image+" is not there: "+err.Error())
	}
	const cluster = "tb-stray-e2e"
	label := clusterLabel + "=" + cluster
	nodes := func() string {
		out, err := exec.Command("docker", "ps", "-aq", "--filter", "label="+label).Output()
		if err != nil {
			t.Fatalf("docker ps: %v", err)
		}
		return string(bytes.TrimSpace(out))
	}
	removeNodes := func() {
		if ids := nodes(); ids != "" {
			_ = exec.Command("sh", "-c", "docker rm -f -v "+ids).Run()
		}
	}
	removeNodes()
	t.Cleanup(removeNodes)

	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	stray := &exec.Cmd{Path: sh, Args: []string{"docker", "-c", `sleep 1.5; exec docker create --name "$1" --label "$2" "$3" >/dev/null`,
		"run", cluster + "-control-plane", label, image}}
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stray.Wait() }()

	if err := (&Kind{}).Delete(cluster, filepath.Join(t.TempDir(), "kubeconfig")); err != nil {
		t.Fatalf("delete: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the stray docker create failed: %v", err)
		}
	default:
		t.Errorf("delete returned while the stray docker run still ran")
		if err := <-done; err != nil {
			t.Fatalf("the stray docker create failed: %v", err)
		}
	}
	if ids := nodes(); ids != "" {
		t.Errorf("delete left the node the stray run made: %s", ids)
	}
}

// skipOrFail skips, or fails under CI (CI=true), where the e2e tier must run.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
