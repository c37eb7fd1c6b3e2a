package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/scenarios/runner"
)

type runOptions struct {
	output string
	resume string
	format string
}

func newRunCommand(a *app) *cobra.Command {
	streams := a.streams
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run SCENARIO | run --resume DIR",
		Short: "Cycle node A on a running lab and record per-peer discovery times",
		Long: `run executes a scenario on the lab its topology describes (bring it up
first with 'testbed up'): for every condition and run it disables node A's
discovery workload, clears the peer resources, waits a random pause (phase
random) and re-enables A, recording in milliseconds since t0 when A found each
peer, when each peer found A, A's pod timeline, flaps and ground truth.
Runs are appended to DIR/runs.jsonl as they end; DIR/manifest.json records
the inputs, versions and seed. Ctrl-C aborts the run in flight, restores
node A and removes impairments; 'run --resume DIR' continues from the last
recorded run.`,
		Example: `  testbed run scenarios/selftest.yaml --output results/selftest
  testbed run --resume results/selftest`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.resume != "" && len(args) > 0 {
				return badInput(errors.New("give either a SCENARIO or --resume DIR, not both"))
			}
			if o.resume == "" && len(args) != 1 {
				return badInput(errors.New("need exactly one SCENARIO file (or --resume DIR)"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(o.format); err != nil {
				return err
			}
			var cell runner.Cell
			var err error
			if o.resume != "" {
				cell, err = runner.CellFromCampaign(o.resume)
			} else {
				cell, err = runner.CellFromFiles(args[0], o.output, time.Now())
			}
			if err != nil {
				return inputError(streams, err)
			}
			env, err := a.RunEnv(streams.ErrOut)
			if err != nil {
				return err
			}
			stopCosts := recordCostsOnce(cmd.Context(), cell.Plan, streams.ErrOut, a.measureLabDuring)
			sum, err := env.Run(cmd.Context(), cell)
			stopCosts()
			if sum != nil {
				if perr := printData(streams.Out, o.format, sum, func(w *tabwriter.Writer) error {
					fmt.Fprintln(w, "CONDITION\tRUNS\tTIMED OUT\tFAULTED\tMEDIAN ALL PEERS\tOVERHEAD P50\tBACKEND\tACHIEVED LOSS")
					for _, c := range sum.Conditions {
						loss := "-"
						if c.AchievedLoss != nil {
							loss = fmt.Sprintf("%.1f%%", *c.AchievedLoss)
						}
						fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%.0f ms\t%.0f ms\t%s\t%s\n", c.Name, c.Runs, c.TimedOut, c.Faulted, c.MedianAllMS, c.OverheadP50, c.Backend, loss)
					}
					fmt.Fprintf(w, "campaign %s: %d runs, cycle overhead median %.0f ms\n", sum.Dir, sum.Runs, sum.OverheadP50)
					return nil
				}); perr != nil && err == nil {
					err = perr
				}
			}
			if err != nil {
				return fmt.Errorf("run: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.output, "output", "", "campaign directory (default: the scenario's output, else results/<name>-<time>)")
	cmd.Flags().StringVar(&o.resume, "resume", "", "continue the campaign in this directory from its last recorded run")
	cmd.Flags().StringVarP(&o.format, "format", "o", formatTable, "summary format: table, json or yaml")
	return cmd
}
