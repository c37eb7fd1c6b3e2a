package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/network"
	"golang.org/x/sync/errgroup"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/topology"
)

// managedNetworkOn returns the lab's network on an engine, which must
// carry this tool's labels for this topology.
func managedNetworkOn(ctx context.Context, eng *Engine, topo, name string) (network.Summary, error) {
	nets, err := eng.Network.ManagedNetworks(ctx, topo)
	if err != nil {
		return network.Summary{}, err
	}
	for _, n := range nets {
		if n.Name == name {
			return n, nil
		}
	}
	return network.Summary{}, fmt.Errorf("network %q with testbed labels for topology %q not found%s", name, topo, onHostNamed(eng.Host))
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
	// Plan, when it spans several hosts, makes Down remove the lab on every
	// one of its hosts, the VXLAN devices of its shared network included.
	Plan *topology.Plan
}

// DownReport lists what Down removed.
type DownReport struct {
	Clusters []string `json:"clusters"`
	Networks []string `json:"networks"`
	// Devices are the VXLAN devices removed ("host/device").
	Devices []string `json:"devices,omitempty"`
}

// Down removes a lab's clusters, concurrently, then its network. It only
// touches KinD clusters whose nodes are attached to a network carrying this
// tool's labels (KinD cannot label its node containers), and ignores
// anything already gone. When ctx ends no new delete starts (the ones in
// flight cannot be cancelled and run to their end); the error then wraps
// ErrInterrupted and ctx's error and names every cluster and network left.
func (p *Provisioner) Down(ctx context.Context, o DownOptions) (*DownReport, error) {
	if !o.All && o.Topology == "" {
		return nil, errors.New("down: a topology or --all is required")
	}
	if o.Plan != nil && o.Plan.MultiHost() {
		return p.downHosts(ctx, o)
	}
	return p.downOn(ctx, p.localEngine(), o, "")
}

// downHosts removes a multi-host lab from every one of its hosts at once.
func (p *Provisioner) downHosts(ctx context.Context, o DownOptions) (*DownReport, error) {
	plan := o.Plan
	o.Topology, o.All = plan.Name, false
	rep := &DownReport{}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, h := range plan.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.downHost(ctx, plan, h.Name, o)
			mu.Lock()
			defer mu.Unlock()
			if r != nil {
				rep.Clusters = append(rep.Clusters, r.Clusters...)
				rep.Networks = append(rep.Networks, r.Networks...)
				rep.Devices = append(rep.Devices, r.Devices...)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("host %s: %w", h.Name, err))
			}
		}()
	}
	wg.Wait()
	sort.Strings(rep.Clusters)
	return rep, errors.Join(errs...)
}

// downHost removes the lab from one host of its plan.
func (p *Provisioner) downHost(ctx context.Context, plan *topology.Plan, host string, o DownOptions) (*DownReport, error) {
	eng, err := p.engine(plan, host)
	if err != nil {
		return nil, err
	}
	device := ""
	if plan.SharedNetwork != nil {
		device = plan.SharedNetwork.Device
	}
	return p.downOn(ctx, eng, o, device)
}

// downOn removes a lab (or every lab) from one engine: its clusters, then
// the VXLAN device (when named), then its networks.
func (p *Provisioner) downOn(ctx context.Context, eng *Engine, o DownOptions, device string) (*DownReport, error) {
	topo := o.Topology
	if o.All {
		topo = ""
	}
	nets, err := eng.Network.ManagedNetworks(ctx, topo)
	if err != nil {
		return nil, interrupted(ctx, fmt.Errorf("listing the lab networks: %w", err))
	}
	rep := &DownReport{}
	victims, err := downVictims(ctx, eng, nets)
	if err != nil {
		return rep, interrupted(ctx, fmt.Errorf("listing the lab clusters: %w", err))
	}
	errs := p.deleteClusters(ctx, eng, o, victims)
	for i, v := range victims {
		if errs[i] == nil {
			rep.Clusters = append(rep.Clusters, v.cluster)
		}
	}
	if err := notRemoved(ctx, victims, errs); err != nil {
		return rep, interrupted(ctx, err)
	}
	if device != "" && eng.Shared != nil {
		removed, err := eng.Shared.Remove(ctx, device)
		if err != nil {
			return rep, interrupted(ctx, fmt.Errorf("every cluster removed, but not the VXLAN device %s: %w", device, err))
		}
		if removed {
			rep.Devices = append(rep.Devices, eng.Host+"/"+device)
		}
	}
	return rep, p.removeNetworks(ctx, eng, nets, rep)
}

// notRemoved names the victims whose delete failed or never started (errs
// are deleteClusters'), with the failures and ctx's error; nil when every
// victim is gone.
func notRemoved(ctx context.Context, victims []downVictim, errs []error) error {
	var left []string
	var why []error
	for i, v := range victims {
		if errs[i] == nil {
			continue
		}
		left = append(left, v.cluster)
		if !errors.Is(errs[i], errNotStarted) {
			why = append(why, errs[i])
		}
	}
	if len(left) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		why = append(why, err)
	}
	return fmt.Errorf("%d of %d cluster(s) not removed [%s]: %w", len(left), len(victims), strings.Join(left, " "), errors.Join(why...))
}

// removeNetworks removes nets, once every cluster on them is gone, and
// records them in rep.
func (p *Provisioner) removeNetworks(ctx context.Context, eng *Engine, nets []network.Summary, rep *DownReport) error {
	for i, n := range nets {
		err := ctx.Err()
		if err == nil {
			err = eng.Network.RemoveNetwork(ctx, n)
		}
		if err != nil {
			var left []string
			for _, l := range nets[i:] {
				left = append(left, l.Name)
			}
			return interrupted(ctx, fmt.Errorf("every cluster removed, but not the network(s) [%s]: %w", strings.Join(left, " "), err))
		}
		name := n.Name
		if eng.Host != "" {
			name = eng.Host + "/" + name
		}
		rep.Networks = append(rep.Networks, name)
	}
	return nil
}

// interrupted marks err with ErrInterrupted when ctx has ended.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("%w: %w; run `testbed down` again to remove the rest", ErrInterrupted, err)
}

// downVictim is a cluster Down deletes, with its lab's topology.
type downVictim struct{ topology, cluster string }

// downVictims lists the clusters whose nodes are attached to nets, once
// each, sorted by cluster name.
func downVictims(ctx context.Context, eng *Engine, nets []network.Summary) ([]downVictim, error) {
	seen := map[downVictim]bool{}
	var victims []downVictim
	for _, n := range nets {
		nodes, err := eng.Network.Nodes(ctx, n, "")
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

// StepDelete is Down's step for one cluster (its progress phase and its
// StepError's Step).
const StepDelete = "delete"

// errNotStarted is the error of a cluster whose delete never started
// because ctx ended first.
var errNotStarted = errors.New("not started")

// deleteClusters deletes the victims, at most o.Parallelism (default 4)
// at a time, and returns each one's error: a StepError, wrapping
// errNotStarted and ctx's error for a cluster not started once ctx is done.
func (p *Provisioner) deleteClusters(ctx context.Context, eng *Engine, o DownOptions, victims []downVictim) []error {
	limit := o.Parallelism
	if limit <= 0 {
		limit = 4
	}
	var g errgroup.Group
	g.SetLimit(limit)
	errs := make([]error, len(victims))
	for i, v := range victims {
		if err := ctx.Err(); err != nil {
			errs[i] = &StepError{Cluster: v.cluster, Step: StepDelete, Err: fmt.Errorf("%w: %w", errNotStarted, err)}
			continue
		}
		// Go waits for a slot: ctx may end meanwhile.
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				errs[i] = &StepError{Cluster: v.cluster, Step: StepDelete, Err: fmt.Errorf("%w: %w", errNotStarted, err)}
				return nil
			}
			errs[i] = p.deleteCluster(eng, o.StateRoot, v)
			return nil
		})
	}
	_ = g.Wait()
	return errs
}

// deleteCluster deletes one cluster and its kubeconfig file under
// stateRoot (the temporary directory when empty), reporting progress: one
// Start and one Done, whichever step fails.
func (p *Provisioner) deleteCluster(eng *Engine, stateRoot string, v downVictim) error {
	p.progress.Start(v.cluster, StepDelete)
	t := p.now()
	err := removeCluster(eng, stateRoot, v)
	p.progress.Done(v.cluster, StepDelete, "deleted", p.now().Sub(t), err)
	if err != nil {
		return &StepError{Cluster: v.cluster, Step: StepDelete, Err: err}
	}
	return nil
}

// removeCluster deletes the KinD cluster with a kubeconfig file of its own
// under stateRoot and removes that file.
func removeCluster(eng *Engine, stateRoot string, v downVictim) error {
	// Always a per-cluster file: with "" KinD would lock and edit the
	// user's shared kubeconfig. Its directory must exist for KinD's lock.
	root := stateRoot
	if root == "" {
		root = os.TempDir()
	}
	kc := filepath.Join(root, v.topology, "kubeconfig", v.cluster)
	if err := os.MkdirAll(filepath.Dir(kc), 0o700); err != nil {
		return fmt.Errorf("creating the kubeconfig directory: %w", err)
	}
	if err := eng.Clusters.Delete(v.cluster, kc); err != nil {
		return err
	}
	if err := os.Remove(kc); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing kubeconfig: %w", err)
	}
	return nil
}
