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
	"github.com/fluidos-lab/testbed/scenarios"
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

// otherProcess reports whether another process (here: another open file
// of the lock, which flock treats alike) could take the lab now.
func otherProcess(t *testing.T, plan *topology.Plan) bool {
	t.Helper()
	l, err := lablock.Acquire(plan.Name, plan.StateDir, lablock.Holder{Command: "other", PID: 1})
	if err != nil {
		if !lablock.IsBusy(err) {
			t.Fatalf("other process: %v", err)
		}
		return false
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	return true
}

// Claims of one process on one lab are counted: the lab stays held until
// the last is released, and a release called twice counts once.
func TestClaimsAreCounted(t *testing.T) {
	plan := &topology.Plan{Name: "lab", StateDir: t.TempDir()}
	a := newApp(IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	r1, err := a.claimLab(plan, "")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := a.claimLab(plan, "/c")
	if err != nil {
		t.Fatalf("second claim in the same process: %v", err)
	}
	if otherProcess(t, plan) {
		t.Fatal("another process took a claimed lab")
	}
	r1()
	r1()
	if otherProcess(t, plan) {
		t.Fatal("the lab was let go with a claim still held (or a double release counted twice)")
	}
	r2()
	if !otherProcess(t, plan) {
		t.Fatal("the lab stayed held after every claim was released")
	}
}

type recLab struct{ calls *[]string }

func (l recLab) Up(_ context.Context, p *topology.Plan) error {
	*l.calls = append(*l.calls, "up "+p.Name)
	return nil
}

func (l recLab) Down(_ context.Context, p *topology.Plan) error {
	*l.calls = append(*l.calls, "down "+p.Name)
	return nil
}

type recWorkloads struct{ calls *[]string }

func (w recWorkloads) Set(_ context.Context, p *topology.Plan, _ scenarios.Protocol, on, off []string) error {
	*w.calls = append(*w.calls, "set "+p.Name)
	return nil
}

// A sweep's or rerun's labHolder holds a lab from the first change it
// makes to the command's end: a down of a lab that has no state directory
// claims nothing and makes none, an up makes it and holds the lab, and a
// lab another process holds is refused before the change.
func TestLabHolder(t *testing.T) {
	root := t.TempDir()
	plan := &topology.Plan{Name: "lab", StateDir: filepath.Join(root, "lab")}
	a := newApp(IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	var calls []string
	h := a.labHolder(filepath.Join(root, "sweep"))
	lab, wl := h.Lab(recLab{&calls}), h.Workloads(recWorkloads{&calls})
	ctx := context.Background()

	if err := lab.Down(ctx, plan); err != nil {
		t.Fatalf("down of a lab that is not up: %v", err)
	}
	if _, err := os.Stat(plan.StateDir); !os.IsNotExist(err) {
		t.Fatalf("down made the state directory: %v", err)
	}
	if err := lab.Up(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if otherProcess(t, plan) {
		t.Fatal("the lab a sweep brought up is not held")
	}
	// A campaign of the same process claims it again, and lets it go.
	release, err := a.claimLab(plan, filepath.Join(root, "sweep", "cell"))
	if err != nil {
		t.Fatalf("the sweep's own campaign: %v", err)
	}
	release()
	if err := wl.Set(ctx, plan, scenarios.Protocol{}, nil, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if otherProcess(t, plan) {
		t.Fatal("the lab was let go between the sweep's cells")
	}
	h.release()
	if !otherProcess(t, plan) {
		t.Fatal("the lab stayed held after the command")
	}
	if got := strings.Join(calls, ", "); got != "down lab, up lab, set lab" {
		t.Errorf("calls %q", got)
	}

	// Held by another process: refused before the change.
	other, err := lablock.Acquire(plan.Name, plan.StateDir, lablock.Holder{Command: "testbed run x.yaml", PID: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	calls = nil
	h2 := a.labHolder("")
	defer h2.release()
	for name, f := range map[string]func() error{
		"up":   func() error { return h2.Lab(recLab{&calls}).Up(ctx, plan) },
		"down": func() error { return h2.Lab(recLab{&calls}).Down(ctx, plan) },
		"set":  func() error { return h2.Workloads(recWorkloads{&calls}).Set(ctx, plan, scenarios.Protocol{}, nil, nil) },
	} {
		if err := f(); !lablock.IsBusy(err) {
			t.Errorf("%s of a lab another process holds: %v, want busy", name, err)
		}
	}
	if len(calls) != 0 {
		t.Errorf("changes made to a held lab: %v", calls)
	}
}
