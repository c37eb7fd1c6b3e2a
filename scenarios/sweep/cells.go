package sweep

import (
	"context"
	"fmt"
	"slices"

	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/topology"
)

// RunnerCells runs cells with scenarios/runner: it connects to the plan's
// clusters and gives the runner only the cell's clusters, so that only they
// are node A's peers (the subset strategy's other clusters are disabled).
type RunnerCells struct {
	// Options returns the runner's options for a plan (impairment
	// backends, CRI starts, progress); nil uses the runner's defaults.
	Options func(ctx context.Context, plan *topology.Plan) (runner.Options, error)
	// Connect defaults to runner.Connect.
	Connect func(ctx context.Context, plan *topology.Plan) ([]runner.Cluster, error)
}

var _ CellRunner = (*RunnerCells)(nil)

// RunCell implements CellRunner.
func (r *RunnerCells) RunCell(ctx context.Context, c CellRun) error {
	connect := r.Connect
	if connect == nil {
		connect = runner.Connect
	}
	all, err := connect(ctx, c.Plan)
	if err != nil {
		return fmt.Errorf("connecting to lab %s: %w", c.Plan.Name, err)
	}
	var cell []runner.Cluster
	for _, cl := range all {
		if slices.Contains(c.Clusters, cl.Name) {
			cell = append(cell, cl)
		}
	}
	if len(cell) != len(c.Clusters) {
		return fmt.Errorf("lab %s has %d of the cell's %d clusters %v", c.Plan.Name, len(cell), len(c.Clusters), c.Clusters)
	}
	var o runner.Options
	if r.Options != nil {
		if o, err = r.Options(ctx, c.Plan); err != nil {
			return err
		}
	}
	rn, err := runner.New(c.Scenario, cell, o)
	if err != nil {
		return err
	}
	_, err = rn.Run(ctx, runner.Campaign{Dir: c.Dir, Resume: c.Resume, Manifest: c.Manifest})
	return err
}
