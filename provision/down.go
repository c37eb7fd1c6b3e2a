package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/docker/docker/api/types/network"
	"golang.org/x/sync/errgroup"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/topology"
)

// managedNetwork returns the lab's network, which must carry this tool's
// labels for this topology.
func (p *Provisioner) managedNetwork(ctx context.Context, plan *topology.Plan) (network.Summary, error) {
	nets, err := p.network.ManagedNetworks(ctx, plan.Name)
	if err != nil {
		return network.Summary{}, err
	}
	for _, n := range nets {
		if n.Name == plan.Network.Name {
			return n, nil
		}
	}
	return network.Summary{}, fmt.Errorf("network %q with testbed labels for topology %q not found", plan.Network.Name, plan.Name)
}

// DownOptions select what Down removes.
type DownOptions struct {
	// Topology is the lab to remove; ignored with All.
	Topology string
	// All removes every lab this tool made.
	All bool
	// StateRoot holds <topology>/kubeconfig/<cluster>; used to find each
	// cluster's own kubeconfig file.
	StateRoot string
	// Parallelism bounds concurrent deletes (default 4).
	Parallelism int
}

// DownReport lists what Down removed.
type DownReport struct {
	Clusters []string `json:"clusters"`
	Networks []string `json:"networks"`
}

// Down removes a lab's clusters, concurrently, then its network. It only
// touches KinD clusters whose nodes are attached to a network carrying this
// tool's labels (KinD cannot label its node containers), and ignores
// anything already gone.
func (p *Provisioner) Down(ctx context.Context, o DownOptions) (*DownReport, error) {
	if !o.All && o.Topology == "" {
		return nil, errors.New("down: a topology or --all is required")
	}
	topo := o.Topology
	if o.All {
		topo = ""
	}
	nets, err := p.network.ManagedNetworks(ctx, topo)
	if err != nil {
		return nil, err
	}
	rep := &DownReport{}
	type victim struct{ topology, cluster string }
	seen := map[victim]bool{}
	var victims []victim
	for _, n := range nets {
		nodes, err := p.network.Nodes(ctx, n, "")
		if err != nil {
			return rep, err
		}
		for _, nd := range nodes {
			v := victim{topology: n.Labels[dockernet.LabelTopology], cluster: nd.Cluster}
			if !seen[v] {
				seen[v] = true
				victims = append(victims, v)
			}
		}
	}
	sort.Slice(victims, func(i, j int) bool { return victims[i].cluster < victims[j].cluster })
	limit := o.Parallelism
	if limit <= 0 {
		limit = 4
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	errs := make([]error, len(victims))
	for i, v := range victims {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			p.progress.Start(v.cluster, "delete")
			t := p.now()
			// Always a per-cluster file: with "" KinD would lock and edit the
			// user's shared kubeconfig. Its directory must exist for KinD's lock.
			root := o.StateRoot
			if root == "" {
				root = os.TempDir()
			}
			kc := filepath.Join(root, v.topology, "kubeconfig", v.cluster)
			if err := os.MkdirAll(filepath.Dir(kc), 0o700); err != nil {
				errs[i] = fmt.Errorf("cluster %q: %w", v.cluster, err)
				return nil
			}
			err := p.clusters.Delete(v.cluster, kc)
			if err == nil {
				if rerr := os.Remove(kc); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
					err = fmt.Errorf("cluster %q: removing kubeconfig: %w", v.cluster, rerr)
				}
			}
			p.progress.Done(v.cluster, "delete", "deleted", p.now().Sub(t), err)
			errs[i] = err
			return nil
		})
	}
	_ = g.Wait()
	for i, v := range victims {
		if errs[i] == nil {
			rep.Clusters = append(rep.Clusters, v.cluster)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	for _, n := range nets {
		if err := p.network.RemoveNetwork(ctx, n); err != nil {
			return rep, err
		}
		rep.Networks = append(rep.Networks, n.Name)
	}
	return rep, nil
}
