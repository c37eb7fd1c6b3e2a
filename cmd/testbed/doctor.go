package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/internal/capacity"
	"github.com/fluidos-lab/testbed/internal/preflight"
	"github.com/fluidos-lab/testbed/topology"
)

// doctorDeps are the seams of the doctor command (tests replace them).
type doctorDeps struct {
	host   func() preflight.Host
	docker func() (preflight.DockerAPI, error)
	// extra returns checks other capabilities add (e.g. impairment support).
	extra func(cfg preflight.Config) []preflight.Check
	// measure measures a running lab's per-cluster costs and records them.
	measure func(ctx context.Context, p *topology.Plan, window time.Duration) (capacity.Costs, error)
	// load loads and plans FILE (app.loadLab; default loadTopologyPlan).
	load func(ctx context.Context, file string) (*topology.Topology, *topology.Plan, error)
}

func (a *app) doctorDeps() doctorDeps {
	return doctorDeps{
		host:   preflight.LocalHost,
		docker: func() (preflight.DockerAPI, error) { return a.Docker() },
		extra: func(cfg preflight.Config) []preflight.Check {
			return append(append(a.impairmentChecks(cfg), a.networkChecks(cfg)...), a.hostChecks(cfg)...)
		},
		measure: a.measureLab,
		load:    a.loadLab,
	}
}

const doctorLong = `Check the Docker engine, privileged containers, cgroup mode, kernel limits,
macvlan support, free memory and disk (against the topology's estimate when
FILE is given) and the node image. Exits non-zero if any check fails.

With FILE it also predicts the largest lab this host holds for the
topology's node profile and names the limit that binds first (memory, CPU at
idle, inotify, kernel keys, the neighbour table, bridge ports), from the
per-cluster costs recorded on this host. --measure DURATION measures them
first on the topology's running lab and records them under the state root.`

// doctorOutput is doctor's report with the host's capacity for the
// topology (when FILE is given).
type doctorOutput struct {
	*preflight.Report
	Capacity *capacityView `json:"capacity,omitempty"`
}

// config is the preflight configuration of doctor [FILE]: the planned lab,
// else the node image of the environment.
func (deps doctorDeps) config(ctx context.Context, args []string) (preflight.Config, error) {
	cfg := preflight.Config{Host: deps.host()}
	if len(args) == 0 {
		cfg.NodeImage = os.Getenv(topology.EnvNodeImage)
		if cfg.NodeImage == "" {
			cfg.NodeImage = topology.DefaultNodeImage
		}
		return cfg, nil
	}
	load := deps.load
	if load == nil {
		load = func(_ context.Context, f string) (*topology.Topology, *topology.Plan, error) {
			return loadTopologyPlan(f)
		}
	}
	_, p, err := load(ctx, args[0])
	cfg.Plan = p
	return cfg, err
}

func newDoctorCommand(a *app) *cobra.Command { return newDoctorCommandWith(a.streams, a.doctorDeps()) }

func newDoctorCommandWith(streams IOStreams, deps doctorDeps) *cobra.Command {
	var format string
	var measure time.Duration
	cmd := &cobra.Command{
		Use:   "doctor [FILE]",
		Short: "Check that this host can run the lab, with the exact fix for each problem",
		Long:  doctorLong,
		Example: `  testbed doctor
  testbed doctor topology/24-nodes.yaml -o json
  testbed doctor topology/ci-3-nodes.yaml --measure 30s`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if measure != 0 && (len(args) == 0 || measure < 5*time.Second || measure > 10*time.Minute) {
				return &exitError{code: exitBadInput, err: fmt.Errorf("--measure needs FILE (a running lab's topology) and a window of 5s..10m, e.g. --measure 30s")}
			}
			cfg, err := deps.config(cmd.Context(), args)
			if err != nil {
				return inputError(streams, err)
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
			out := doctorOutput{Report: report}
			if cfg.Plan != nil {
				v, err := doctorCapacity(ctx, streams, deps, cfg, measure)
				if err != nil {
					return err
				}
				out.Capacity = &v
			}
			if err := printData(streams.Out, format, out, func(tw *tabwriter.Writer) error {
				if err := writeDoctorTable(tw, report); err != nil {
					return err
				}
				if out.Capacity != nil {
					writeCapacity(tw, *out.Capacity)
				}
				return nil
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
	cmd.Flags().DurationVar(&measure, "measure", 0, "measure the running lab's per-cluster costs over this window (5s..10m) and record them")
	return cmd
}

// doctorCapacity measures the lab first when measure is set, then predicts
// the largest lab from the recorded costs.
func doctorCapacity(ctx context.Context, streams IOStreams, deps doctorDeps, cfg preflight.Config, measure time.Duration) (capacityView, error) {
	if measure != 0 && deps.measure != nil {
		c, err := deps.measure(ctx, cfg.Plan, measure)
		if err != nil {
			return capacityView{}, fmt.Errorf("measuring lab %s: %w", cfg.Plan.Name, err)
		}
		fmt.Fprintf(streams.ErrOut, "measured lab %s over %.0f s: %.0f MiB and %.3f core per cluster, recorded in %s\n",
			cfg.Plan.Name, c.WindowS, c.MemoryMiB, c.CPUCores, filepath.Join(stateRoot(cfg.Plan), capacity.FileName))
	}
	return planCapacity(cfg.Plan, capacity.HostLimits(cfg.Host.FS, runtime.NumCPU())), nil
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
