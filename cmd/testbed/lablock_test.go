//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/internal/lablock"
	"github.com/fluidos-lab/testbed/topology"
)

// A lab that another process holds (a campaign in flight) is refused by
// selftest before it touches anything, naming the holder; released, the
// same command goes on to the lab (here it finds no Docker engine or
// cluster, which is a different error).
func TestSelftestRefusesAHeldLab(t *testing.T) {
	root := t.TempDir()
	t.Setenv(topology.EnvStateDir, root)
	file := filepath.Join(root, "lab.yaml")
	src, err := os.ReadFile(filepath.Join("..", "..", "topology", "2-nodes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, "two-nodes")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	held, err := lablock.Acquire("two-nodes", state, lablock.Holder{Command: "testbed run scenarios/two.yaml", PID: 99, Campaign: "/r/c", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	run := func() error {
		var out, errOut bytes.Buffer
		cmd := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
		cmd.SetArgs([]string{"selftest", file, "--skip-install", "--timeout", "1s"})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return cmd.ExecuteContext(ctx)
	}
	err = run()
	if err == nil || !strings.Contains(err.Error(), `selftest two-nodes: lab "two-nodes" is busy since `) ||
		!strings.Contains(err.Error(), `pid 99 ("testbed run scenarios/two.yaml") holds it for the campaign in /r/c`) || exitCodeOf(err, false) != exitFailed {
		t.Fatalf("held lab: err = %v (exit %d)", err, exitCodeOf(err, false))
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if err = run(); err == nil || strings.Contains(err.Error(), "is busy") {
		t.Fatalf("released lab: err = %v, want the lab's own error", err)
	}
	t.Logf("released lab: %v", err)
}
