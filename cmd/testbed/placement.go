package main

import (
	"context"
	"fmt"

	"github.com/fluidos-lab/testbed/internal/capacity"
	"github.com/fluidos-lab/testbed/internal/dockerhost"
	"github.com/fluidos-lab/testbed/topology"
)

// loadLab loads and plans a topology for a command that talks to its
// hosts (up, plan, doctor): with placement: capacity it first predicts
// each host's capacity from its engine (CPUs and memory) and the
// per-cluster costs recorded on this host, as doctor does.
func (a *app) loadLab(ctx context.Context, file string) (*topology.Topology, *topology.Plan, error) {
	t, err := topology.Load(file)
	if err != nil {
		return nil, nil, err
	}
	if t.Placement == topology.PlacementCapacity && len(t.Hosts) > 0 {
		caps, err := a.predictCapacities(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		env := t.Environment()
		env.HostCapacity = caps
		if t, err = topology.Load(file, topology.WithEnvironment(env)); err != nil {
			return nil, nil, err
		}
	}
	p, err := t.Plan()
	if err != nil {
		return nil, nil, err
	}
	return t, p, nil
}

// predictCapacities is, for every host of t that sets no capacity, the
// largest number of clusters its memory and cores hold by the per-cluster
// costs recorded under the state root (or the built-in estimate).
func (a *app) predictCapacities(ctx context.Context, t *topology.Topology) (map[string]int, error) {
	costs, err := capacity.Load(t.StateRoot())
	if err != nil {
		return nil, err
	}
	nodes := 1.0
	if t.Clusters.Workers != nil {
		nodes += float64(*t.Clusters.Workers)
	}
	c := costs.For(topology.EffectiveProfile(t.Clusters.Profile), nodes)
	out := map[string]int{}
	for _, h := range t.Hosts {
		if h.Capacity > 0 {
			continue
		}
		n, err := hostCapacity(ctx, h, c)
		if err != nil {
			return nil, err
		}
		out[h.Name] = n
	}
	return out, nil
}

// hostCapacity asks one host's engine for its CPUs and memory and returns
// the clusters they hold at costs c.
func hostCapacity(ctx context.Context, h topology.Host, c capacity.Costs) (int, error) {
	tls := dockerhost.TLSFiles{}
	if h.TLS != nil {
		tls = dockerhost.TLSFiles{Dir: h.TLS.CertPath, Verify: h.TLS.Verify == nil || *h.TLS.Verify}
	}
	ep, err := dockerhost.Parse(h.Endpoint, tls)
	if err != nil {
		return 0, fmt.Errorf("host %s: %w", h.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, hostDialTimeout)
	defer cancel()
	dc, err := ep.Client(ctx)
	if err != nil {
		return 0, fmt.Errorf("host %s: %w", h.Name, err)
	}
	defer dc.Close()
	info, err := dc.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("host %s: reading its engine's CPUs and memory: %w", h.Name, err)
	}
	bounds := capacity.Bounds(c, capacity.Host{MemoryMiB: info.MemTotal >> 20, CPUs: info.NCPU})
	if len(bounds) == 0 {
		return 0, fmt.Errorf("host %s: its engine reports no CPUs or memory", h.Name)
	}
	return max(bounds[0].Clusters, 0), nil
}
