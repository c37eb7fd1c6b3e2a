package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/provision"
)

func newStatusCommand(a *app) *cobra.Command {
	streams := a.streams
	var format string
	cmd := &cobra.Command{
		Use:   "status TOPOLOGY",
		Short: "Show each cluster's nodes, API, Multus, Helm releases, discovery pods and peers",
		Long: `status reads the lab's state from Docker and from every cluster's API: node containers,
API reachability, Multus, Helm releases, and each discovery protocol it knows (every preset:
the reference agent, the FLUIDOS Network Manager, ...) found by its workload in any namespace,
however it was installed, with its ready pods and its peer objects.

It exits 1, naming each cluster and its problem, when a cluster is unhealthy: a node not
running, an unreachable API, Multus or a discovery workload not ready, or state it could not
read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			_, plan, err := a.loadLab(cmd.Context(), args[0])
			if err != nil {
				return inputError(streams, err)
			}
			p, err := a.Provisioner(plan)
			if err != nil {
				return err
			}
			st, err := p.Status(cmd.Context(), plan)
			if err != nil {
				return fmt.Errorf("status %s: %w", plan.Name, err)
			}
			if err := printData(streams.Out, format, st, func(tw *tabwriter.Writer) error {
				fmt.Fprintf(tw, "CLUSTER\tNODES\tADDRESS\tAPI\tMULTUS\tRELEASES\tDISCOVERY\tPEERS\tPROBLEMS\n")
				for _, c := range st.Clusters {
					var nodes, addrs, rels, disc, peers []string
					for _, n := range c.Nodes {
						nodes = append(nodes, n.Name+"("+n.State+")")
						addrs = append(addrs, n.Address)
					}
					for _, r := range c.Releases {
						rels = append(rels, r.Name+"-"+r.Version)
					}
					for _, d := range c.Discovery {
						disc = append(disc, fmt.Sprintf("%s(%s) %d/%d", d.Protocol, d.Namespace, d.PodsReady, d.Pods))
						peers = append(peers, fmt.Sprint(d.Peers))
					}
					name := c.Name
					if c.Host != "" {
						name += "@" + c.Host
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, dash(nodes), dash(addrs),
						yesNo(c.APIReachable), yesNo(c.MultusReady), dash(rels), dash(disc), dash(peers), dash(c.Errors))
				}
				return nil
			}); err != nil {
				return err
			}
			return unhealthy(streams, st)
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// unhealthy prints every unhealthy cluster's problems and fails (exit 1)
// if there is one.
func unhealthy(streams IOStreams, st *provision.LabStatus) error {
	bad := 0
	for _, c := range st.Clusters {
		probs := c.Problems()
		if len(probs) == 0 {
			continue
		}
		bad++
		for _, p := range probs {
			fmt.Fprintf(streams.ErrOut, "cluster %q: %s\n", c.Name, p)
		}
	}
	if bad == 0 {
		return nil
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d clusters of lab %s are unhealthy", bad, len(st.Clusters), st.Topology)}
}

func dash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
