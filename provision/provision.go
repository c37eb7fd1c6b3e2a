package provision

import (
	"context"
	"errors"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/internal/helm"
	"github.com/fluidos-lab/testbed/internal/kubeclient"
	"github.com/fluidos-lab/testbed/topology"
)

// Provisioner builds, inspects and removes labs.
type Provisioner struct {
	clusters Clusters
	network  Network
	images   Images
	cni      CNI
	charts   Charts
	kube     Kube
	progress Progress
	now      func() time.Time
	// setNetwork points KinD at the lab network (kind.UseNetwork).
	setNetwork func(name string) error
	// agentImage builds the reference agent image and returns its ref.
	agentImage func(ctx context.Context) (string, error)
	// fluidosReleases returns the ordered FLUIDOS releases of one cluster
	// (pinned prerequisites, then the node chart with its generated values).
	fluidosReleases func(plan *topology.Plan, c topology.ClusterPlan, nodeAddress string) ([]topology.ChartPlan, error)
	// multusChart returns the Multus release of one cluster.
	multusChart func(plan *topology.Plan, c topology.ClusterPlan) (topology.ChartPlan, error)
	// waitMultus waits for the Multus DaemonSet.
	waitMultus WaitFunc
	// waitFluidos waits for the FLUIDOS network-manager DaemonSet.
	waitFluidos WaitFunc
	apiTimeout  time.Duration
	// deleteRetry is how often a deleted cluster's lingering node
	// containers are deleted again (deleteUntilGone).
	deleteRetry time.Duration
	// nodeReadyGrace is how long a kept cluster's nodes may take to be
	// Ready before it counts as broken.
	nodeReadyGrace time.Duration
	// protocols are the discovery protocols status looks for.
	protocols []Protocol
	// exec runs commands in the nodes of a lab on one engine.
	exec NodeExec
	// waitNodes waits for a cluster's nodes to be Ready.
	waitNodes func(ctx context.Context, cs kubernetes.Interface, want int) error
	// confPoll is how often ready looks for Multus' configuration file.
	confPoll time.Duration
	// newEngine reaches the hosts of a multi-host lab; engs caches them.
	newEngine  EngineFactory
	engs       engines
	copyImages ImageCopier
}

// Option configures a Provisioner.
type Option func(*Provisioner) error

// WithProtocols sets the discovery protocols status looks for on every
// cluster (default: DefaultProtocols).
func WithProtocols(ps []Protocol) Option {
	return func(p *Provisioner) error { p.protocols = append([]Protocol(nil), ps...); return nil }
}

// WithClusters sets the KinD seam.
func WithClusters(c Clusters) Option {
	return func(p *Provisioner) error { p.clusters = c; return nil }
}

// WithNetwork sets the Docker network seam.
func WithNetwork(n Network) Option { return func(p *Provisioner) error { p.network = n; return nil } }

// WithImages sets the image seam.
func WithImages(i Images) Option { return func(p *Provisioner) error { p.images = i; return nil } }

// WithCNI sets the CNI seam.
func WithCNI(c CNI) Option { return func(p *Provisioner) error { p.cni = c; return nil } }

// WithCharts sets the Helm seam.
func WithCharts(c Charts) Option { return func(p *Provisioner) error { p.charts = c; return nil } }

// WithKube sets how cluster clients are built.
func WithKube(k Kube) Option { return func(p *Provisioner) error { p.kube = k; return nil } }

// WithProgress sets the progress sink.
func WithProgress(pr Progress) Option {
	return func(p *Provisioner) error { p.progress = pr; return nil }
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option {
	return func(p *Provisioner) error { p.now = now; return nil }
}

// WithNetworkSelector sets how KinD is pointed at the lab network.
func WithNetworkSelector(f func(string) error) Option {
	return func(p *Provisioner) error { p.setNetwork = f; return nil }
}

// WithAgentImage sets the reference agent image builder.
func WithAgentImage(f func(ctx context.Context) (string, error)) Option {
	return func(p *Provisioner) error { p.agentImage = f; return nil }
}

// WithFluidosReleases sets the per-cluster FLUIDOS releases.
func WithFluidosReleases(f func(plan *topology.Plan, c topology.ClusterPlan, nodeAddress string) ([]topology.ChartPlan, error)) Option {
	return func(p *Provisioner) error { p.fluidosReleases = f; return nil }
}

// WaitFunc waits until something is ready on one cluster (its typed client
// given); the caller bounds it with a context deadline.
type WaitFunc func(ctx context.Context, cs kubernetes.Interface) error

// WithFluidosWait sets the wait for the FLUIDOS network-manager DaemonSet.
func WithFluidosWait(wait WaitFunc) Option {
	return func(p *Provisioner) error { p.waitFluidos = wait; return nil }
}

// WithMultus sets the Multus chart and readiness wait.
func WithMultus(chart func(plan *topology.Plan, c topology.ClusterPlan) (topology.ChartPlan, error), wait WaitFunc) Option {
	return func(p *Provisioner) error { p.multusChart, p.waitMultus = chart, wait; return nil }
}

// New returns a Provisioner. Unset seams default to the Helm package's
// Multus chart and wait; the others must be set.
func New(opts ...Option) (*Provisioner, error) {
	p := &Provisioner{
		progress:        NopProgress{},
		now:             time.Now,
		kube:            (&kubeclient.Factory{}).KubeDynamic,
		multusChart:     helm.MultusChart,
		fluidosReleases: helm.FluidosReleases,
		waitMultus:      helm.WaitMultusReady,
		waitNodes:       helm.WaitNodesReady,
		confPoll:        200 * time.Millisecond,
		waitFluidos:     helm.WaitFluidosReady,
		setNetwork:      func(string) error { return nil },
		apiTimeout:      10 * time.Second,
		deleteRetry:     2 * time.Second,
		nodeReadyGrace:  90 * time.Second,
	}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	if p.clusters == nil || p.network == nil {
		return nil, errors.New("provision: clusters and network seams are required")
	}
	return p, nil
}
