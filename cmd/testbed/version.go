package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type versionInfo struct {
	Tool         string            `json:"tool"`
	Commit       string            `json:"commit,omitempty"`
	Go           string            `json:"go"`
	Dependencies map[string]string `json:"dependencies"`
}

// keyDependencies are the modules whose versions matter to a lab's results.
var keyDependencies = []string{
	"sigs.k8s.io/kind",
	"helm.sh/helm/v3",
	"k8s.io/client-go",
	"github.com/docker/docker",
	"golang.org/x/sync",
}

func readVersionInfo() versionInfo {
	v := versionInfo{Tool: version, Go: runtime.Version(), Dependencies: map[string]string{}}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v.Commit = s.Value
		}
	}
	for _, d := range bi.Deps {
		for _, k := range keyDependencies {
			if d.Path == k {
				v.Dependencies[k] = d.Version
			}
		}
	}
	return v
}

func newVersionCommand(a *app) *cobra.Command {
	streams := a.streams
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the tool, Go and dependency versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			v := readVersionInfo()
			return printData(streams.Out, format, v, func(tw *tabwriter.Writer) error {
				fmt.Fprintf(tw, "testbed\t%s\n", v.Tool)
				if v.Commit != "" {
					fmt.Fprintf(tw, "commit\t%s\n", v.Commit)
				}
				fmt.Fprintf(tw, "go\t%s\n", v.Go)
				for _, k := range keyDependencies {
					if ver, ok := v.Dependencies[k]; ok {
						fmt.Fprintf(tw, "%s\t%s\n", k, ver)
					}
				}
				return nil
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}
