package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/sweep"
	"github.com/fluidos-lab/testbed/topology"
)

type validateResult struct {
	File     string                 `json:"file"`
	Kind     string                 `json:"kind"`
	Valid    bool                   `json:"valid"`
	Clusters int                    `json:"clusters,omitempty"`
	Errors   []*topology.FieldError `json:"errors,omitempty"`
}

func newValidateCommand(a *app) *cobra.Command {
	streams := a.streams
	var format string
	var deep bool
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check topology, scenario, sweep and thresholds files and report every error with file:line:col and a fix",
		Long: `Check topology, scenario, sweep and thresholds files and report every error with file:line:col and a fix.

A scenario's topology must load and plan, and its nodeA must be one of the
topology's clusters; a sweep's template scenario (and topology, if it names
one) must pass the same checks. Errors found in a referenced file are
located in that file.

--deep also checks every local chart of the topology (the file's own, or
the one a scenario or sweep uses) as up installs it: a relative path is
resolved against the current directory (shipped charts/… paths: the
repository root) and must be a chart directory with a Chart.yaml or a
packaged .tgz.`,
		Example: `  testbed validate topology/24-nodes.yaml
  testbed validate topology/*.yaml -o json
  testbed validate scenarios/selftest.yaml scenarios/sweep/ci-2x2.yaml
  testbed validate --deep topology/ci-3-nodes.yaml`,
		Args: cobra.MinimumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			results, failed, err := validateFiles(cmd.Context(), args, deep)
			if err != nil {
				return err
			}
			if err := printValidate(streams, format, results); err != nil {
				return err
			}
			if failed > 0 {
				if format == formatTable {
					fmt.Fprintf(streams.ErrOut, "testbed: %d of %d files are invalid\n", failed, len(results))
				}
				return &exitError{code: exitBadInput, err: errSilent}
			}
			return nil
		},
	}
	addOutputFlag(cmd, &format)
	cmd.Flags().BoolVar(&deep, "deep", false, "also check that every local chart path exists, resolved as up resolves it")
	return cmd
}

// printValidate prints the results: in a table one line per valid file on
// out and every error on errOut; otherwise the results as data.
func printValidate(streams IOStreams, format string, results []validateResult) error {
	if format != formatTable {
		return printData(streams.Out, format, results, func(*tabwriter.Writer) error { return nil })
	}
	for _, r := range results {
		switch {
		case r.Valid && r.Kind == kindTopology:
			fmt.Fprintf(streams.Out, "%s: valid topology (%d clusters)\n", r.File, r.Clusters)
		case r.Valid:
			fmt.Fprintf(streams.Out, "%s: valid %s\n", r.File, strings.ToLower(r.Kind))
		default:
			for _, e := range r.Errors {
				fmt.Fprintln(streams.ErrOut, e.Error())
			}
		}
	}
	return nil
}

// File kinds validate understands, read from the document's `kind:` line.
const (
	kindTopology = "Topology"
	kindScenario = "Scenario"
	kindSweep    = "Sweep"
	// kindThresholds is compare's and sweep compare's rules file.
	kindThresholds = compare.ThresholdsKind
)

var kindLine = regexp.MustCompile(`(?m)^kind:[ \t]*["']?([A-Za-z]+)`)

// fileKind names the kind a file declares, read from at most the first
// yamlfile.DefaultLimits.MaxBytes (so that a file beyond the size limit is
// refused by its own kind's loader, and /dev/zero is never read whole); a
// file that declares none (or cannot be read) is validated as a topology,
// whose loader reports why.
func fileKind(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return kindTopology
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(yamlfile.DefaultLimits.MaxBytes)))
	if err != nil {
		return kindTopology
	}
	if m := kindLine.FindSubmatch(b); m != nil {
		switch string(m[1]) {
		case kindScenario, kindSweep, kindThresholds:
			return string(m[1])
		}
	}
	return kindTopology
}

// validateFiles loads every file as the kind it declares (topologies are
// also planned); it returns the results and the number of invalid files.
// When ctx ends it stops at once, in the middle of a file if need be, and
// returns an error wrapping ctx's.
func validateFiles(ctx context.Context, files []string, deep bool) ([]validateResult, int, error) {
	var out []validateResult
	failed := 0
	for i, f := range files {
		r, err := interruptible(ctx, func() (validateResult, error) { return validateFile(f, deep), nil })
		if err != nil {
			return nil, 0, fmt.Errorf("validate interrupted after %d of %d files (at %s): %w", i, len(files), f, err)
		}
		if !r.Valid {
			failed++
		}
		out = append(out, r)
	}
	return out, failed, nil
}

// validateFile loads one file as the kind it declares (a topology is also
// planned) and reports whether it is valid, with its located errors. With
// deep, the local chart paths of the topology it is or uses are checked too.
func validateFile(f string, deep bool) validateResult {
	r := validateResult{File: f, Kind: fileKind(f)}
	var err error
	topo := ""
	switch r.Kind {
	case kindScenario:
		var s *scenarios.Scenario
		if s, err = scenarios.Load(f); err == nil {
			err, topo = scenarios.CheckReferences(s).Err(), s.TopologyFile
		}
	case kindSweep:
		var sw *sweep.Sweep
		if sw, err = sweep.Load(f); err == nil {
			err, topo = sweep.CheckReferences(sw).Err(), sweepTopology(sw)
		}
	case kindThresholds:
		_, err = compare.LoadThresholds(f)
	default:
		var p *topology.Plan
		if _, p, err = loadTopologyPlan(f); err == nil {
			r.Clusters, topo = len(p.Clusters), f
		}
	}
	if err == nil && deep && topo != "" {
		err = checkChartPaths(topo)
	}
	if err == nil {
		r.Valid = true
		return r
	}
	list, ok := topology.AsErrorList(err)
	if !ok {
		list = topology.ErrorList{{File: f, Message: err.Error()}}
	}
	r.Errors = list.Sorted()
	return r
}

// sweepTopology is the topology a sweep runs on: its own, else its
// template's ("" when the template does not load; CheckReferences said why).
func sweepTopology(sw *sweep.Sweep) string {
	if sw.TopologyFile != "" {
		return sw.TopologyFile
	}
	if s, err := scenarios.Load(sw.ScenarioFile); err == nil {
		return s.TopologyFile
	}
	return ""
}

// checkChartPaths checks the local chart paths of the topology in file
// (already validated), located in that file.
func checkChartPaths(file string) error {
	t, err := topology.Load(file)
	if err != nil {
		return err
	}
	return t.CheckChartPaths().Err()
}

// loadTopologyPlan loads one topology and plans it; errors come back as the located list.
func loadTopologyPlan(file string) (*topology.Topology, *topology.Plan, error) {
	t, err := topology.Load(file)
	if err != nil {
		return nil, nil, err
	}
	p, err := t.Plan()
	if err != nil {
		return nil, nil, err
	}
	return t, p, nil
}

// inputError prints a located error list (an invalid input file) on
// errOut, one error per line, and returns a silent bad-input error (exit
// 2); other errors pass through.
func inputError(streams IOStreams, err error) error {
	if list, ok := yamlfile.AsErrorList(err); ok {
		for _, e := range list.Sorted() {
			fmt.Fprintln(streams.ErrOut, e.Error())
		}
		return &exitError{code: exitBadInput, err: errors.Join(errSilent, err)}
	}
	return err
}
