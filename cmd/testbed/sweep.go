package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios/sweep"
)

type sweepFlags struct {
	output     string
	strategy   string
	teardown   bool
	baseline   string
	thresholds string
	format     string
}

func newSweepCommand(a *app) *cobra.Command {
	streams := a.streams
	f := &sweepFlags{}
	cmd := &cobra.Command{
		Use:   "sweep SWEEP",
		Short: "Run a scalability sweep (cluster counts × conditions × protocols), resumable, with a report",
		Long: `sweep runs every cell (protocol × cluster count) of a kind: Sweep file as its own campaign in
<output>/<protocol>/<N>-clusters/, with the sweep's conditions, and writes <output>/report/
(median, p90 and responsiveness against cluster count, one line per condition).

Strategy subset (default) provisions the largest topology once and gives each cell the first N
clusters, disabling the discovery workload on the others; reprovision rebuilds the lab per size.
Run the same command again after a crash or Ctrl-C: complete cells are skipped and the partial
one resumes from its last recorded run. With --baseline DIR the sweep is compared cell by cell
against an earlier sweep; the exit code is 1 when a --thresholds rule is breached or a baseline
cell is missing.`,
		Example: `  testbed sweep sweeps/nightly.yaml --output /srv/testbed/2026-11-26/sweep
  testbed sweep sweeps/nightly.yaml --baseline /srv/testbed/baseline/sweep --thresholds .ci/thresholds.yaml
  testbed sweep report /srv/testbed/2026-11-26/sweep
  testbed sweep compare BASE CAND --thresholds .ci/thresholds.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			s, err := sweep.Load(args[0])
			if err != nil {
				return inputError(streams, err)
			}
			if f.output != "" {
				s.Output = f.output
			}
			if f.strategy != "" {
				if f.strategy != sweep.StrategySubset && f.strategy != sweep.StrategyReprovision {
					return fmt.Errorf("--strategy %q: use subset or reprovision", f.strategy)
				}
				s.Strategy = f.strategy
			}
			if cmd.Flags().Changed("teardown") {
				s.Teardown = f.teardown
			}
			var rules []compare.Threshold
			if f.thresholds != "" {
				if rules, err = compare.LoadThresholds(f.thresholds); err != nil {
					return err
				}
			}
			res, err := runSweep(cmd.Context(), a, streams, s)
			if err != nil {
				return err
			}
			if err := printSweepReport(streams, f.format, res.Report); err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "sweep %s: %d cell(s) run, %d resumed, %d already complete; report in %s/report\n",
				s.Name, len(res.Ran), len(res.Resumed), len(res.Skipped), s.Output)
			if f.baseline == "" {
				return nil
			}
			return compareSweeps(cmd.Context(), streams, f.format, f.baseline, s.Output, f.thresholds, rules)
		},
	}
	cmd.Flags().StringVar(&f.output, "output", "", "sweep directory (default: the sweep file's output)")
	cmd.Flags().StringVar(&f.strategy, "strategy", "", "override the file's strategy: subset or reprovision")
	cmd.Flags().BoolVar(&f.teardown, "teardown", false, "remove the lab when the sweep completes (overrides the file)")
	cmd.Flags().StringVar(&f.baseline, "baseline", "", "compare against this earlier sweep directory when done")
	cmd.Flags().StringVar(&f.thresholds, "thresholds", "", "YAML threshold rules for --baseline; exit code 1 on breach")
	cmd.Flags().StringVarP(&f.format, "format", "o", formatTable, "output format: table, json or yaml")
	cmd.AddCommand(newSweepReportCommand(streams), newSweepCompareCommand(streams))
	return cmd
}

// runSweep runs (or resumes) s on the lab its topology describes.
func runSweep(ctx context.Context, a *app, streams IOStreams, s *sweep.Sweep) (*sweep.Result, error) {
	env, err := a.RunEnv(streams.ErrOut)
	if err != nil {
		return nil, err
	}
	col, err := a.Collector("sweep")
	if err != nil {
		return nil, err
	}
	// The sweep holds its lab from its first change to its end (between
	// cells too); each cell's campaign claims it again.
	held := a.labHolder(s.Output)
	defer held.release()
	sw := &sweep.Sweeper{Lab: held.Lab(a.Lab()), Workloads: held.Workloads(a.Workloads()), Runner: env, Collector: col, Progress: streams.ErrOut}
	res, err := sw.Run(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w (run the same command again to resume)", s.Name, err)
	}
	return res, nil
}

func newSweepReportCommand(streams IOStreams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "report DIR",
		Short: "Write (again) the report of a sweep directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			rep, err := sweep.WriteReport(cmd.Context(), args[0])
			if err != nil {
				return interruptedError(cmd.Context(), err, "sweep report "+args[0])
			}
			return printSweepReport(streams, format, rep)
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func newSweepCompareCommand(streams IOStreams) *cobra.Command {
	var format, thresholds string
	cmd := &cobra.Command{
		Use:   "compare BASELINE CANDIDATE",
		Short: "Compare two sweep directories cell by cell; exit 1 on a threshold breach or a missing cell",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			var rules []compare.Threshold
			if thresholds != "" {
				var err error
				if rules, err = compare.LoadThresholds(thresholds); err != nil {
					return err
				}
			}
			return compareSweeps(cmd.Context(), streams, format, args[0], args[1], thresholds, rules)
		},
	}
	cmd.Flags().StringVar(&thresholds, "thresholds", "", "YAML threshold rules checked on every cell; exit code 1 on breach")
	addOutputFlag(cmd, &format)
	return cmd
}

func compareSweeps(ctx context.Context, streams IOStreams, format, base, cand, thresholdsFile string, rules []compare.Threshold) error {
	cmp, err := sweep.CompareSweeps(ctx, base, cand, compare.Options{Seed: 1}, rules)
	if err != nil {
		return interruptedError(ctx, err, "sweep compare "+base+" "+cand)
	}
	for _, c := range cmp.Cells {
		if err := store.WriteWarnings(streams.ErrOut, c.Comparison.Warnings); err != nil {
			return err
		}
	}
	err = printData(streams.Out, format, cmp, func(tw *tabwriter.Writer) error {
		fmt.Fprintf(tw, "sweep %s against baseline %s\n", cand, base)
		fmt.Fprintln(tw, "CELL\tCONDITION\tMETRIC\tN BASE/CAND\tMEDIAN BASE\tMEDIAN CAND\tDELTA\tADJ P\tVERDICT")
		for _, c := range cmp.Cells {
			for _, r := range c.Comparison.Rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%.0fms\t%.0fms\t%+.0fms\t%.3g\t%s\n", c.Cell, r.Condition, r.Metric,
					r.Baseline.N, r.Candidate.N, r.Baseline.Median, r.Candidate.Median, r.MedianDeltaMS, r.AdjustedP, r.Verdict)
			}
			for _, b := range c.Breaches {
				fmt.Fprintf(tw, "BREACH %s (rule line %d): %s\n", c.Cell, b.Line, b.Message)
			}
		}
		for _, u := range cmp.Unmatched {
			fmt.Fprintf(tw, "unmatched cell: %s\n", u)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var missing []string
	for _, u := range cmp.Unmatched {
		if strings.HasSuffix(u, "(baseline only)") {
			missing = append(missing, u)
		}
	}
	switch {
	case cmp.Breaches() > 0:
		return &exitError{code: exitBreach, err: fmt.Errorf("%d threshold breach(es) of %s", cmp.Breaches(), thresholdsFile)}
	case len(missing) > 0:
		return &exitError{code: exitBreach, err: fmt.Errorf("the sweep lacks baseline cells: %s", strings.Join(missing, ", "))}
	}
	return nil
}

// printSweepReport prints the readers' warnings about the cells' campaigns
// on errOut, as report does, then the report.
func printSweepReport(streams IOStreams, format string, rep *sweep.Report) error {
	if err := store.WriteWarnings(streams.ErrOut, rep.Warnings); err != nil {
		return err
	}
	return printData(streams.Out, format, rep, func(tw *tabwriter.Writer) error {
		fmt.Fprintln(tw, "PROTOCOL\tCLUSTERS\tCONDITION\tRUNS\tTIMED OUT\tALL PEERS MEDIAN\tALL PEERS P90\tRESPONSIVENESS")
		for _, p := range rep.Points {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%.0f ms\t%.0f ms\t%.2f\n", p.Protocol, p.Clusters, p.Condition, p.Runs, p.TimedOut,
				p.AllPeers.Median, p.AllPeers.P90, p.Responsiveness)
		}
		for _, c := range rep.Incomplete {
			fmt.Fprintf(tw, "no results yet: %s\n", c)
		}
		return nil
	})
}
