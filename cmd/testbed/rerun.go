package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/internal/agentimage"
	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/results/provenance"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios/sweep"
)

type rerunFlags struct {
	output string
	fresh  bool
	plan   bool
	alpha  float64
	format string
}

type rerunOutput struct {
	Source      string          `json:"source"`
	Output      string          `json:"output"`
	NodeImage   string          `json:"nodeImage"`
	Exact       bool            `json:"exact"`
	Differences []string        `json:"differences"`
	Comparison  *compare.Result `json:"comparison,omitempty"`
	Significant []string        `json:"significant"`
	// ReadBack are differences read back from the recreated lab.
	ReadBack []string `json:"readBack,omitempty"`
}

func newRerunCommand(a *app) *cobra.Command {
	streams := a.streams
	f := &rerunFlags{}
	cmd := &cobra.Command{
		Use:   "rerun DIR",
		Short: "Recreate a campaign's lab from its manifest, run the same scenario again and compare",
		Long: `rerun reads DIR/manifest.json (a campaign, or one cell of a sweep), recreates the same lab from the
recorded topology with the node image pinned by digest (or by its local image ID, verified), runs
the recorded scenario (same seed, same clusters) into a new directory and compares the new campaign
against the original. --fresh tears the lab down first. Everything that cannot be reproduced
exactly (another testbed binary, Docker engine or kernel; a node or host image whose digest is no
longer on this host; images the original ran by a moving tag) is listed before the run and recorded
as warnings in the new manifest. The exit code is 1 when the comparison finds a significant
difference; --plan only lists what would differ.`,
		Example: `  testbed rerun results/nightly/reference-agent/3-clusters --fresh
  testbed rerun results/selftest --plan`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRerun(cmd.Context(), a, streams, f, args[0])
		},
	}
	cmd.Flags().StringVar(&f.output, "output", "", "directory of the new campaign (default DIR-rerun-<time>; an existing one is resumed)")
	cmd.Flags().BoolVar(&f.fresh, "fresh", false, "tear the lab down first and create it again")
	cmd.Flags().BoolVar(&f.plan, "plan", false, "only list what would not be reproduced exactly")
	cmd.Flags().Float64Var(&f.alpha, "alpha", 0.05, "significance level of the comparison")
	cmd.Flags().StringVarP(&f.format, "format", "o", formatTable, "output format: table, json or yaml")
	return cmd
}

// runRerun plans the rerun of the campaign in dir and, unless --plan,
// runs it and prints the comparison; a significant difference is an
// exitBreach error.
func runRerun(ctx context.Context, a *app, streams IOStreams, f *rerunFlags, dir string) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	// --alpha is judged before anything runs: a campaign must not end in
	// a comparison that refuses its options (or, worse, one that fails open).
	if err := rerunCompareOptions(f).Validate(); err != nil {
		return badInput(fmt.Errorf("--alpha: %w", err))
	}
	dc, err := a.Docker()
	if err != nil {
		return err
	}
	p, err := sweep.PlanRerun(ctx, dir, provenance.DockerClient{Client: dc}, rerunOptions(ctx, dc))
	if err != nil {
		return fmt.Errorf("rerun: %w", err)
	}
	out := planOutput(streams.ErrOut, dir, p)
	if f.plan {
		return printRerun(streams.Out, f.format, out)
	}
	out.Output = rerunDir(f.output, dir)
	res, err := executeRerun(ctx, a, streams, f, p, out.Output)
	if err != nil {
		return err
	}
	out.addResult(res)
	if res.Comparison != nil {
		if err := store.WriteWarnings(streams.ErrOut, res.Comparison.Warnings); err != nil {
			return err
		}
	}
	if err := printRerun(streams.Out, f.format, out); err != nil {
		return err
	}
	if len(res.Significant) > 0 {
		return &exitError{code: exitBreach, err: fmt.Errorf("rerun of %s differs significantly from the original in %d row(s)", dir, len(res.Significant))}
	}
	return nil
}

// rerunOptions describes this binary, host and Docker engine, and the
// reference agent image this binary provisions, for comparison with the
// manifest.
func rerunOptions(ctx context.Context, dc *client.Client) sweep.RerunOptions {
	opts := sweep.RerunOptions{Software: provenance.ReadSoftware(version), Host: provenance.ReadHost(os.DirFS("/"))}
	if v, err := dc.ServerVersion(ctx); err == nil {
		opts.Software.Docker = fmt.Sprintf("%s (API %s)", v.Version, v.APIVersion)
	}
	if exe, err := os.Executable(); err == nil {
		if b, err := os.ReadFile(exe); err == nil {
			opts.AgentImage = agentimage.Ref(b)
		}
	}
	return opts
}

// planOutput is the output of the plan p for the campaign in dir; what will
// not be exact is also listed on errOut.
func planOutput(errOut io.Writer, dir string, p *sweep.RerunPlan) rerunOutput {
	out := rerunOutput{Source: dir, NodeImage: p.NodeImage, Exact: p.Exact(), Differences: p.Differences, Significant: []string{}}
	if out.Differences == nil {
		out.Differences = []string{}
	}
	if !p.Exact() {
		fmt.Fprintf(errOut, "rerun of %s will not be exact:\n  - %s\n", dir, strings.Join(p.Differences, "\n  - "))
	}
	return out
}

// rerunDir is the new campaign's directory: --output, else
// DIR-rerun-<UTC time>.
func rerunDir(output, dir string) string {
	if output == "" {
		return filepath.Clean(dir) + "-rerun-" + time.Now().UTC().Format("20060102-150405")
	}
	return output
}

// executeRerun runs p into out on the lab and compares the result; an
// error says how to resume.
func executeRerun(ctx context.Context, a *app, streams IOStreams, f *rerunFlags, p *sweep.RerunPlan, out string) (*sweep.RerunResult, error) {
	env, err := a.RunEnv(streams.ErrOut)
	if err != nil {
		return nil, err
	}
	col, err := a.Collector("campaign")
	if err != nil {
		return nil, err
	}
	// The rerun holds its lab from its first change (a --fresh down, the
	// workloads it switches) to its end; the campaign claims it again.
	held := a.labHolder(out)
	defer held.release()
	rr := &sweep.Rerunner{Lab: held.Lab(a.Lab()), Workloads: held.Workloads(a.Workloads()), Runner: env, Collector: col, Progress: streams.ErrOut}
	res, err := rr.Run(ctx, p, out, f.fresh, rerunCompareOptions(f))
	if err != nil {
		return nil, fmt.Errorf("%w (run the same command with --output %s to resume)", err, out)
	}
	return res, nil
}

// rerunCompareOptions are the options of the rerun's comparison: --alpha,
// the default bootstrap and seed 1.
func rerunCompareOptions(f *rerunFlags) compare.Options {
	return compare.Options{Alpha: f.alpha, Bootstrap: compare.DefaultBootstrap, Seed: 1}
}

// addResult records the rerun's comparison and read-back differences; any
// read-back difference makes the rerun not exact.
func (o *rerunOutput) addResult(res *sweep.RerunResult) {
	o.Comparison = res.Comparison
	o.ReadBack = res.ReadBack
	o.Exact = o.Exact && len(res.ReadBack) == 0
	if res.Significant != nil {
		o.Significant = res.Significant
	}
}

// printRerun prints out in format (a table, JSON or YAML).
func printRerun(w io.Writer, format string, out rerunOutput) error {
	return printData(w, format, out, func(tw *tabwriter.Writer) error { return rerunTable(tw, out) })
}

func rerunTable(tw *tabwriter.Writer, o rerunOutput) error {
	fmt.Fprintf(tw, "rerun of %s\n", o.Source)
	if o.NodeImage != "" {
		fmt.Fprintf(tw, "node image pinned: %s\n", o.NodeImage)
	}
	if o.Exact {
		fmt.Fprintln(tw, "reproduction: exact (same software, host and node image; images and charts read back the same)")
	} else {
		fmt.Fprintf(tw, "reproduction: NOT exact (%d difference(s))\n", len(o.Differences)+len(o.ReadBack))
		for _, d := range o.Differences {
			fmt.Fprintf(tw, "  - %s\n", d)
		}
	}
	if o.Comparison == nil {
		return nil
	}
	for _, d := range o.ReadBack {
		fmt.Fprintf(tw, "  - %s\n", d)
	}
	fmt.Fprintf(tw, "new campaign: %s\n", o.Output)
	fmt.Fprintln(tw, "CONDITION\tMETRIC\tN ORIG/RERUN\tMEDIAN ORIG\tMEDIAN RERUN\tDELTA\tADJ P\tVERDICT")
	for _, r := range o.Comparison.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.0fms\t%.0fms\t%+.0fms\t%.3g\t%s\n", r.Condition, r.Metric, r.Baseline.N, r.Candidate.N,
			r.Baseline.Median, r.Candidate.Median, r.MedianDeltaMS, r.AdjustedP, r.Verdict)
	}
	if len(o.Significant) == 0 {
		fmt.Fprintln(tw, "compare: no significant difference")
	} else {
		fmt.Fprintf(tw, "compare: %d significant difference(s)\n", len(o.Significant))
	}
	return nil
}
