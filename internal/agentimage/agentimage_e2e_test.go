//go:build e2e

package agentimage

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/docker/docker/client"
)

// TestE2EAgentImage builds the image from TESTBED_BIN in the real Docker
// engine and runs `testbed version` from it.
func TestE2EAgentImage(t *testing.T) {
	bin := os.Getenv("TESTBED_BIN")
	if bin == "" {
		t.Skip("TESTBED_BIN is not set (make e2e builds and sets it)")
	}
	dc, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Skipf("no Docker client: %v", err)
	}
	defer dc.Close()
	ctx := context.Background()
	if _, err := dc.Ping(ctx); err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	ref, _, err := Ensure(ctx, dc, bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, loaded, err := Ensure(ctx, dc, bin); err != nil || loaded {
		t.Fatalf("second Ensure: loaded=%v err=%v; want no-op", loaded, err)
	}
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--network", "none", ref, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("docker run %s version: %v: %s", ref, err, out)
	}
	if !strings.Contains(string(out), "testbed") {
		t.Fatalf("unexpected output: %s", out)
	}
	t.Logf("%s runs: %s", ref, strings.SplitN(string(out), "\n", 2)[0])
}
