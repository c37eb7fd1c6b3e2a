package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/results/store"
)

type compareFlags struct {
	thresholds string
	alpha      float64
	bootstrap  int
	seed       uint64
	format     string
}

type compareOutput struct {
	*compare.Result
	Thresholds []compare.Threshold `json:"thresholds,omitempty"`
	Breaches   []compare.Breach    `json:"breaches"`
}

func newCompareCommand(a *app) *cobra.Command {
	streams := a.streams
	f := &compareFlags{}
	cmd := &cobra.Command{
		Use:   "compare BASELINE CANDIDATE",
		Short: "Compare two campaigns per condition and metric; exit 1 when a threshold is breached",
		Long: `compare analyses two campaign directories and, for every condition they share and every
metric (firstPeer, allPeers, anyPeer, k1..kN = time to the k-th peer), reports the median delta
with a seeded bootstrap 95 % confidence interval, the Mann–Whitney U p-value (normal approximation,
tie corrected; also Holm-adjusted over all rows) and the two-sample Kolmogorov–Smirnov p-value,
and a verdict: regression or improvement when the adjusted p-value is below --alpha and the CI
excludes zero, otherwise no change.

With --thresholds FILE the exit code is 3 when any rule is breached:
  apiVersion: testbed.dev/v1alpha1
  kind: Thresholds
  rules:
    - metric: allPeers
      stat: p90
      condition: loss-10
      max: 12s
    - metric: median          # a stat name alone applies to every metric
      maxRegressionPct: 5
      alpha: 0.01

Both campaigns are streamed from disk: memory holds their discovery times, never their runs.
As report does, compare sets a soft memory limit of 400 MiB while it runs unless GOMEMLIMIT
is set (about 450 MiB at most for two campaigns of 10^6 runs and 23 peers). Ctrl-C stops it
at once (exit 130).`,
		Example: `  testbed compare runs/nightly-prev runs/nightly --thresholds .ci/thresholds.yaml
  testbed compare runs/a runs/b -o json`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			var rules []compare.Threshold
			if f.thresholds != "" {
				var err error
				if rules, err = compare.LoadThresholds(f.thresholds); err != nil {
					return err
				}
			}
			opts := compare.Options{Alpha: f.alpha, Bootstrap: f.bootstrap, Seed: f.seed}
			if err := opts.Validate(); err != nil {
				return badInput(err)
			}
			defer softMemoryLimit(reportMemoryLimit)()
			res, err := compare.Dirs(cmd.Context(), args[0], args[1], opts)
			if err != nil {
				return interruptedError(cmd.Context(), err, "compare "+args[0]+" "+args[1])
			}
			// The readers' warnings, as report and export print them.
			if err := store.WriteWarnings(streams.ErrOut, res.Warnings); err != nil {
				return err
			}
			out := compareOutput{Result: res, Thresholds: rules}
			out.Breaches = out.Check(rules)
			if out.Breaches == nil {
				out.Breaches = []compare.Breach{}
			}
			if err := printData(streams.Out, f.format, out, func(tw *tabwriter.Writer) error { return compareTable(tw, out) }); err != nil {
				return err
			}
			if len(out.Breaches) > 0 {
				return &exitError{code: exitBreach, err: fmt.Errorf("%d threshold breach(es) in %s", len(out.Breaches), f.thresholds)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.thresholds, "thresholds", "", "YAML file of threshold rules (kind: Thresholds); exit code 3 on a breach")
	cmd.Flags().Float64Var(&f.alpha, "alpha", 0.05, "significance level of the verdicts")
	cmd.Flags().IntVar(&f.bootstrap, "bootstrap", 2000, "bootstrap resamples for the median-delta confidence interval")
	cmd.Flags().Uint64Var(&f.seed, "seed", 1, "seed of the bootstrap (results are deterministic for a seed)")
	addOutputFlag(cmd, &f.format)
	return cmd
}

func compareTable(tw *tabwriter.Writer, out compareOutput) error {
	fmt.Fprintf(tw, "baseline %s, candidate %s, alpha %g, %d bootstrap resamples\n\n", out.Baseline, out.Candidate, out.Alpha, out.Bootstrap)
	fmt.Fprintln(tw, "CONDITION\tMETRIC\tN BASE/CAND\tMEDIAN BASE\tMEDIAN CAND\tDELTA\t95% CI\tMW P\tADJ P\tKS P\tVERDICT")
	for _, r := range out.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.0fms\t%.0fms\t%+.0fms (%+.1f%%)\t[%+.0f, %+.0f]\t%.3g\t%.3g\t%.3g\t%s\n",
			r.Condition, r.Metric, r.Baseline.N, r.Candidate.N, r.Baseline.Median, r.Candidate.Median,
			r.MedianDeltaMS, r.MedianDeltaPct, r.CILowMS, r.CIHighMS, r.MannWhitneyP, r.AdjustedP, r.KSP, r.Verdict)
	}
	for _, u := range out.Unmatched {
		fmt.Fprintf(tw, "unmatched condition: %s\n", u)
	}
	if len(out.Thresholds) > 0 {
		fmt.Fprintf(tw, "\n%d threshold rule(s), %d breach(es)\n", len(out.Thresholds), len(out.Breaches))
		for _, b := range out.Breaches {
			fmt.Fprintf(tw, "BREACH (rule line %d): %s\n", b.Line, b.Message)
		}
	}
	return nil
}
