package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/fluidos-lab/testbed/internal/agentimage"
	"github.com/fluidos-lab/testbed/internal/dockerhost"
	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/internal/dockerx"
	"github.com/fluidos-lab/testbed/internal/faultlog"
	"github.com/fluidos-lab/testbed/internal/kind"
	"github.com/fluidos-lab/testbed/provision"
	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/provenance"
	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/topology"
)

// hostDialTimeout bounds reaching one host's engine.
const hostDialTimeout = 30 * time.Second

// hostPool returns the Docker clients of a multi-host plan's hosts, made
// once per app and plan.
func (a *app) hostPool(plan *topology.Plan) (*dockerhost.Pool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.pools[plan.Name]; ok {
		return p, nil
	}
	hosts := make([]dockerhost.Host, 0, len(plan.Hosts))
	for _, h := range plan.Hosts {
		ep, err := dockerhost.Parse(h.Endpoint, dockerhost.TLSFiles{Dir: h.TLSCertPath, Verify: h.TLSVerify})
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", h.Name, err)
		}
		addr, err := netip.ParseAddr(h.Address)
		if err != nil {
			return nil, fmt.Errorf("host %s: address %q: %w", h.Name, h.Address, err)
		}
		hosts = append(hosts, dockerhost.Host{Name: h.Name, Endpoint: ep, Address: addr})
	}
	p, err := dockerhost.NewPool(hosts)
	if err != nil {
		return nil, err
	}
	if a.pools == nil {
		a.pools = map[string]*dockerhost.Pool{}
	}
	a.pools[plan.Name] = p
	return p, nil
}

// hostClient is the Docker client of one host of plan.
func (a *app) hostClient(plan *topology.Plan, host string) (*client.Client, error) {
	pool, err := a.hostPool(plan)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostDialTimeout)
	defer cancel()
	return pool.Client(ctx, host)
}

// engines reaches the hosts of a multi-host plan: KinD in a child process
// with the host's Docker environment, everything else over the host's
// engine API; the helper containers of the shared network and the agent
// run the testbed image, loaded on each engine once.
func (a *app) engines(plan *topology.Plan) provision.EngineFactory {
	return func(h topology.HostPlan) (*provision.Engine, error) {
		pool, err := a.hostPool(plan)
		if err != nil {
			return nil, err
		}
		dc, err := a.hostClient(plan, h.Name)
		if err != nil {
			return nil, err
		}
		dh, _ := pool.Host(h.Name)
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("locating the testbed binary for KinD's child process: %w", err)
		}
		image := a.hostImage(plan.Name, h.Name, dc)
		child := &kind.Child{Exe: exe, Host: h.Name, Verbosity: a.verbosity + 1, NoWait: true,
			Env: append(dh.Endpoint.Env(), kind.NetworkEnv+"="+plan.Network.Name)}
		return &provision.Engine{
			Host:       h.Name,
			Clusters:   forgetfulClusters{Clusters: child, forget: a.kube.Forget},
			Network:    &dockernet.Networks{API: dc},
			Images:     provision.DockerImages{API: dc},
			CNI:        provision.DockerCNI{API: dc, Getenv: os.Getenv},
			Shared:     a.shared(plan.Name, h.Name, dc),
			AgentImage: image,
			Exec:       dockerx.Nodes{API: dc},
		}, nil
	}
}

// hostImage is the testbed image (the agent image, built from this binary)
// on one host's engine, loaded there once per app: every helper container
// of the host runs it, and agentimage.Ensure reads and hashes the binary.
func (a *app) hostImage(lab, host string, dc *client.Client) func(context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := lab + "/" + host
	if f, ok := a.images[key]; ok {
		return f
	}
	once := sync.OnceValues(func() (string, error) {
		ref, _, err := agentimage.Ensure(context.Background(), dc, "")
		return ref, err
	})
	f := func(context.Context) (string, error) { return once() }
	if a.images == nil {
		a.images = map[string]func(context.Context) (string, error){}
	}
	a.images[key] = f
	return f
}

// shared is one host's side of a multi-host lab's shared network.
func (a *app) shared(lab, host string, dc *client.Client) *dockernet.Shared {
	return &dockernet.Shared{API: dc, Host: host, Image: a.hostImage(lab, host, dc)}
}

// imageCopier copies images between the hosts of plan over their engines.
func (a *app) imageCopier(plan *topology.Plan) provision.ImageCopier {
	return func(ctx context.Context, from, to string, refs []string) ([]string, error) {
		pool, err := a.hostPool(plan)
		if err != nil {
			return nil, err
		}
		src, err := pool.Engine(ctx, from)
		if err != nil {
			return nil, err
		}
		dst, err := pool.Engine(ctx, to)
		if err != nil {
			return nil, err
		}
		return dockerhost.CopyImages(ctx, src, dst, refs, nil)
	}
}

// routedExec runs a command in a node container on the host the plan
// places its cluster on.
type routedExec struct {
	byNode map[string]dockerx.Executor
	def    dockerx.Executor
}

func (r routedExec) Exec(ctx context.Context, node string, cmd []string, stdin io.Reader) ([]byte, []byte, error) {
	if x, ok := r.byNode[node]; ok {
		return x.Exec(ctx, node, cmd, stdin)
	}
	return r.def.Exec(ctx, node, cmd, stdin)
}

// ExecFor runs commands in the node containers of plan's lab, on each
// node's host.
func (a *app) ExecFor(plan *topology.Plan) (dockerx.Executor, error) {
	if plan == nil || !plan.MultiHost() {
		return a.Exec()
	}
	first, byNode, err := a.nodeClients(plan)
	if err != nil {
		return nil, err
	}
	r := routedExec{def: dockerx.Nodes{API: first}, byNode: map[string]dockerx.Executor{}}
	for n, dc := range byNode {
		r.byNode[n] = dockerx.Nodes{API: dc}
	}
	return r, nil
}

// routedDocker is provenance's Docker view of a multi-host lab: the first
// host's engine, and each node container on its own host.
type routedDocker struct {
	first  *client.Client
	byNode map[string]*client.Client
}

func (r routedDocker) ServerVersion(ctx context.Context) (types.Version, error) {
	return r.first.ServerVersion(ctx)
}

func (r routedDocker) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	if c, ok := r.byNode[id]; ok {
		return c.ContainerInspect(ctx, id)
	}
	return r.first.ContainerInspect(ctx, id)
}

func (r routedDocker) ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	return r.first.ImageInspect(ctx, ref)
}

// dockerFor is provenance's Docker client for plan.
func (a *app) dockerFor(plan *topology.Plan) (provenance.DockerAPI, error) {
	if plan == nil || !plan.MultiHost() {
		dc, err := a.Docker()
		if err != nil {
			return nil, err
		}
		return provenance.DockerClient{Client: dc}, nil
	}
	first, byNode, err := a.nodeClients(plan)
	if err != nil {
		return nil, err
	}
	return routedDocker{first: first, byNode: byNode}, nil
}

// nodeClients are the Docker clients of a multi-host plan: the first
// host's, and each node container's host's by node name.
func (a *app) nodeClients(plan *topology.Plan) (*client.Client, map[string]*client.Client, error) {
	var first *client.Client
	byNode := map[string]*client.Client{}
	for _, h := range plan.Hosts {
		dc, err := a.hostClient(plan, h.Name)
		if err != nil {
			return nil, nil, err
		}
		if first == nil {
			first = dc
		}
		for _, c := range plan.Clusters {
			if c.Host != h.Name {
				continue
			}
			for _, n := range c.Nodes {
				byNode[n.Name] = dc
			}
		}
	}
	return first, byNode, nil
}

// hostClocks estimates every host's clock offset against this machine's
// through its engine (repeated /info exchanges, the shortest round trip
// kept), for the manifest and the agent's ground truth.
func (a *app) hostClocks(ctx context.Context, plan *topology.Plan) ([]results.EngineHost, error) {
	if !plan.MultiHost() {
		return nil, nil
	}
	var out []results.EngineHost
	for _, h := range plan.Hosts {
		eh, err := a.hostClock(ctx, plan, h)
		if err != nil {
			return nil, err
		}
		out = append(out, eh)
	}
	return out, nil
}

// Clock methods (results.EngineHost.ClockMethod).
const (
	clockSameMachine = "same machine: a unix-socket engine shares this kernel's clock"
	clockEngineInfo  = "engine /info time against the round trip's midpoint, the shortest of the exchanges"
)

// hostClock is one host's record with its clock against this machine's. An
// engine on a unix socket runs on this machine's kernel, whose clock its
// containers read: its offset is 0 exactly. Any other engine's is
// estimated through the engine.
func (a *app) hostClock(ctx context.Context, plan *topology.Plan, h topology.HostPlan) (results.EngineHost, error) {
	dc, err := a.hostClient(plan, h.Name)
	if err != nil {
		return results.EngineHost{}, err
	}
	v, _ := provenance.DockerVersion(ctx, dc)
	eh := results.EngineHost{Name: h.Name, Endpoint: h.Endpoint, Address: h.Address, Clusters: h.Clusters, Docker: v, ClockMethod: clockSameMachine}
	pool, err := a.hostPool(plan)
	if err != nil {
		return eh, err
	}
	if dh, _ := pool.Host(h.Name); dh.Endpoint.Kind() == dockerhost.KindUnix {
		return eh, nil
	}
	off, err := dockerhost.ClockOffset(ctx, dc, clockSamples, nil)
	if err != nil {
		return eh, fmt.Errorf("host %s: clock offset: %w", h.Name, err)
	}
	eh.ClockMethod, eh.ClockOffsetNS, eh.ClockUncertaintyNS, eh.ClockSamples = clockEngineInfo, off.OffsetNS, off.UncertaintyNS, off.Samples
	return eh, nil
}

// clockSamples is how many /info exchanges estimate a host's clock.
const clockSamples = 16

// openHostFaults watches every host's engine for the campaign's clusters
// placed on it, as one log.
func (a *app) openHostFaults(ctx context.Context, plan *topology.Plan, clusters []string) (runner.LabFaults, func(), error) {
	want := map[string]bool{}
	for _, c := range clusters {
		want[c] = true
	}
	var logs []*faultlog.Log
	closeAll := func() {
		for _, l := range logs {
			l.Close()
		}
	}
	for _, h := range plan.Hosts {
		var mine []string
		for _, c := range h.Clusters {
			if want[c] || len(want) == 0 {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			continue
		}
		dc, err := a.hostClient(plan, h.Name)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		logs = append(logs, faultlog.Start(ctx, dc, mine, faultlog.Options{}))
	}
	return hostFaults(logs), closeAll, nil
}

// hostFaults merges the fault logs of several engines.
type hostFaults []*faultlog.Log

func (h hostFaults) Drain() []runner.FaultEvent {
	var out []runner.FaultEvent
	for _, l := range h {
		out = append(out, labFaults{l}.Drain()...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// hostsRecord is what up records of a multi-host lab under its state
// directory (hosts.json): the placement later plans keep, and the hosts
// `down --all` visits.
type hostsRecord struct {
	Topology      string                      `json:"topology"`
	Hosts         []topology.HostPlan         `json:"hosts"`
	SharedNetwork *topology.SharedNetworkPlan `json:"sharedNetwork"`
	Network       string                      `json:"network"`
}

const hostsFile = topology.PlacementFile

// recordHosts writes plan's hosts under its state directory (0600).
func recordHosts(plan *topology.Plan) error {
	if !plan.MultiHost() {
		return nil
	}
	b, err := json.MarshalIndent(hostsRecord{Topology: plan.Name, Hosts: plan.Hosts, SharedNetwork: plan.SharedNetwork, Network: plan.Network.Name}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(plan.StateDir, 0o700); err != nil {
		return fmt.Errorf("recording the hosts: %w", err)
	}
	return os.WriteFile(filepath.Join(plan.StateDir, hostsFile), append(b, '\n'), 0o600)
}

// maxHostsFile bounds hosts.json.
const maxHostsFile = 1 << 20

// readHosts reads the hosts.json of the lab in dir; a missing file is nil.
func readHosts(dir string) (*hostsRecord, error) {
	f, err := os.Open(filepath.Join(dir, hostsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r hostsRecord
	dec := json.NewDecoder(io.LimitReader(f, maxHostsFile))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w (remove it if the lab is gone)", filepath.Join(dir, hostsFile), err)
	}
	return &r, nil
}

// plan is the skeleton plan down needs of a recorded multi-host lab.
func (r *hostsRecord) plan(stateRoot string) *topology.Plan {
	p := &topology.Plan{Name: r.Topology, StateDir: filepath.Join(stateRoot, r.Topology), Hosts: r.Hosts, SharedNetwork: r.SharedNetwork,
		Network: topology.NetworkPlan{Name: r.Network}}
	for _, h := range r.Hosts {
		for _, c := range h.Clusters {
			p.Clusters = append(p.Clusters, topology.ClusterPlan{Name: c, Host: h.Name})
		}
	}
	return p
}
