package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/scenarios/agent/selftest"
)

type selftestFlags struct {
	timeout     time.Duration
	slack       time.Duration
	skipInstall bool
	format      string
}

func newSelftestCommand(a *app) *cobra.Command {
	streams := a.streams
	f := &selftestFlags{}
	cmd := &cobra.Command{
		Use:   "selftest TOPOLOGY",
		Short: "Install the reference agent on a running lab and check that every cluster discovers every other",
		Long: `selftest installs or upgrades the reference discovery agent (built from this
binary, no registry needed) on every cluster of a running lab, waits until
every cluster has a Peer object for every other one, and prints the N×N
discovery matrix from the agents' ground-truth timestamps. It fails with the
broken direction named, e.g. "cluster node-07 hears nobody: multicast is not
reaching it". Run it before spending hours on a campaign.

Discovery time of a cell is the first receive minus the later of the two
agents' start times; it should not exceed firstDelay + interval + slack.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			_, plan, err := a.loadLab(cmd.Context(), args[0])
			if err != nil {
				return inputError(streams, err)
			}
			// selftest restarts every agent: not while a campaign cycles them.
			release, err := a.claimLab(plan, "")
			if err != nil {
				return fmt.Errorf("selftest %s: %w", plan.Name, err)
			}
			defer release()
			o := selftest.Options{Plan: plan, Timeout: f.timeout, Slack: f.slack, SkipInstall: f.skipInstall,
				Logf: func(format string, a ...any) { fmt.Fprintf(streams.ErrOut, format+"\n", a...) }}
			o.Kube = a.kube.KubeDynamic
			if !f.skipInstall {
				p, err := a.Provisioner(plan)
				if err != nil {
					return err
				}
				o.Installer = agentInstaller{p}
			}
			res, err := selftest.Run(cmd.Context(), o)
			if err != nil {
				return fmt.Errorf("selftest %s: %w", plan.Name, err)
			}
			if err := printData(streams.Out, f.format, res, func(tw *tabwriter.Writer) error {
				printSelftest(tw, res)
				return nil
			}); err != nil {
				return err
			}
			if !res.Passed {
				return &exitError{code: exitFailed, err: fmt.Errorf("selftest %s failed: %d of %d directions discovered", plan.Name, res.Found, res.Expected)}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&f.timeout, "timeout", 2*time.Minute, "how long to wait for the full discovery matrix")
	cmd.Flags().DurationVar(&f.slack, "slack", 2*time.Second, "tolerance over firstDelay + interval before a discovery is reported as slow")
	cmd.Flags().BoolVar(&f.skipInstall, "skip-install", false, "do not install or upgrade the agent; only wait and report")
	addOutputFlag(cmd, &f.format)
	return cmd
}

func printSelftest(tw *tabwriter.Writer, r *selftest.Result) {
	fmt.Fprintf(tw, "discovery ms (row hears column; from the later agent start to first receive; bound %.0f ms)\n", r.BoundMS)
	fmt.Fprintf(tw, "observer\\peer")
	for _, c := range r.Clusters {
		fmt.Fprintf(tw, "\t%s", c)
	}
	fmt.Fprintln(tw)
	for _, o := range r.Clusters {
		fmt.Fprint(tw, o)
		for _, p := range r.Clusters {
			cell, ok := r.Cell(o, p)
			switch {
			case o == p:
				fmt.Fprint(tw, "\t-")
			case !ok || !cell.Found:
				fmt.Fprint(tw, "\tMISSING")
			default:
				mark := ""
				if !cell.WithinBound {
					mark = " (slow)"
				}
				fmt.Fprintf(tw, "\t%.1f%s", cell.DiscoveryMS, mark)
			}
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "cluster\tpod\tready\trestarts\tRSS MiB\tCPU s\tannouncements\tAPI errors")
	for _, a := range r.Agents {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%.1f\t%.3f\t%.0f\t%.0f\n", a.Cluster, a.Pod, a.Ready, a.Restarts, a.ResidentMiB, a.CPUSeconds, a.Announcements, a.APIErrors)
	}
	fmt.Fprintln(tw)
	for _, a := range r.Agents {
		if a.LastExit != "" {
			fmt.Fprintf(tw, "%s: the agent restarted %d time(s); its last container ended with %s\n", a.Cluster, a.Restarts, a.LastExit)
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(tw, "warning: %s\n", w)
	}
	if r.Passed {
		fmt.Fprintf(tw, "PASS: %d/%d directions discovered (waited %.1f s)\n", r.Found, r.Expected, r.WaitedMS/1000)
		return
	}
	fmt.Fprintf(tw, "FAIL: %d/%d directions discovered (waited %.1f s)\n", r.Found, r.Expected, r.WaitedMS/1000)
	for _, reason := range r.Reasons {
		fmt.Fprintf(tw, "  %s\n", reason)
	}
}
