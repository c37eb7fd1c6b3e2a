package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/docker/docker/api/types/network"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/topology"
)

// Engine is one Docker host's seams: KinD, the lab network, images, the CNI
// plugins and, on a lab spread over several hosts, the shared layer-2
// network. A lab on one engine has one Engine, built from the Provisioner's
// own options; a multi-host lab has one per host (WithEngines).
type Engine struct {
	// Host is the plan's host name; "" for a lab on one engine.
	Host     string
	Clusters Clusters
	Network  Network
	Images   Images
	CNI      CNI
	// Shared is the shared discovery network on this host (multi-host
	// labs only).
	Shared Shared
	// SetNetwork points KinD at the lab network (in-process KinD only; a
	// KinD child process gets it in its environment).
	SetNetwork func(name string) error
	// AgentImage builds the reference agent image on this engine.
	AgentImage func(ctx context.Context) (string, error)
	// Exec runs commands in this engine's node containers (nil: up does
	// not look inside the nodes).
	Exec NodeExec
}

// NodeExec runs a command in a node container (dockerx.Nodes in
// production).
type NodeExec interface {
	Exec(ctx context.Context, node string, cmd []string, stdin io.Reader) ([]byte, []byte, error)
}

// WithExec sets how commands run in the nodes of a lab on one engine.
func WithExec(x NodeExec) Option { return func(p *Provisioner) error { p.exec = x; return nil } }

// Shared manages the shared discovery network of a multi-host lab on one
// host: a Docker bridge network of the shared subnet (this host's range
// and gateway, a fixed bridge name, the encapsulation's MTU) joined to the
// other hosts by a kernel VXLAN device with one head-end replication entry
// per peer.
type Shared interface {
	// Ensure converges the shared network and the VXLAN device on this host.
	Ensure(ctx context.Context, plan *topology.Plan, host topology.HostPlan) (SharedResult, error)
	// Attach connects a node container to the shared network (once) and
	// returns its address on it, checking the node sees it as the planned
	// interface.
	Attach(ctx context.Context, plan *topology.Plan, node string) (address string, err error)
	// Remove deletes the lab's VXLAN device on this host, if present.
	Remove(ctx context.Context, device string) (bool, error)
}

// SharedResult is the shared network on one host after Ensure.
type SharedResult = dockernet.SharedResult

// EngineFactory builds the seams of one host of a multi-host lab.
type EngineFactory func(h topology.HostPlan) (*Engine, error)

// WithEngines sets how the engines of a multi-host lab are reached.
func WithEngines(f EngineFactory) Option {
	return func(p *Provisioner) error { p.newEngine = f; return nil }
}

// ImageCopier copies the images in refs that host to lacks from host from,
// over the engines' APIs, and returns those it copied.
type ImageCopier func(ctx context.Context, from, to string, refs []string) ([]string, error)

// WithImageCopier sets how images reach the other hosts of a multi-host lab.
func WithImageCopier(c ImageCopier) Option {
	return func(p *Provisioner) error { p.copyImages = c; return nil }
}

// engines holds the engines built for one provisioner, one per host.
type engines struct {
	mu   sync.Mutex
	byID map[string]*Engine
}

// localEngine is the single engine of a lab without hosts, from the
// provisioner's own seams.
func (p *Provisioner) localEngine() *Engine {
	return &Engine{Clusters: p.clusters, Network: p.network, Images: p.images, CNI: p.cni,
		SetNetwork: p.setNetwork, AgentImage: p.agentImage, Exec: p.exec}
}

// engine returns the engine of the named host of plan ("" or a lab without
// hosts: the local engine), built once.
func (p *Provisioner) engine(plan *topology.Plan, host string) (*Engine, error) {
	if !plan.MultiHost() {
		return p.localEngine(), nil
	}
	hp, ok := plan.Host(host)
	if !ok {
		return nil, fmt.Errorf("host %q is not in the plan", host)
	}
	if p.newEngine == nil {
		return nil, errors.New("this lab spans several hosts but no engine factory is configured")
	}
	p.engs.mu.Lock()
	defer p.engs.mu.Unlock()
	if e, ok := p.engs.byID[host]; ok {
		return e, nil
	}
	e, err := p.newEngine(hp)
	if err != nil {
		return nil, fmt.Errorf("host %s (%s): %w", host, hp.Endpoint, err)
	}
	if e.Clusters == nil || e.Network == nil {
		return nil, fmt.Errorf("host %s: the engine has no KinD or network seam", host)
	}
	if p.engs.byID == nil {
		p.engs.byID = map[string]*Engine{}
	}
	p.engs.byID[host] = e
	return e, nil
}

// hostRun is one host's part of an Up: its engine, the lab network there
// and, on several hosts, the shared network.
type hostRun struct {
	plan   topology.HostPlan
	eng    *Engine
	net    network.Summary
	shared SharedResult
	// existing are the KinD clusters the engine had when Up began.
	existing []string
	// netErr is why the lab network was not found (labNetworks).
	netErr error
}

// labNetworks returns the lab's hosts with the lab network found on each
// (netErr set where it is not), for commands on a running lab.
func (p *Provisioner) labNetworks(ctx context.Context, plan *topology.Plan) ([]*hostRun, error) {
	runs, err := p.hostRuns(plan)
	if err != nil {
		return nil, err
	}
	for _, h := range runs {
		h.net, h.netErr = managedNetworkOn(ctx, h.eng, plan.Name, plan.Network.Name)
	}
	return runs, nil
}

// hostRuns returns one hostRun per host of plan (one for a lab without
// hosts), with their engines.
func (p *Provisioner) hostRuns(plan *topology.Plan) ([]*hostRun, error) {
	if !plan.MultiHost() {
		return []*hostRun{{eng: p.localEngine()}}, nil
	}
	out := make([]*hostRun, 0, len(plan.Hosts))
	for _, h := range plan.Hosts {
		e, err := p.engine(plan, h.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, &hostRun{plan: h, eng: e})
	}
	return out, nil
}

// hostOf returns the hostRun of a cluster (the only one on one host).
func hostOf(runs []*hostRun, c topology.ClusterPlan) *hostRun {
	for _, h := range runs {
		if h.plan.Name == c.Host {
			return h
		}
	}
	return runs[0]
}
