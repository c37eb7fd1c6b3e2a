package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/internal/capacity"
	"github.com/fluidos-lab/testbed/topology"
)

func newPlanCommand(a *app) *cobra.Command {
	streams := a.streams
	var format string
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show the fully resolved lab: clusters, nodes, addresses, paths, images, charts and the resource estimate",
		Example: `  testbed plan topology/24-nodes.yaml
  testbed plan topology/24-nodes.yaml -o json`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			t, p, err := planFile(cmd.Context(), args[0], a.loadLab)
			if err != nil {
				return inputError(streams, err)
			}
			return printData(streams.Out, format, p, func(tw *tabwriter.Writer) error {
				h := localHostLimits()
				return writePlanTable(tw, t, p, &h)
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// planFile loads and plans one topology, returning at once when ctx ends
// (with an error wrapping ctx's).
func planFile(ctx context.Context, file string, load func(context.Context, string) (*topology.Topology, *topology.Plan, error)) (*topology.Topology, *topology.Plan, error) {
	type planned struct {
		t *topology.Topology
		p *topology.Plan
	}
	r, err := interruptible(ctx, func() (planned, error) {
		t, p, err := load(ctx, file)
		return planned{t, p}, err
	})
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return nil, nil, fmt.Errorf("plan %s interrupted: %w", file, err)
	}
	return r.t, r.p, err
}

// writePlanTable prints the plan, and the host's capacity for it when host
// is set.
func writePlanTable(tw *tabwriter.Writer, t *topology.Topology, p *topology.Plan, host *capacity.Host) error {
	fmt.Fprintf(tw, "lab %s (%s), state in %s\n", p.Name, p.File, p.StateDir)
	snoop := "off"
	if p.Network.MulticastSnooping {
		snoop = "on"
	}
	fmt.Fprintf(tw, "network %s %s gw %s, multicast snooping %s\n", p.Network.Name, p.Network.Subnet, p.Network.Gateway, snoop)
	fmt.Fprintf(tw, "macvlan mode %s on %s, pool %s (one /24 per cluster), pod interface %s, NAD %s in %s\n", p.Macvlan.Mode,
		p.Macvlan.Master, p.Macvlan.Subnet, p.Macvlan.PodInterface, p.Macvlan.NADName, strings.Join(p.Macvlan.NADNamespaces, ","))
	cni := p.CNIPlugins.URL
	if p.CNIPlugins.Tarball != "" {
		cni = p.CNIPlugins.Tarball
	}
	fmt.Fprintf(tw, "multus %s (%s), CNI plugins %s from %s\n", p.Multus.Version, p.Multus.Image, p.CNIPlugins.Version, cni)
	fmt.Fprintf(tw, "provisioning: %d clusters at once, %d retries\n", p.Parallelism, p.Retries)
	writeHostsPlan(tw, p)
	fmt.Fprintln(tw)

	changes := t.ValueChanges(p)
	fmt.Fprintln(tw, "CLUSTER\tNODES\tADDRESS\tMACVLAN\tKUBECONFIG\tIMAGE\tCHARTS\tVALUES")
	for _, c := range p.Clusters {
		nodes := make([]string, len(c.Nodes))
		for i, n := range c.Nodes {
			nodes[i] = n.Name
		}
		addr := "-"
		if len(c.Nodes) > 0 {
			addr = c.Nodes[0].Address
		}
		charts := make([]string, len(c.Charts))
		var values []string
		for i, ch := range c.Charts {
			v := ch.Version
			if v == "" {
				v = "local"
			}
			charts[i] = ch.Name + "@" + v
			for _, d := range changes[c.Name][ch.Name] {
				values = append(values, ch.Name+":"+d)
			}
		}
		if len(charts) == 0 {
			charts = []string{"-"}
		}
		if len(values) == 0 {
			values = []string{"-"}
		}
		name := c.Name
		if c.Host != "" {
			name += "@" + c.Host
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/24\t%s\t%s\t%s\t%s\n", name, strings.Join(nodes, ","), addr,
			c.Macvlan.RangeStart, c.Kubeconfig, c.NodeImage, strings.Join(charts, ","), strings.Join(values, " "))
	}
	fmt.Fprintf(tw, "\nestimate for %d clusters: %.1f GiB memory, %.1f CPU cores, %.1f GiB disk\n", len(p.Clusters),
		float64(p.Estimate.MemoryMiB)/1024, p.Estimate.CPUCores, float64(p.Estimate.DiskMiB)/1024)
	if host != nil {
		writeCapacity(tw, planCapacity(p, *host))
	}
	return nil
}

// writeHostsPlan prints the hosts of a multi-host plan, their clusters and
// the shared network.
func writeHostsPlan(w io.Writer, p *topology.Plan) {
	if !p.MultiHost() {
		return
	}
	sn := p.SharedNetwork
	mtu := "the underlay's minus 50"
	if sn.MTU != 0 {
		mtu = fmt.Sprint(sn.MTU)
	}
	fmt.Fprintf(w, "shared network %s %s (bridge %s, VXLAN %s, VNI %d, UDP %d, MTU %s), macvlan on the nodes' %s; placement %s\n",
		sn.Name, sn.Subnet, sn.Bridge, sn.Device, sn.VNI, sn.Port, mtu, sn.Interface, p.Placement)
	for _, h := range p.Hosts {
		capNote := ""
		if h.Capacity > 0 {
			capNote = fmt.Sprintf(", capacity %d", h.Capacity)
		}
		fmt.Fprintf(w, "host %s: %s, underlay %s, range %s gw %s%s: %d cluster(s) %s\n", h.Name, h.Endpoint, h.Address,
			h.IPRange, h.Gateway, capNote, len(h.Clusters), strings.Join(h.Clusters, ","))
	}
}
