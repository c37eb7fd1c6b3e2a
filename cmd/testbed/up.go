package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/provision"
)

type upOptions struct {
	parallelism int
	recreate    bool
	offline     bool
	noBake      bool
}

func newUpCommand(a *app) *cobra.Command {
	streams := a.streams
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up TOPOLOGY",
		Short: "Create or converge the lab: network, KinD clusters, images, CNI, Multus, NAD, charts",
		Long: "up builds the lab described by TOPOLOGY and converges an existing one: healthy clusters are kept, " +
			"partial ones repaired, and a second up on a healthy lab changes nothing. Ctrl-C stops scheduling new " +
			"work and waits for in-flight cluster creates (KinD cannot be interrupted); run up again to converge " +
			"or down to remove.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, plan, err := loadTopologyPlan(args[0])
			if err != nil {
				return inputError(streams, err)
			}
			p, err := a.Provisioner(plan)
			if err != nil {
				return err
			}
			rep, err := p.Up(cmd.Context(), plan, provision.UpOptions{Parallelism: o.parallelism, Recreate: o.recreate, Offline: o.offline, NoBake: o.noBake})
			if rep != nil {
				printUpReport(streams.Out, rep, err == nil)
			}
			if err != nil {
				return fmt.Errorf("up %s: %w", plan.Name, err)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&o.parallelism, "parallelism", 0, "clusters created at once (default: the topology's, else the CPU count)")
	cmd.Flags().BoolVar(&o.recreate, "recreate", false, "delete and rebuild every cluster")
	cmd.Flags().BoolVar(&o.offline, "offline", false, "use only images present on the host; list missing ones and stop")
	cmd.Flags().BoolVar(&o.noBake, "no-bake", false, "create clusters from the plain node image and import the lab's images into every node (instead of a node image baked once with them)")
	return cmd
}

func printUpReport(w io.Writer, r *provision.Report, ok bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PHASE\tTIME\tCHANGED\tSKIPPED\n")
	for _, ph := range r.Phases {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", ph.Name, ph.Duration.Round(time.Millisecond), ph.Changed, ph.Skipped)
	}
	fmt.Fprintf(tw, "total\t%s\t\t\n", r.Wall.Round(time.Millisecond))
	tw.Flush()
	if r.Network.Warning != "" {
		fmt.Fprintf(w, "network %s: %s\n", r.Network.Name, r.Network.Warning)
	}
	if r.Waves > 0 {
		fmt.Fprintf(w, "created %d cluster(s) in %d wave(s) of %d; slowest create %s; provisioning efficiency %.2f (clusters phase wall time / (slowest create × waves))\n",
			len(r.Creates), r.Waves, r.Parallelism, r.SlowestCreate.Round(time.Millisecond), r.Efficiency)
	}
	if ok && !r.Changed {
		fmt.Fprintf(w, "lab %s already up: nothing changed\n", r.Topology)
	}
}
