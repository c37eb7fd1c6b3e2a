package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/results/report"
	"github.com/fluidos-lab/testbed/results/stats"
)

type reportFlags struct {
	out       string
	runsShown int
	noPNG     bool
	format    string
}

type reportOutput struct {
	Files    *report.Files            `json:"files"`
	Summary  []reportConditionSummary `json:"conditions"`
	Warnings []string                 `json:"warnings,omitempty"`
}

type reportConditionSummary struct {
	Condition       string   `json:"condition"`
	Runs            int      `json:"runs"`
	TimedOut        int      `json:"timedOut"`
	FirstMedianMS   float64  `json:"firstPeerMedianMS"`
	AllMedianMS     float64  `json:"allPeersMedianMS"`
	AllP90MS        float64  `json:"allPeersP90MS"`
	AchievedLossPct *float64 `json:"achievedLossPct,omitempty"`
	KS              *float64 `json:"ksVsModel,omitempty"`
}

func newReportCommand(a *app) *cobra.Command {
	streams := a.streams
	f := &reportFlags{}
	cmd := &cobra.Command{
		Use:   "report DIR",
		Short: "Write report.html, summary.json and plots for a campaign directory",
		Long: `report reads a campaign directory (manifest.json, runs.jsonl), computes per-condition
statistics and the discovery-time model, and writes a self-contained report.html (inline SVG,
no external assets), summary.json with the same numbers, and every plot as SVG and PNG under plots/.

Memory: when GOMEMLIMIT is not set, report sets a soft memory limit of 400 MiB
(runtime/debug.SetMemoryLimit) while it runs, so that the garbage collector keeps
the process within about 500 MiB on a campaign of 10^6 runs; the previous limit is
restored when it returns. Set GOMEMLIMIT (for example GOMEMLIMIT=2GiB, or
GOMEMLIMIT=off for none) to choose the limit yourself; report then leaves it alone.
Ctrl-C stops it at once (exit 130); summary.json and report.html are written last and
atomically, so an interrupted report leaves the previous ones (if any) intact.`,
		Example: `  testbed report runs/2026-11-26-loss
  testbed report runs/2026-11-26-loss --out /tmp/report -o json`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			if f.runsShown < 1 || f.runsShown > stats.MaxCurves {
				return badInput(fmt.Errorf("--runs-shown %d is out of range: give 1 to %d (a condition keeps at most %d run curves)",
					f.runsShown, stats.MaxCurves, stats.MaxCurves))
			}
			defer softMemoryLimit(reportMemoryLimit)()
			files, err := writeReport(cmd.Context(), args[0], f)
			if err != nil {
				return err
			}
			return printReport(streams, f.format, files)
		},
	}
	cmd.Flags().StringVar(&f.out, "out", "", "directory for report.html, summary.json and plots/ (default: the campaign directory)")
	cmd.Flags().IntVar(&f.runsShown, "runs-shown", 10, "runs drawn in each per-run curve plot")
	cmd.Flags().BoolVar(&f.noPNG, "no-png", false, "write only SVG plots")
	addOutputFlag(cmd, &f.format)
	return cmd
}

// reportMemoryLimit is the soft memory limit report and compare set when
// GOMEMLIMIT is not set (see the commands' help).
const reportMemoryLimit = 400 << 20

// softMemoryLimit sets the runtime's soft memory limit to limit bytes,
// unless GOMEMLIMIT is set in the environment (the user chose a limit), and
// returns the function that restores the previous limit.
func softMemoryLimit(limit int64) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(limit)
	return func() { debug.SetMemoryLimit(prev) }
}

// writeReport writes the report of the campaign in dir. It returns at once
// when ctx ends: the campaign reader stops within a few lines, and the
// plotting, which takes no context, is abandoned; report.WriteDir writes
// summary.json and report.html last, atomically, so an interrupt never
// half-writes them.
func writeReport(ctx context.Context, dir string, f *reportFlags) (*report.Files, error) {
	files, err := interruptible(ctx, func() (*report.Files, error) {
		return report.WriteDir(ctx, dir, report.Options{OutDir: f.out, RunsShown: f.runsShown, NoPNG: f.noPNG})
	})
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return nil, fmt.Errorf("report %s interrupted before the report was written: %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("writing report: %w", err)
	}
	return files, nil
}

func printReport(streams IOStreams, format string, files *report.Files) error {
	s := files.Stats
	out := reportOutput{Files: files, Warnings: s.Warnings}
	for _, cs := range s.Conditions {
		row := reportConditionSummary{Condition: cs.Name, Runs: cs.Runs, TimedOut: cs.TimedOutRuns,
			FirstMedianMS: cs.FirstPeer.Median, AllMedianMS: cs.AllPeers.Median, AllP90MS: cs.AllPeers.P90,
			AchievedLossPct: cs.AchievedLossPct}
		if cs.Model != nil {
			ks := cs.Model.KSPeer
			row.KS = &ks
		}
		out.Summary = append(out.Summary, row)
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(streams.ErrOut, "warning: %s\n", w)
	}
	for _, cs := range s.Conditions {
		if cs.FaultedRuns > 0 {
			fmt.Fprintf(streams.ErrOut, "warning: condition %s: %d run(s) excluded, the lab was disturbed during them: %s\n", cs.Name, cs.FaultedRuns, strings.Join(cs.Faults, "; "))
		}
	}
	return printData(streams.Out, format, out, func(tw *tabwriter.Writer) error {
		fmt.Fprintln(tw, "CONDITION\tRUNS\tTIMED OUT\tFIRST PEER MEDIAN\tALL PEERS MEDIAN\tALL PEERS P90\tACHIEVED LOSS\tKS VS MODEL")
		for _, r := range out.Summary {
			loss, ks := "-", "-"
			if r.AchievedLossPct != nil {
				loss = fmt.Sprintf("%.1f%%", *r.AchievedLossPct)
			}
			if r.KS != nil {
				ks = fmt.Sprintf("%.3f", *r.KS)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2fs\t%.2fs\t%.2fs\t%s\t%s\n", r.Condition, r.Runs, r.TimedOut,
				r.FirstMedianMS/1000, r.AllMedianMS/1000, r.AllP90MS/1000, loss, ks)
		}
		fmt.Fprintf(tw, "\nreport:\t%s\nsummary:\t%s\nplots:\t%d files\n", files.HTML, files.Summary, len(files.Plots))
		return nil
	})
}
