package capacity

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Node is one node container of the lab.
type Node struct {
	ID      string
	Name    string
	Cluster string
}

// Sample is one container's counters at one moment.
type Sample struct {
	CPUNanos    uint64 // cumulative CPU time
	MemoryBytes uint64 // usage minus inactive page cache (docker stats)
	AnonBytes   uint64 // anonymous memory: what the cluster alone holds
}

// Stats reads a container's counters (the Docker engine in production).
type Stats interface {
	Sample(ctx context.Context, id string) (Sample, error)
}

// Probe reads the host-side figures (procfs in production).
type Probe interface {
	// Inotify returns the inotify instances and watches held by each
	// container's processes, by container ID.
	Inotify(ids []string) (instances, watches map[string]int, err error)
	// RootKeys returns the kernel keys root holds.
	RootKeys() (int, error)
	// Neighbours returns the host's neighbour entries on bridge.
	Neighbours(bridge string) (int, error)
}

// Options tune Measure.
type Options struct {
	Profile string
	Lab     string
	Bridge  string
	Window  time.Duration // default 30 s
	Now     func() time.Time
	// Wait waits d or until ctx ends (a timer by default; tests replace it).
	Wait func(ctx context.Context, d time.Duration) error
}

func wait(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Measure samples every node's counters, waits the window (or ctx), samples
// again and returns the per-cluster costs: memory the mean of the two
// samples, CPU the time used over the window.
func Measure(ctx context.Context, st Stats, pr Probe, nodes []Node, o Options) (Costs, error) {
	if len(nodes) == 0 {
		return Costs{}, fmt.Errorf("no node containers to measure")
	}
	if o.Window <= 0 {
		o.Window = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Wait == nil {
		o.Wait = wait
	}
	t0 := o.Now()
	s0, err := sampleAll(ctx, st, nodes)
	if err != nil {
		return Costs{}, err
	}
	if err := o.Wait(ctx, o.Window); err != nil {
		return Costs{}, fmt.Errorf("measuring the lab's costs: %w", err)
	}
	s1, err := sampleAll(ctx, st, nodes)
	if err != nil {
		return Costs{}, err
	}
	elapsed := o.Now().Sub(t0).Seconds()
	c, err := combine(nodes, s0, s1, elapsed)
	if err != nil {
		return Costs{}, err
	}
	c.Profile, c.Lab, c.WindowS, c.MeasuredAt = o.Profile, o.Lab, elapsed, t0.UTC()
	if err := c.addHost(pr, nodes, o.Bridge); err != nil {
		return Costs{}, err
	}
	return c, nil
}

func sampleAll(ctx context.Context, st Stats, nodes []Node) (map[string]Sample, error) {
	var mu sync.Mutex
	out := make(map[string]Sample, len(nodes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, n := range nodes {
		g.Go(func() error {
			s, err := st.Sample(gctx, n.ID)
			if err != nil {
				return fmt.Errorf("cluster %q: node %s: reading its counters: %w", n.Cluster, n.Name, err)
			}
			mu.Lock()
			out[n.ID] = s
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

// combine sums each cluster's nodes and averages over the clusters.
func combine(nodes []Node, s0, s1 map[string]Sample, elapsed float64) (Costs, error) {
	if elapsed <= 0 {
		return Costs{}, fmt.Errorf("measurement window of %.3f s", elapsed)
	}
	mem := map[string]float64{}
	ws := map[string]float64{}
	cpu := map[string]float64{}
	for _, n := range nodes {
		a, b := s0[n.ID], s1[n.ID]
		if b.CPUNanos < a.CPUNanos {
			return Costs{}, fmt.Errorf("cluster %q: node %s restarted during the measurement (CPU counter went back)", n.Cluster, n.Name)
		}
		mem[n.Cluster] += float64(a.AnonBytes+b.AnonBytes) / 2 / (1 << 20)
		ws[n.Cluster] += float64(a.MemoryBytes+b.MemoryBytes) / 2 / (1 << 20)
		cpu[n.Cluster] += float64(b.CPUNanos-a.CPUNanos) / 1e9 / elapsed
	}
	c := Costs{Source: "measured", Clusters: len(mem), Nodes: len(nodes)}
	for k := range mem {
		c.MemoryMiB += mem[k]
		c.WorkingSetMiB += ws[k]
		c.CPUCores += cpu[k]
		c.MemoryMaxMiB = math.Max(c.MemoryMaxMiB, mem[k])
		c.CPUMaxCores = math.Max(c.CPUMaxCores, cpu[k])
	}
	n := float64(c.Clusters)
	c.MemoryMiB /= n
	c.WorkingSetMiB /= n
	c.CPUCores /= n
	c.BridgePorts = float64(len(nodes)) / n
	return c, nil
}

// addHost adds the host-side per-cluster figures.
func (c *Costs) addHost(pr Probe, nodes []Node, bridge string) error {
	if pr == nil {
		return nil
	}
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	inst, watches, err := pr.Inotify(ids)
	if err != nil {
		return fmt.Errorf("counting inotify use: %w", err)
	}
	n := float64(c.Clusters)
	for _, id := range ids {
		c.InotifyInstances += float64(inst[id]) / n
		c.InotifyWatches += float64(watches[id]) / n
	}
	keys, err := pr.RootKeys()
	if err != nil {
		return fmt.Errorf("counting kernel keys: %w", err)
	}
	c.Keys = float64(keys) / n
	if bridge != "" {
		nb, err := pr.Neighbours(bridge)
		if err != nil {
			return fmt.Errorf("counting neighbours on %s: %w", bridge, err)
		}
		c.Neighbours = float64(nb) / n
	}
	// Every node is a neighbour once the host reaches its API server.
	c.Neighbours = math.Max(c.Neighbours, c.BridgePorts)
	return nil
}
