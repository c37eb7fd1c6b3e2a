package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/docker/docker/client"
	"github.com/mattn/go-isatty"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	referenceagent "github.com/fluidos-lab/testbed/charts/reference-agent"
	"github.com/fluidos-lab/testbed/internal/agentimage"
	"github.com/fluidos-lab/testbed/internal/dockerhost"
	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/internal/dockerx"
	"github.com/fluidos-lab/testbed/internal/faultlog"
	"github.com/fluidos-lab/testbed/internal/helm"
	"github.com/fluidos-lab/testbed/internal/kind"
	"github.com/fluidos-lab/testbed/internal/kubeclient"
	tblog "github.com/fluidos-lab/testbed/internal/log"
	"github.com/fluidos-lab/testbed/provision"
	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/provenance"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/impair"
	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/scenarios/sweep"
	"github.com/fluidos-lab/testbed/topology"
)

// app is the composition root: the one place that builds the external
// clients (the Docker engine, the node exec, the clusters' API clients, the
// Helm SDK) and the services over them (the provisioner, the provenance
// collector, the runner's environment). Commands take what they need from
// it; clients are built on first use and closed once, when the command
// ends.
type app struct {
	streams IOStreams
	// verbosity is -v (1), -vv (2): kind's and Helm's detail.
	verbosity int

	kube kubeclient.Factory

	mu        sync.Mutex
	docker    *client.Client
	dockerErr error
	helm      *helm.SDK
	log       tblog.Logger
	// caps is the impairment support of the Docker host, probed once.
	caps *impair.Capabilities
	// pools are the Docker clients of multi-host labs' hosts, by lab;
	// images their testbed image, by lab/host (hostImage).
	pools  map[string]*dockerhost.Pool
	images map[string]func(context.Context) (string, error)
	// nodeExec routes commands to the node containers of multi-host labs
	// (registered by plan), the others to the local engine. execMu guards
	// it alone: Exec runs under mu (capabilities probes a node).
	execMu   sync.Mutex
	nodeExec map[string]dockerx.Executor
	// claims are the labs this process holds (claimLab), by state
	// directory. claimMu guards it alone.
	claimMu sync.Mutex
	claims  map[string]*labClaim
}

func newApp(streams IOStreams) *app { return &app{streams: streams} }

// Close releases every client built.
func (a *app) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.docker != nil {
		a.docker.Close()
		a.docker = nil
	}
	for _, p := range a.pools {
		_ = p.Close()
	}
	a.pools = nil
}

// Logger is the one logger, on standard error, at the -v verbosity.
func (a *app) Logger() tblog.Logger {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.log == nil {
		a.log = tblog.New(a.streams.ErrOut, a.verbosity)
	}
	return a.log
}

// Docker is the Docker engine's client (DOCKER_HOST etc. honoured).
func (a *app) Docker() (*client.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.docker == nil && a.dockerErr == nil {
		a.docker, a.dockerErr = dockerx.NewClient("")
	}
	return a.docker, a.dockerErr
}

// Exec runs commands in the lab's node containers: on the local engine,
// or on the host a registered multi-host plan places the node on
// (usePlan).
func (a *app) Exec() (dockerx.Executor, error) {
	dc, err := a.Docker()
	if err != nil {
		return nil, err
	}
	return planExec{a: a, local: dockerx.Nodes{API: dc}}, nil
}

// planExec is Exec's router.
type planExec struct {
	a     *app
	local dockerx.Executor
}

func (p planExec) Exec(ctx context.Context, node string, cmd []string, stdin io.Reader) ([]byte, []byte, error) {
	p.a.execMu.Lock()
	x, ok := p.a.nodeExec[node]
	p.a.execMu.Unlock()
	if ok {
		return x.Exec(ctx, node, cmd, stdin)
	}
	return p.local.Exec(ctx, node, cmd, stdin)
}

// usePlan registers the node containers of a multi-host plan with Exec.
func (a *app) usePlan(plan *topology.Plan) error {
	if plan == nil || !plan.MultiHost() {
		return nil
	}
	x, err := a.ExecFor(plan)
	if err != nil {
		return err
	}
	a.execMu.Lock()
	defer a.execMu.Unlock()
	if a.nodeExec == nil {
		a.nodeExec = map[string]dockerx.Executor{}
	}
	for _, c := range plan.Clusters {
		for _, n := range c.Nodes {
			a.nodeExec[n.Name] = x
		}
	}
	return nil
}

// Installer is the Helm SDK with this binary's embedded charts
// (builtin:multus, builtin:reference-agent), so a lab can be built from any
// working directory; Helm's debug log shows at -vv.
func (a *app) Installer() *helm.SDK {
	l := a.Logger()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.helm == nil {
		a.helm = helm.New(helm.WithBuiltinChart(referenceagent.Name, referenceagent.FS()), helm.WithLogger(tblog.HelmDebug(l)),
			helm.WithRateLimit(kubeclient.QPS, kubeclient.Burst))
	}
	return a.helm
}

// progress picks ANSI status lines on a terminal, plain lines otherwise.
func (a *app) progress(plan *topology.Plan) provision.Progress {
	w := a.streams.ErrOut
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) && os.Getenv("TERM") != "dumb" {
		var names []string
		if plan != nil {
			for _, c := range plan.Clusters {
				names = append(names, c.Name)
			}
		}
		return provision.NewTTYProgress(w, names)
	}
	return &provision.PlainProgress{W: w}
}

// presetProtocols are the discovery protocols `status` looks for: every
// scenario preset with a workload, in name order.
func presetProtocols() []provision.Protocol {
	presets := scenarios.Presets()
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []provision.Protocol
	for _, n := range names {
		pr := presets[n]
		if pr.WorkloadName == "" {
			continue
		}
		out = append(out, provision.Protocol{Name: n, Kind: pr.WorkloadKind, Workload: pr.WorkloadName,
			Peers: schema.GroupVersionResource{Group: pr.Group, Version: pr.Version, Resource: pr.Resource}})
	}
	return out
}

// Provisioner builds, inspects and removes labs: KinD as a library, the
// Docker Engine API and the Helm SDK, with progress for plan's clusters.
func (a *app) Provisioner(plan *topology.Plan) (*provision.Provisioner, error) {
	dc, err := a.Docker()
	if err != nil {
		return nil, err
	}
	opts := []provision.Option{
		provision.WithClusters(forgetfulClusters{Clusters: &kind.Kind{Verbosity: a.verbosity + 1, NoWait: true}, forget: a.kube.Forget}),
		provision.WithExec(dockerx.Nodes{API: dc}),
		provision.WithNetwork(&dockernet.Networks{API: dc}),
		provision.WithImages(provision.DockerImages{API: dc}),
		provision.WithCNI(provision.DockerCNI{API: dc, Getenv: os.Getenv}),
		provision.WithCharts(a.Installer()),
		provision.WithKube(a.kube.KubeDynamic),
		provision.WithProgress(a.progress(plan)),
		provision.WithNetworkSelector(kind.UseNetwork),
		provision.WithProtocols(presetProtocols()),
		// The reference agent image is built from this very binary.
		provision.WithAgentImage(func(ctx context.Context) (string, error) {
			ref, _, err := agentimage.Ensure(ctx, dc, "")
			return ref, err
		}),
	}
	if plan != nil && plan.MultiHost() {
		opts = append(opts, provision.WithEngines(a.engines(plan)), provision.WithImageCopier(a.imageCopier(plan)))
	}
	p, err := provision.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("setting up provisioning: %w", err)
	}
	return p, nil
}

// Collector builds manifests (kind campaign or sweep) from the host, the
// Docker engine, the clusters and their Helm releases.
func (a *app) Collector(kind string) (provenance.Collector, error) {
	return a.collectorFor(nil, kind)
}

// collectorFor is Collector for plan's lab: on several hosts each node
// container is read on its own host.
func (a *app) collectorFor(plan *topology.Plan, kind string) (provenance.Collector, error) {
	d, err := a.dockerFor(plan)
	if err != nil {
		return provenance.Collector{}, err
	}
	if err := a.usePlan(plan); err != nil {
		return provenance.Collector{}, err
	}
	x, err := a.Exec()
	if err != nil {
		return provenance.Collector{}, err
	}
	src := provenance.Sources{ToolVersion: version, Root: os.DirFS("/"), Docker: d,
		Helm: releaseLister{a.Installer()}, Exec: x, Kube: func(c topology.ClusterPlan) (kubernetes.Interface, error) { return a.kube.Kube(c.Kubeconfig) }}
	return provenance.Collector{Sources: src, Kind: kind}, nil
}

// RunEnv is the environment of every campaign (run, sweep cells, rerun):
// the clusters' clients, the host's impairment backends (probed once, on
// the lab's first node, when a campaign first needs them), container starts
// from the runtime, the manifest collector.
func (a *app) RunEnv(progress io.Writer) (*runner.Env, error) {
	x, err := a.Exec()
	if err != nil {
		return nil, err
	}
	res := impair.NewResolver(x)
	return &runner.Env{
		Kube:     &a.kube,
		Starts:   runner.NewCRIStarts(res),
		Progress: progress,
		Wire:     a.openWire,
		Faults:   a.openFaults,
		Claim:    func(plan *topology.Plan, dir string) (func(), error) { return a.claimLab(plan, dir) },
		Clocks: func(ctx context.Context, plan *topology.Plan) ([]results.EngineHost, error) {
			if err := a.usePlan(plan); err != nil {
				return nil, err
			}
			return a.hostClocks(ctx, plan)
		},
		Collect: func(ctx context.Context, plan *topology.Plan, clusters []string, in []results.Input) (results.Manifest, error) {
			col, err := a.collectorFor(plan, "campaign")
			if err != nil {
				return results.Manifest{}, err
			}
			return col.Collect(ctx, plan, clusters, in)
		},
		Impairments: func(ctx context.Context, plan *topology.Plan) (runner.ImpairmentSelector, error) {
			if err := a.usePlan(plan); err != nil {
				return nil, err
			}
			caps, err := a.capabilities(ctx, x, plan, progress)
			if err != nil {
				return nil, err
			}
			return func(s impair.Spec) (impair.Impairment, error) { return impair.Select(caps, s, x, res) }, nil
		},
	}, nil
}

// capabilities probes the impairment support of the lab's host once.
func (a *app) capabilities(ctx context.Context, x dockerx.Executor, plan *topology.Plan, progress io.Writer) (impair.Capabilities, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.caps != nil {
		return *a.caps, nil
	}
	if len(plan.Clusters) == 0 || len(plan.Clusters[0].Nodes) == 0 {
		return impair.Capabilities{}, fmt.Errorf("lab %s has no node to probe", plan.Name)
	}
	node := plan.Clusters[0].Nodes[0].Name
	c, err := impair.Probe(ctx, x, node)
	if err != nil {
		return impair.Capabilities{}, fmt.Errorf("node %s: %w", node, err)
	}
	if progress != nil {
		fmt.Fprintf(progress, "impairment support on %s: %s\n", node, c.Summary())
	}
	a.caps = &c
	return c, nil
}

// Lab is sweep.Lab over the provisioner `up` and `down` use.
func (a *app) Lab() sweep.Lab { return provisionLab{a} }

// Workloads switches discovery workloads per cluster for sweeps.
func (a *app) Workloads() sweep.Workloads { return &sweep.KubeWorkloads{Client: a.kube.Kube} }

type provisionLab struct{ a *app }

func (l provisionLab) Up(ctx context.Context, plan *topology.Plan) error {
	p, err := l.a.Provisioner(plan)
	if err != nil {
		return err
	}
	rep, err := p.Up(ctx, plan, provision.UpOptions{})
	if rep != nil && rep.Changed {
		fmt.Fprintf(l.a.streams.ErrOut, "lab %s converged in %s\n", plan.Name, rep.Wall.Round(1e6))
	}
	return err
}

func (l provisionLab) Down(ctx context.Context, plan *topology.Plan) error {
	p, err := l.a.Provisioner(plan)
	if err != nil {
		return err
	}
	_, err = p.Down(ctx, provision.DownOptions{Topology: plan.Name, StateRoot: stateRootOf(plan)})
	if err != nil {
		return fmt.Errorf("down %s: %w", plan.Name, err)
	}
	return nil
}

// releaseLister adapts the Helm installer to provenance.
type releaseLister struct{ sdk *helm.SDK }

func (r releaseLister) Releases(ctx context.Context, kubeconfig string) ([]provenance.Release, error) {
	rels, err := r.sdk.List(ctx, kubeconfig)
	if err != nil {
		return nil, err
	}
	out := make([]provenance.Release, len(rels))
	for i, rel := range rels {
		out[i] = provenance.Release{Name: rel.Name, Namespace: rel.Namespace, Chart: rel.Chart, Version: rel.Version, Status: rel.Status}
	}
	return out, nil
}

// agentInstaller adapts the provisioner to the self-test.
type agentInstaller struct{ p *provision.Provisioner }

func (i agentInstaller) InstallAgent(ctx context.Context, plan *topology.Plan) (string, []map[string]any, error) {
	inst, err := i.p.InstallAgent(ctx, plan)
	if err != nil {
		return "", nil, err
	}
	values := make([]map[string]any, len(inst.Charts))
	for j, ch := range inst.Charts {
		values[j] = ch.Values
	}
	return inst.Image, values, nil
}

// stateRootOf is the state root a plan's lab lives under.
func stateRootOf(plan *topology.Plan) string { return filepath.Dir(plan.StateDir) }

// openFaults watches the Docker engine's events about the campaign's
// clusters' node containers (internal/faultlog) for one campaign.
func (a *app) openFaults(ctx context.Context, plan *topology.Plan, clusters []string) (runner.LabFaults, func(), error) {
	if plan != nil && plan.MultiHost() {
		if err := a.usePlan(plan); err != nil {
			return nil, nil, err
		}
		return a.openHostFaults(ctx, plan, clusters)
	}
	dc, err := a.Docker()
	if err != nil {
		return nil, nil, err
	}
	l := faultlog.Start(ctx, dc, clusters, faultlog.Options{})
	return labFaults{l}, l.Close, nil
}

// labFaults adapts the fault log to the runner's seam.
type labFaults struct{ l *faultlog.Log }

func (f labFaults) Drain() []runner.FaultEvent {
	evs := f.l.Drain()
	out := make([]runner.FaultEvent, len(evs))
	for i, e := range evs {
		out[i] = runner.FaultEvent{Time: e.Time, Cluster: e.Cluster, Container: e.Container, Event: e.Action, Detail: e.Detail}
	}
	return out
}

// forgetfulClusters drops the cached API clients of a cluster it deletes,
// creates or re-exports: a cluster made again listens on a new API port,
// and a client cached for the old one (built by the health check that found
// it broken) made the next step wait 5 minutes on a dead address.
type forgetfulClusters struct {
	provision.Clusters
	forget func(kubeconfig string)
}

func (c forgetfulClusters) Create(ctx context.Context, cp topology.ClusterPlan, retries int) error {
	defer c.forget(cp.Kubeconfig)
	c.forget(cp.Kubeconfig)
	return c.Clusters.Create(ctx, cp, retries)
}

func (c forgetfulClusters) Delete(name, kubeconfig string) error {
	defer c.forget(kubeconfig)
	return c.Clusters.Delete(name, kubeconfig)
}

func (c forgetfulClusters) ExportKubeconfig(name, path string) error {
	defer c.forget(path)
	return c.Clusters.ExportKubeconfig(name, path)
}
