package sweep

import (
	"context"
	"fmt"
	"io"

	"github.com/fluidos-lab/testbed/scenarios/impair"
	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/topology"
)

// ImpairOptions returns runner options for a plan wired to the impairment
// backends and CRI reader of scenarios/impair over x (Docker exec into the
// KinD nodes): the node kernel is probed once, on the plan's first node,
// when the first cell starts (the lab is up by then).
func ImpairOptions(x impair.Executor, progress io.Writer) func(ctx context.Context, plan *topology.Plan) (runner.Options, error) {
	var caps *impair.Capabilities
	return func(ctx context.Context, plan *topology.Plan) (runner.Options, error) {
		if len(plan.Clusters) == 0 || len(plan.Clusters[0].Nodes) == 0 {
			return runner.Options{}, fmt.Errorf("lab %s has no node to probe", plan.Name)
		}
		if caps == nil {
			node := plan.Clusters[0].Nodes[0].Name
			c, err := impair.Probe(ctx, x, node)
			if err != nil {
				return runner.Options{}, err
			}
			caps = &c
			fmt.Fprintf(progress, "impairment support on %s: %s\n", node, c.Summary())
		}
		res := impair.NewResolver(x)
		c := *caps
		return runner.Options{
			Progress:  progress,
			Interface: plan.Macvlan.PodInterface,
			Impairments: func(s impair.Spec) (runner.Impairment, error) {
				return impair.Select(c, s, x, res)
			},
			Starts: runner.NewCRIStarts(res),
		}, nil
	}
}
