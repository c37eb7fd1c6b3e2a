package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/results/store"
)

func newRunsCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Work with recorded campaigns",
	}
	cmd.AddCommand(newRunsListCommand(a))
	return cmd
}

func newRunsListCommand(a *app) *cobra.Command {
	streams := a.streams
	var format string
	cmd := &cobra.Command{
		Use:     "ls [DIR]",
		Aliases: []string{"list"},
		Short:   "List the campaigns under a directory: scenario, conditions, runs done and planned, state, date",
		Long: fmt.Sprintf(`ls finds every campaign (a directory with manifest.json) at most %d levels below DIR
(default: the current directory) and prints its state:

  complete  every planned run is recorded and the campaign ended
  partial   runs are missing and the campaign was not interrupted (still running, or crashed)
  aborted   the last run was interrupted (Ctrl-C): testbed run --resume DIR continues it
  sweep     a sweep directory; its cells are listed as campaigns`, store.MaxListDepth),
		Example: `  testbed runs ls results
  testbed runs ls -o json`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			root := "."
			if len(args) == 1 {
				root = args[0]
			}
			list, err := store.List(cmd.Context(), root)
			if err != nil {
				return err
			}
			if list == nil {
				list = []store.Info{}
			}
			return printData(streams.Out, format, list, func(tw *tabwriter.Writer) error {
				fmt.Fprintln(tw, "CAMPAIGN\tSTATE\tRUNS\tCONDITIONS\tSCENARIO\tSTARTED\tDIR")
				for _, in := range list {
					started := "-"
					if !in.Started.IsZero() {
						started = in.Started.Local().Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\n", orDash(in.Campaign), in.State, in.Done, in.Planned, in.Conditions,
						orDash(in.Scenario), started, in.Dir)
				}
				for _, in := range list {
					for _, w := range in.Warnings {
						fmt.Fprintf(streams.ErrOut, "warning: %s: %s\n", in.Dir, w)
					}
				}
				return nil
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
