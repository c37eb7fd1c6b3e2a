package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/results/store"
)

const formatCSV = "csv"

func newExportCommand(a *app) *cobra.Command {
	streams := a.streams
	var format string
	cmd := &cobra.Command{
		Use:   "export DIR",
		Short: "Print a campaign as tidy data: one row per run × peer (CSV or JSON)",
		Long: `export flattens runs.jsonl into one row per run and peer with the condition columns
(loss, phase, backend, achieved loss, pause, ...), the discovered, reverse, gone and ground-truth
times and node A's container start, all in ms since the run's t0. Warm-up and aborted runs are
included and flagged. Unobserved values are empty CSV cells (NaN in pandas, NA in R) or JSON null.`,
		Example: `  testbed export runs/2026-11-26-loss > runs.csv
  python3 -c 'import pandas; print(pandas.read_csv("runs.csv").groupby("condition").discoveredMS.median())'
  testbed export runs/2026-11-26-loss -o json`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatCSV, formatJSON); err != nil {
				return err
			}
			c, err := store.Read(args[0])
			if err != nil {
				return err
			}
			for _, w := range c.Warnings {
				fmt.Fprintf(streams.ErrOut, "warning: %s\n", w)
			}
			rows := store.ExportRows(c)
			if format == formatJSON {
				return store.WriteJSON(streams.Out, rows)
			}
			return store.WriteCSV(streams.Out, rows)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", formatCSV, "output format: csv or json")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{formatCSV, formatJSON}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}
