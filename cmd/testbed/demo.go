package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// demoFiles are the demo's lab and campaign, written next to its results.
//
//go:embed demo/topology.yaml demo/scenario.yaml
var demoFiles embed.FS

// demoStep is one command of the demo and the time it took on the 2-core
// development host (the ETA's first guess).
type demoStep struct {
	name     string
	args     []string
	expected time.Duration
}

// demoCleanupTimeout bounds the `down` after an interrupted or failed demo.
const demoCleanupTimeout = 5 * time.Minute

func newDemoCommand(a *app) *cobra.Command {
	var (
		keep bool
		dir  string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole job on a small lab: up, selftest, a two-condition campaign, report, down",
		Long: `demo shows the whole job on any host that can run 3 small KinD clusters (about 2 GiB of
memory and 2 cores; about 6 minutes on a 2-core host). It writes its topology and scenario
into --dir and runs, with the same code as the commands of the same names:

  testbed up DIR/topology.yaml         3 clusters with the built-in reference agent
  testbed selftest DIR/topology.yaml   every cluster discovers every other
  testbed run DIR/scenario.yaml        node A cycled 1+4 times at 0 % and at 25 % loss
  testbed report DIR/campaign          report.html, summary.json, plots
  testbed down DIR/topology.yaml       unless --keep

Ctrl-C at any point removes the lab (or keeps it with --keep) and exits 130.`,
		Example: `  testbed demo
  testbed demo --keep --dir /tmp/demo   # then: testbed status /tmp/demo/topology.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				dir = "testbed-demo-" + time.Now().Format("20060102-150405")
			}
			return runDemo(cmd.Context(), a, dir, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the lab afterwards (remove it with testbed down DIR/topology.yaml)")
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the demo's files and results (default: ./testbed-demo-<time>)")
	return cmd
}

// runDemo writes the demo's files into dir and runs its steps in order.
func runDemo(ctx context.Context, a *app, dir string, keep bool) error {
	topo, scen, err := writeDemoFiles(dir)
	if err != nil {
		return err
	}
	campaign := filepath.Join(dir, "campaign")
	steps := []demoStep{
		{"up", []string{"up", topo}, 100 * time.Second},
		{"selftest", []string{"selftest", topo}, 15 * time.Second},
		{"run", []string{"run", scen, "--output", campaign}, 150 * time.Second},
		{"report", []string{"report", campaign}, 10 * time.Second},
	}
	if !keep {
		steps = append(steps, demoStep{"down", []string{"down", topo}, 10 * time.Second})
	}
	w := a.streams.ErrOut
	progress := newDemoProgress(w, steps)
	start := time.Now()
	var done time.Duration // expected time of the steps done
	for i, st := range steps {
		progress.step(i, done, time.Since(start))
		if err := demoRun(ctx, a, st.args); err != nil {
			return demoFail(ctx, a, w, st, topo, keep, err)
		}
		done += st.expected
	}
	progress.done(time.Since(start))
	fmt.Fprintf(a.streams.Out, "report: %s\n", filepath.Join(campaign, "report.html"))
	if keep {
		fmt.Fprintf(a.streams.Out, "lab kept: testbed status %s; remove it with testbed down %s\n", topo, topo)
	}
	return nil
}

// demoProgress shows where the demo is: before each step, and when all
// are done.
type demoProgress interface {
	// step is called before step i starts; doneExpected is the expected
	// time of the steps before it, elapsed the time since the first began.
	step(i int, doneExpected, elapsed time.Duration)
	done(elapsed time.Duration)
}

// newDemoProgress is one progress bar across the steps when w is a
// terminal, a line per step otherwise (captured output: CI, tests, logs).
func newDemoProgress(w io.Writer, steps []demoStep) demoProgress {
	if demoTerminal(w) {
		return newDemoBar(w, steps)
	}
	return demoLines{w: w, steps: steps}
}

// demoTerminal reports whether w is a terminal that can redraw a line
// (the rule of the composition root's provisioning progress).
func demoTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd()) && os.Getenv("TERM") != "dumb"
}

// demoLines prints a line per step with the elapsed time and the ETA.
type demoLines struct {
	w     io.Writer
	steps []demoStep
}

func (l demoLines) step(i int, doneExpected, elapsed time.Duration) {
	fmt.Fprintf(l.w, "demo: step %d/%d %s, %s elapsed, about %s left\n", i+1, len(l.steps), l.steps[i].name,
		elapsed.Round(time.Second), demoETA(l.steps[i:], doneExpected, elapsed).Round(time.Second))
}

func (l demoLines) done(elapsed time.Duration) {
	fmt.Fprintf(l.w, "demo: done in %s\n", elapsed.Round(time.Second))
}

// demoBar is one progress bar across the demo's steps, measured in their
// expected seconds, with the step and its ETA (demoETA) as description.
// It is drawn between the steps, not during them (they print their own
// progress), and each drawing is kept as a line of the terminal.
type demoBar struct {
	w     io.Writer
	steps []demoStep
	bar   *progressbar.ProgressBar
}

func newDemoBar(w io.Writer, steps []demoStep) *demoBar {
	var total time.Duration
	for _, s := range steps {
		total += s.expected
	}
	bar := progressbar.NewOptions64(max(int64(total.Seconds()), 1),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(false), // the step-weighted demoETA is in the description
		progressbar.OptionSetElapsedTime(true),
	)
	return &demoBar{w: w, steps: steps, bar: bar}
}

func (b *demoBar) step(i int, doneExpected, elapsed time.Duration) {
	_ = b.bar.Set64(min(int64(doneExpected.Seconds()), b.bar.GetMax64()))
	b.bar.Describe(fmt.Sprintf("demo %d/%d %s, about %s left ", i+1, len(b.steps), b.steps[i].name,
		demoETA(b.steps[i:], doneExpected, elapsed).Round(time.Second)))
	fmt.Fprintln(b.w) // the step's own output starts below the bar
}

func (b *demoBar) done(elapsed time.Duration) {
	b.bar.Describe(fmt.Sprintf("demo done in %s ", elapsed.Round(time.Second)))
	_ = b.bar.Finish()
	fmt.Fprintln(b.w)
}

// demoETA scales the expected time of the steps left by how fast the
// steps done went compared with their expectation.
func demoETA(left []demoStep, doneExpected, elapsed time.Duration) time.Duration {
	var rest time.Duration
	for _, s := range left {
		rest += s.expected
	}
	if doneExpected > 0 {
		rest = time.Duration(float64(rest) * float64(elapsed) / float64(doneExpected))
	}
	return rest
}

// writeDemoFiles writes topology.yaml and scenario.yaml into dir, refusing
// to overwrite a previous demo's files.
func writeDemoFiles(dir string) (topo, scen string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("demo: %w", err)
	}
	for _, name := range []string{"topology.yaml", "scenario.yaml"} {
		b, err := demoFiles.ReadFile("demo/" + name)
		if err != nil {
			return "", "", fmt.Errorf("demo: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return "", "", badInput(fmt.Errorf("demo: %w (use a new --dir)", err))
		}
		_, werr := f.Write(b)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return "", "", fmt.Errorf("demo: %w", werr)
		}
	}
	return filepath.Join(dir, "topology.yaml"), filepath.Join(dir, "scenario.yaml"), nil
}

// demoRun runs one testbed command in-process on the same app (the same
// clients), keeping -v.
func demoRun(ctx context.Context, a *app, args []string) error {
	v := a.verbosity
	for range v {
		args = append(args, "-v")
	}
	root := newRootCommand(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	a.verbosity = v
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintf(a.streams.ErrOut, "testbed %s: %v\n", strings.Join(args, " "), err)
	}
	return err
}

// demoFail removes the lab after a failed or interrupted step (unless
// keep), under a fresh bounded context, and returns the step's error.
func demoFail(ctx context.Context, a *app, w io.Writer, st demoStep, topo string, keep bool, err error) error {
	why := "failed"
	if ctx.Err() != nil {
		why = "interrupted"
	}
	if keep || st.name == "down" {
		fmt.Fprintf(w, "demo: %s %s; the lab is kept (testbed down %s removes it)\n", st.name, why, topo)
		return err
	}
	fmt.Fprintf(w, "demo: %s %s; removing the lab\n", st.name, why)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), demoCleanupTimeout)
	defer cancel()
	if derr := demoRun(dctx, a, []string{"down", topo}); derr != nil {
		fmt.Fprintf(w, "demo: removing the lab failed too: run testbed down %s\n", topo)
	}
	return err
}
