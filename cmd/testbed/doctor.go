package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/internal/preflight"
	"github.com/fluidos-lab/testbed/topology"
)

// doctorDeps are the seams of the doctor command (tests replace them).
type doctorDeps struct {
	host   func() preflight.Host
	docker func() (preflight.DockerAPI, error)
	// extra returns checks other capabilities add (e.g. impairment support).
	extra func(cfg preflight.Config) []preflight.Check
}

func (a *app) doctorDeps() doctorDeps {
	return doctorDeps{
		host:   preflight.LocalHost,
		docker: func() (preflight.DockerAPI, error) { return a.Docker() },
		extra: func(cfg preflight.Config) []preflight.Check {
			return append(a.impairmentChecks(cfg), a.networkChecks(cfg)...)
		},
	}
}

func newDoctorCommand(a *app) *cobra.Command { return newDoctorCommandWith(a.streams, a.doctorDeps()) }

func newDoctorCommandWith(streams IOStreams, deps doctorDeps) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "doctor [FILE]",
		Short: "Check that this host can run the lab, with the exact fix for each problem",
		Long: `Check the Docker engine, privileged containers, cgroup mode, kernel limits,
macvlan support, free memory and disk (against the topology's estimate when
FILE is given) and the node image. Exits non-zero if any check fails.`,
		Example: `  testbed doctor
  testbed doctor topology/24-nodes.yaml -o json`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			cfg := preflight.Config{Host: deps.host()}
			if len(args) == 1 {
				_, p, err := loadTopologyPlan(args[0])
				if err != nil {
					return inputError(streams, err)
				}
				cfg.Plan = p
			} else {
				cfg.NodeImage = os.Getenv(topology.EnvNodeImage)
				if cfg.NodeImage == "" {
					cfg.NodeImage = topology.DefaultNodeImage
				}
			}
			d, err := deps.docker()
			if err != nil {
				cfg.DockerErr = err
			} else {
				cfg.Docker = d
			}
			ctx := cmd.Context()
			checks := preflight.DefaultChecks(ctx, cfg)
			if deps.extra != nil {
				checks = append(checks, deps.extra(cfg)...)
			}
			report := preflight.Run(ctx, checks, 2*time.Minute)
			if err := printData(streams.Out, format, report, func(tw *tabwriter.Writer) error {
				return writeDoctorTable(tw, report)
			}); err != nil {
				return err
			}
			if !report.OK() {
				return &exitError{code: exitDoctor, err: fmt.Errorf("%d of %d checks failed", report.Failed, len(report.Checks))}
			}
			return nil
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func writeDoctorTable(tw *tabwriter.Writer, r *preflight.Report) error {
	marks := map[preflight.Status]string{preflight.Pass: "✓ pass", preflight.Warn: "! warn", preflight.Fail: "✗ fail"}
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", marks[c.Status], c.Name, c.Detail)
		if c.Fix != "" && c.Status != preflight.Pass {
			fmt.Fprintf(tw, "\t\tfix: %s\n", c.Fix)
		}
	}
	fmt.Fprintf(tw, "\n%s\n", strings.TrimSpace(fmt.Sprintf("%d passed, %d warnings, %d failed", r.Passed, r.Warned, r.Failed)))
	return nil
}
