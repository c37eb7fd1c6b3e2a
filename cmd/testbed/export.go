package main

import (
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
included and flagged. Unobserved values are empty CSV cells (NaN in pandas, NA in R) or JSON null.
The campaign is streamed (two passes, one run in memory at a time); the readers' warnings are
printed on stderr after the rows.`,
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
			// Streamed: memory holds one run at a time, whatever the
			// campaign's size; Ctrl-C stops it within a few lines.
			c, err := store.ExportDir(cmd.Context(), streams.Out, args[0], format)
			if err != nil {
				return interruptedError(cmd.Context(), err, "export "+args[0])
			}
			return store.WriteWarnings(streams.ErrOut, c.Warnings)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", formatCSV, "output format: csv or json")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{formatCSV, formatJSON}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}
