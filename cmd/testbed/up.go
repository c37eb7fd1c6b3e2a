package main

import (
	"fmt"
	"io"
	"strings"
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
			_, plan, err := a.loadLab(cmd.Context(), args[0])
			if err != nil {
				return inputError(streams, err)
			}
			p, err := a.Provisioner(plan)
			if err != nil {
				return err
			}
			// Recorded first: an up stopped half-way keeps its placement.
			if err := recordHosts(plan); err != nil {
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
	cmd.Flags().IntVar(&o.parallelism, "parallelism", 0, "clusters created at once (default: the topology's, else every cluster up to twice the CPU count)")
	cmd.Flags().BoolVar(&o.recreate, "recreate", false, "delete and rebuild every cluster")
	cmd.Flags().BoolVar(&o.offline, "offline", false, "use only images present on the host; list missing ones and stop")
	cmd.Flags().BoolVar(&o.noBake, "no-bake", false, "create clusters without the lab's images baked into their node image and import them into every node instead (a lean lab's node image still gets the profile's files)")
	return cmd
}

func printUpReport(w io.Writer, r *provision.Report, ok bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "STEP\tSTART\tSPAN\tBUSY\tCHANGED\tSKIPPED\n")
	for _, ph := range r.Phases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", ph.Name, ph.Start.Round(100*time.Millisecond), ph.Duration.Round(100*time.Millisecond),
			ph.Busy.Round(100*time.Millisecond), ph.Changed, ph.Skipped)
	}
	fmt.Fprintf(tw, "total\t\t%s\t\t\t\n", r.Wall.Round(100*time.Millisecond))
	tw.Flush()
	if cp := r.CriticalPath; cp.Cluster != "" {
		var steps []string
		for _, sp := range cp.Spans {
			st := fmt.Sprintf("%s %s", sp.Step, (sp.End - sp.Start).Round(100*time.Millisecond))
			if q := sp.Start - sp.Queued; q >= 100*time.Millisecond {
				st += fmt.Sprintf(" (queued %s)", q.Round(100*time.Millisecond))
			}
			steps = append(steps, st)
		}
		fmt.Fprintf(w, "critical path: %s, done at %s: %s\n", cp.Cluster, cp.End.Round(100*time.Millisecond), strings.Join(steps, ", "))
	}
	if r.BakeWarning != "" {
		fmt.Fprintf(w, "bake: %s\n", r.BakeWarning)
	}
	if r.Network.Warning != "" {
		fmt.Fprintf(w, "network %s: %s\n", r.Network.Name, r.Network.Warning)
	}
	if r.ClustersReady > 0 {
		fmt.Fprintf(w, "clusters ready %s after the first create (every node Ready; what `kind create cluster --wait` waits for); up total %.2f × that\n",
			r.ClustersReady.Round(100*time.Millisecond), float64(r.Wall)/float64(r.ClustersReady))
	}
	if r.Waves > 0 {
		fmt.Fprintf(w, "created %d cluster(s) in %d wave(s) of %d; slowest create %s; provisioning efficiency %.2f (clusters phase wall time / (slowest create × waves))\n",
			len(r.Creates), r.Waves, r.Parallelism, r.SlowestCreate.Round(time.Millisecond), r.Efficiency)
	}
	if ok && !r.Changed {
		fmt.Fprintf(w, "lab %s already up: nothing changed\n", r.Topology)
	}
}
