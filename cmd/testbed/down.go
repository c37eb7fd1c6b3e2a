package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/provision"
	"github.com/fluidos-lab/testbed/topology"
)

func newDownCommand(a *app) *cobra.Command {
	streams := a.streams
	var all bool
	cmd := &cobra.Command{
		Use:   "down [TOPOLOGY]",
		Short: "Remove a lab's clusters and network (only what carries this tool's labels)",
		Long: "down removes the clusters and network of TOPOLOGY, or with --all of every lab this tool made. " +
			"It only touches Docker networks labelled dev.testbed.managed=true and the KinD clusters whose node " +
			"containers are attached to them (KinD cannot put custom labels on its nodes). Clusters are deleted " +
			"concurrently, each with its own kubeconfig file; the network goes last; anything already gone is ignored.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) {
				return badInput(errors.New("give either a topology file or --all"))
			}
			o := provision.DownOptions{All: all}
			var plan *topology.Plan
			if all {
				o.StateRoot = topology.EnvironmentFromOS(nil).StateRoot
			} else {
				var err error
				if _, plan, err = loadTopologyPlan(args[0]); err != nil {
					return inputError(streams, err)
				}
				o.Topology, o.StateRoot = plan.Name, stateRootOf(plan)
			}
			p, err := a.Provisioner(plan)
			if err != nil {
				return err
			}
			rep, err := p.Down(cmd.Context(), o)
			if rep != nil {
				fmt.Fprintf(streams.Out, "removed %d cluster(s) [%s] and %d network(s) [%s]\n",
					len(rep.Clusters), strings.Join(rep.Clusters, " "), len(rep.Networks), strings.Join(rep.Networks, " "))
			}
			if err != nil {
				return fmt.Errorf("down: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove every lab this tool made")
	return cmd
}
