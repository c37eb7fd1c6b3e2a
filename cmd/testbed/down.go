package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
				o.Topology, o.StateRoot, o.Plan = plan.Name, stateRootOf(plan), plan
			}
			if all {
				// Every recorded multi-host lab, then every lab on this
				// engine, whatever failed before: one dead host must not
				// keep the rest.
				labs, _ := recordedLabs(o.StateRoot) // downRecordedHosts reports their errors
				err := errors.Join(a.downRecordedHosts(cmd, o.StateRoot), a.down(cmd, plan, o))
				if err != nil {
					return err
				}
				// With every lab gone, the images this tool built go too.
				return a.pruneImages(cmd.Context(), labs)
			}
			return a.down(cmd, plan, o)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove every lab this tool made")
	return cmd
}

// down removes plan's lab (nil: the labs of --all on the local engine)
// and prints what it removed.
func (a *app) down(cmd *cobra.Command, plan *topology.Plan, o provision.DownOptions) error {
	p, err := a.Provisioner(plan)
	if err != nil {
		return err
	}
	rep, err := p.Down(cmd.Context(), o)
	if rep != nil {
		fmt.Fprintf(a.streams.Out, "removed %d cluster(s) [%s] and %d network(s) [%s]",
			len(rep.Clusters), strings.Join(rep.Clusters, " "), len(rep.Networks), strings.Join(rep.Networks, " "))
		if len(rep.Devices) > 0 {
			fmt.Fprintf(a.streams.Out, " and %d VXLAN device(s) [%s]", len(rep.Devices), strings.Join(rep.Devices, " "))
		}
		fmt.Fprintln(a.streams.Out)
	}
	if err != nil {
		return fmt.Errorf("down: %w", err)
	}
	if plan != nil && plan.MultiHost() {
		if err := os.Remove(filepath.Join(plan.StateDir, hostsFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("down: forgetting the lab's hosts: %w", err)
		}
	}
	return nil
}

// downRecordedHosts removes, for --all, every multi-host lab up recorded
// under stateRoot (<lab>/hosts.json) from all of its hosts.
func (a *app) downRecordedHosts(cmd *cobra.Command, stateRoot string) error {
	labs, err := recordedLabs(stateRoot)
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("down --all: %w", err))
	}
	for _, plan := range labs {
		if err := a.down(cmd, plan, provision.DownOptions{Topology: plan.Name, StateRoot: stateRoot, Plan: plan}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
