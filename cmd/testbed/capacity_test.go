package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/internal/capacity"
	"github.com/fluidos-lab/testbed/topology"
)

// The first campaign on a profile records the lab's costs in the
// background; later ones do not measure again; a failure is one note and
// a stop while measuring returns without recording.
func TestRecordCostsOnce(t *testing.T) {
	p := &topology.Plan{Name: "lab", File: "lab.yaml", StateDir: filepath.Join(t.TempDir(), "lab"),
		Clusters: []topology.ClusterPlan{{Name: "c1", Profile: "lean"}, {Name: "c2", Profile: "lean"}}}
	calls := 0
	record := func(_ context.Context, p *topology.Plan, window time.Duration, during string) (capacity.Costs, error) {
		calls++
		c := capacity.Costs{Profile: "lean", Source: "measured", During: during, MemoryMiB: 500, CPUCores: 0.1, Clusters: 2}
		if window != firstRunWindow || during != "campaign" {
			t.Errorf("window %s during %s", window, during)
		}
		return c, capacity.Save(filepath.Dir(p.StateDir), c)
	}
	var w bytes.Buffer
	recordCostsOnce(context.Background(), p, &w, record)()
	if calls != 1 || !strings.Contains(w.String(), "recorded this host's per-cluster costs for profile lean") {
		t.Fatalf("first run: %d calls, %q", calls, w.String())
	}
	recordCostsOnce(context.Background(), p, &w, record)()
	if calls != 1 {
		t.Errorf("second run measured again")
	}

	p.StateDir = filepath.Join(t.TempDir(), "lab")
	w.Reset()
	recordCostsOnce(context.Background(), p, &w, func(context.Context, *topology.Plan, time.Duration, string) (capacity.Costs, error) {
		return capacity.Costs{}, errors.New("docker: no such container")
	})()
	if !strings.Contains(w.String(), "not recorded: docker: no such container") {
		t.Errorf("failure note %q", w.String())
	}
	w.Reset()
	stop := recordCostsOnce(context.Background(), p, &w, func(ctx context.Context, _ *topology.Plan, _ time.Duration, _ string) (capacity.Costs, error) {
		<-ctx.Done() // a campaign shorter than the window
		return capacity.Costs{}, ctx.Err()
	})
	stop()
	if w.Len() != 0 {
		t.Errorf("a stopped measurement printed %q", w.String())
	}
}
