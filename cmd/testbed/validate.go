package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/topology"
)

type validateResult struct {
	File     string                 `json:"file"`
	Valid    bool                   `json:"valid"`
	Clusters int                    `json:"clusters,omitempty"`
	Errors   []*topology.FieldError `json:"errors,omitempty"`
}

func newValidateCommand(_ *globalOptions, streams IOStreams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check topology files and report every error with file:line:col and a fix",
		Example: `  testbed validate topology/24-nodes.yaml
  testbed validate topology/*.yaml -o json`,
		Args: cobra.MinimumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			results, failed := validateFiles(args)
			if format == formatTable {
				for _, r := range results {
					if r.Valid {
						fmt.Fprintf(streams.Out, "%s: valid (%d clusters)\n", r.File, r.Clusters)
						continue
					}
					for _, e := range r.Errors {
						fmt.Fprintln(streams.ErrOut, e.Error())
					}
				}
			} else if err := printData(streams.Out, format, results, func(*tabwriter.Writer) error { return nil }); err != nil {
				return err
			}
			if failed > 0 {
				if format == formatTable {
					fmt.Fprintf(streams.ErrOut, "testbed: %d of %d topology files are invalid\n", failed, len(results))
				}
				return &exitError{code: 1, err: errSilent}
			}
			return nil
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// validateFiles loads and plans every file; it returns the results and the
// number of invalid files.
func validateFiles(files []string) ([]validateResult, int) {
	var out []validateResult
	failed := 0
	for _, f := range files {
		r := validateResult{File: f}
		t, err := topology.Load(f)
		var p *topology.Plan
		if err == nil {
			p, err = t.Plan()
		}
		if err != nil {
			failed++
			list, ok := topology.AsErrorList(err)
			if !ok {
				list = topology.ErrorList{{File: f, Message: err.Error()}}
			}
			r.Errors = list.Sorted()
		} else {
			r.Valid, r.Clusters = true, len(p.Clusters)
		}
		out = append(out, r)
	}
	return out, failed
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

// reportTopologyError prints a located error list on errOut and returns a
// silent exit error; other errors pass through.
func reportTopologyError(streams IOStreams, err error) error {
	if list, ok := topology.AsErrorList(err); ok {
		for _, e := range list.Sorted() {
			fmt.Fprintln(streams.ErrOut, e.Error())
		}
		return &exitError{code: 1, err: errors.Join(errSilent, err)}
	}
	return err
}
