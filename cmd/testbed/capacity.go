package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/fluidos-lab/testbed/internal/capacity"
	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/topology"
)

// capacityView is the largest lab this host holds, from the per-cluster
// costs recorded for the plan's profile (or the built-in estimate).
type capacityView struct {
	Profile string           `json:"profile"`
	Costs   capacity.Costs   `json:"costs"`
	Host    capacity.Host    `json:"host"`
	Bounds  []capacity.Bound `json:"bounds"`
	Largest int              `json:"largest"`
	Binding string           `json:"binding"`
	Planned int              `json:"planned"`
	Error   string           `json:"error,omitempty"`
}

// stateRoot is the state root the plan's lab lives in.
func stateRoot(p *topology.Plan) string { return filepath.Dir(p.StateDir) }

// planProfile is the profile of most of the plan's clusters and the mean
// node count per cluster.
func planProfile(p *topology.Plan) (string, float64) {
	count := map[string]int{}
	nodes := 0
	best := topology.DefaultProfile
	for _, c := range p.Clusters {
		count[c.Profile]++
		nodes += max(len(c.Nodes), 1)
		if count[c.Profile] > count[best] {
			best = c.Profile
		}
	}
	if len(p.Clusters) == 0 {
		return best, 1
	}
	return best, float64(nodes) / float64(len(p.Clusters))
}

func planCapacity(p *topology.Plan, host capacity.Host) capacityView {
	profile, nodes := planProfile(p)
	v := capacityView{Profile: profile, Host: host, Planned: len(p.Clusters)}
	f, err := capacity.Load(stateRoot(p))
	if err != nil {
		v.Error = err.Error()
	}
	v.Costs = f.For(profile, nodes)
	v.Bounds = capacity.Bounds(v.Costs, host)
	if len(v.Bounds) > 0 {
		v.Largest, v.Binding = v.Bounds[0].Clusters, v.Bounds[0].Limit
	}
	return v
}

func localHostLimits() capacity.Host { return capacity.HostLimits(os.DirFS("/"), runtime.NumCPU()) }

func writeCapacity(tw *tabwriter.Writer, v capacityView) {
	c := v.Costs
	src := "built-in estimate: nothing measured on this host yet (testbed doctor FILE --measure 30s on a running lab)"
	if c.Source == "measured" {
		src = fmt.Sprintf("measured %s on lab %s (%d clusters, %.0f s, during %s)", c.MeasuredAt.Format(time.RFC3339), c.Lab, c.Clusters, c.WindowS, c.During)
	}
	fmt.Fprintf(tw, "\ncapacity for profile %s, per cluster: %.0f MiB anonymous (%.0f MiB working set), %.3f core idle, %.0f inotify instances, %.0f watches, %.0f keys (%s)\n",
		v.Profile, c.MemoryMiB, c.WorkingSetMiB, c.CPUCores, c.InotifyInstances, c.InotifyWatches, c.Keys, src)
	if v.Error != "" {
		fmt.Fprintf(tw, "  (costs file ignored: %s)\n", v.Error)
	}
	fmt.Fprintln(tw, "LIMIT\tAVAILABLE\tPER CLUSTER\tCLUSTERS\tFIX")
	for _, b := range v.Bounds {
		fmt.Fprintf(tw, "%s\t%s\t%.3g\t%d\t%s\n", b.Limit, figure(b.Available), b.PerCluster, b.Clusters, b.Fix)
	}
	verdict := "fits"
	if v.Planned > v.Largest {
		verdict = "does NOT fit"
	}
	fmt.Fprintf(tw, "largest lab on this host: %d clusters (bound by %s); the topology's %d %s\n", v.Largest, v.Binding, v.Planned, verdict)
}

// figure prints v whole when large, else with 3 significant digits.
func figure(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// measureLab measures the running lab's per-cluster costs over window and
// records them under the state root for the plan's profile.
func (a *app) measureLab(ctx context.Context, p *topology.Plan, window time.Duration) (capacity.Costs, error) {
	return a.measureLabDuring(ctx, p, window, "doctor")
}

func (a *app) measureLabDuring(ctx context.Context, p *topology.Plan, window time.Duration, during string) (capacity.Costs, error) {
	if p.MultiHost() {
		// The figures come from this host's kernel (inotify, keys, the
		// bridge) and its engine: a lab split over hosts, or over engines
		// sharing this kernel, would divide one host's totals by another's
		// clusters.
		return capacity.Costs{}, fmt.Errorf("lab %s spans several hosts: measure per-cluster costs on a lab on one host (a topology without hosts), which doctor then applies to every host", p.Name)
	}
	dc, err := a.Docker()
	if err != nil {
		return capacity.Costs{}, err
	}
	nets := &dockernet.Networks{API: dc}
	managed, err := nets.ManagedNetworks(ctx, p.Name)
	if err != nil {
		return capacity.Costs{}, err
	}
	var nodes []capacity.Node
	for _, s := range managed {
		list, err := nets.Nodes(ctx, s, "")
		if err != nil {
			return capacity.Costs{}, err
		}
		for _, n := range list {
			if n.State == "running" {
				nodes = append(nodes, capacity.Node{ID: n.ID, Name: n.Name, Cluster: n.Cluster})
			}
		}
	}
	if len(nodes) == 0 {
		return capacity.Costs{}, fmt.Errorf("lab %s has no running node container: run testbed up %s first", p.Name, p.File)
	}
	bridge, err := nets.Bridge(ctx, p.Network.Name)
	if err != nil {
		return capacity.Costs{}, err
	}
	profile, _ := planProfile(p)
	c, err := capacity.Measure(ctx, capacity.DockerStats{API: dc}, capacity.ProcFS{}, nodes,
		capacity.Options{Profile: profile, Lab: p.Name, Bridge: bridge, Window: window})
	if err != nil {
		return capacity.Costs{}, err
	}
	c.During = during
	if err := capacity.Save(stateRoot(p), c); err != nil {
		return capacity.Costs{}, fmt.Errorf("recording the lab's costs: %w", err)
	}
	return c, nil
}

// measureFunc measures a lab's per-cluster costs over a window and records
// them (app.measureLabDuring in production).
type measureFunc func(ctx context.Context, p *topology.Plan, window time.Duration, during string) (capacity.Costs, error)

// firstRunWindow is how long the first campaign on a profile measures the
// lab's per-cluster costs, in the background.
const firstRunWindow = 30 * time.Second

// recordCostsOnce measures the lab's per-cluster costs in the background
// while a campaign runs, when nothing is recorded yet for its profile, so
// that doctor and plan predict from this host's figures after the first
// run. It never affects the campaign: a failure is one line on w. The
// returned func stops the measurement (if still running) and waits for it.
func recordCostsOnce(ctx context.Context, p *topology.Plan, w io.Writer, measure measureFunc) func() {
	if p.MultiHost() {
		return func() {} // measureLabDuring refuses it
	}
	profile, _ := planProfile(p)
	if f, err := capacity.Load(stateRoot(p)); err == nil {
		if c, ok := f.Profiles[profile]; ok && c.Source == "measured" {
			return func() {}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := measure(ctx, p, firstRunWindow, "campaign")
		switch {
		case errors.Is(err, context.Canceled): // the campaign ended first
		case err != nil:
			fmt.Fprintf(w, "note: the lab's per-cluster costs were not recorded: %v\n", err)
		default:
			fmt.Fprintf(w, "recorded this host's per-cluster costs for profile %s (%.0f MiB, %.3f core during the campaign); testbed doctor %s predicts from them\n",
				profile, c.MemoryMiB, c.CPUCores, p.File)
		}
	}()
	return func() { cancel(); <-done }
}
