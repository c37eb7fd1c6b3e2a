package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newStatusCommand(a *app) *cobra.Command {
	streams := a.streams
	var format string
	cmd := &cobra.Command{
		Use:   "status TOPOLOGY",
		Short: "Show each cluster's nodes, API, Multus, Helm releases, discovery pods and peers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			_, plan, err := loadTopologyPlan(args[0])
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
			return printData(streams.Out, format, st, func(tw *tabwriter.Writer) error {
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
						disc = append(disc, fmt.Sprintf("%s %d/%d", d.Protocol, d.PodsReady, d.Pods))
						peers = append(peers, fmt.Sprint(d.Peers))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, dash(nodes), dash(addrs),
						yesNo(c.APIReachable), yesNo(c.MultusReady), dash(rels), dash(disc), dash(peers), dash(c.Errors))
				}
				return nil
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
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
