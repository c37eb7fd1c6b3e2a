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
	victims, err := p.downVictims(ctx, nets)
	if err != nil {
		return rep, err
	}
	errs := p.deleteClusters(ctx, o, victims)
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

// downVictim is a cluster Down deletes, with its lab's topology.
type downVictim struct{ topology, cluster string }

// downVictims lists the clusters whose nodes are attached to nets, once
// each, sorted by cluster name.
func (p *Provisioner) downVictims(ctx context.Context, nets []network.Summary) ([]downVictim, error) {
	seen := map[downVictim]bool{}
	var victims []downVictim
	for _, n := range nets {
		nodes, err := p.network.Nodes(ctx, n, "")
		if err != nil {
			return nil, err
		}
		for _, nd := range nodes {
			v := downVictim{topology: n.Labels[dockernet.LabelTopology], cluster: nd.Cluster}
			if !seen[v] {
				seen[v] = true
				victims = append(victims, v)
			}
		}
	}
	sort.Slice(victims, func(i, j int) bool { return victims[i].cluster < victims[j].cluster })
	return victims, nil
}

// deleteClusters deletes the victims, at most o.Parallelism (default 4)
// at a time, and returns each one's error (nil for a cluster not started
// once ctx is done).
func (p *Provisioner) deleteClusters(ctx context.Context, o DownOptions, victims []downVictim) []error {
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
			errs[i] = p.deleteCluster(o.StateRoot, v)
			return nil
		})
	}
	_ = g.Wait()
	return errs
}

// deleteCluster deletes one cluster and its kubeconfig file under
// stateRoot (the temporary directory when empty), reporting progress.
func (p *Provisioner) deleteCluster(stateRoot string, v downVictim) error {
	p.progress.Start(v.cluster, "delete")
	t := p.now()
	// Always a per-cluster file: with "" KinD would lock and edit the
	// user's shared kubeconfig. Its directory must exist for KinD's lock.
	root := stateRoot
	if root == "" {
		root = os.TempDir()
	}
	kc := filepath.Join(root, v.topology, "kubeconfig", v.cluster)
	if err := os.MkdirAll(filepath.Dir(kc), 0o700); err != nil {
		return fmt.Errorf("cluster %q: %w", v.cluster, err)
	}
	err := p.clusters.Delete(v.cluster, kc)
	if err == nil {
		if rerr := os.Remove(kc); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = fmt.Errorf("cluster %q: removing kubeconfig: %w", v.cluster, rerr)
		}
	}
	p.progress.Done(v.cluster, "delete", "deleted", p.now().Sub(t), err)
	return err
}
