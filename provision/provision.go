package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/network"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tbdocker "github.com/fluidos-lab/testbed/provision/docker"
	"github.com/fluidos-lab/testbed/provision/helm"
	"github.com/fluidos-lab/testbed/provision/images"
	"github.com/fluidos-lab/testbed/topology"
)

// Phase names, in the order Up runs them.
const (
	PhaseHostImages = "pull"
	PhaseNetwork    = "network"
	PhaseClusters   = "clusters"
	PhaseImages     = "images"
	PhaseCNI        = "cni"
	PhaseMultus     = "multus"
	PhaseNAD        = "nad"
	PhaseFluidos    = "fluidos"
	PhaseCharts     = "charts"
)

// multusReadyTimeout bounds the wait for the Multus DaemonSet per cluster.
const multusReadyTimeout = 5 * time.Minute

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
	waitMultus func(ctx context.Context, kubeconfig string) error
	// waitFluidos waits for the FLUIDOS network-manager DaemonSet.
	waitFluidos func(ctx context.Context, kubeconfig string) error
	apiTimeout  time.Duration
}

// Option configures a Provisioner.
type Option func(*Provisioner) error

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

// WithFluidosWait sets the wait for the FLUIDOS network-manager DaemonSet.
func WithFluidosWait(wait func(ctx context.Context, kubeconfig string) error) Option {
	return func(p *Provisioner) error { p.waitFluidos = wait; return nil }
}

// WithMultus sets the Multus chart and readiness wait.
func WithMultus(chart func(plan *topology.Plan, c topology.ClusterPlan) (topology.ChartPlan, error), wait func(ctx context.Context, kubeconfig string) error) Option {
	return func(p *Provisioner) error { p.multusChart, p.waitMultus = chart, wait; return nil }
}

// New returns a Provisioner. Unset seams default to the Helm package's
// Multus chart and wait; the others must be set.
func New(opts ...Option) (*Provisioner, error) {
	p := &Provisioner{
		progress:        NopProgress{},
		now:             time.Now,
		kube:            KubeFromFile,
		multusChart:     helm.MultusChart,
		fluidosReleases: helm.FluidosReleases,
		waitMultus:      helm.WaitMultusReady,
		waitFluidos:     helm.WaitFluidosReady,
		setNetwork:      func(string) error { return nil },
		apiTimeout:      10 * time.Second,
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

// UpOptions tune one Up.
type UpOptions struct {
	// Parallelism bounds concurrent cluster creates (0: plan, else CPU count).
	Parallelism int
	// Recreate deletes and rebuilds every cluster.
	Recreate bool
	// Offline uses only images already on the host.
	Offline bool
}

// PhaseTiming is one phase's wall time.
type PhaseTiming struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
	// Changed counts clusters where the phase did work; Skipped where it was
	// already satisfied.
	Changed int `json:"changed"`
	Skipped int `json:"skipped"`
}

// Report summarises an Up.
type Report struct {
	Topology string                 `json:"topology"`
	Network  tbdocker.NetworkResult `json:"network"`
	Phases   []PhaseTiming          `json:"phases"`
	Wall     time.Duration          `json:"wall"`
	// Creates is each created cluster's KinD create time.
	Creates       map[string]time.Duration `json:"creates,omitempty"`
	SlowestCreate time.Duration            `json:"slowestCreate"`
	Parallelism   int                      `json:"parallelism"`
	Waves         int                      `json:"waves"`
	// Efficiency is the clusters phase's wall time over (slowest single
	// create × waves): 1.0 means the fan-out cost nothing over the ideal.
	Efficiency float64 `json:"efficiency,omitempty"`
	// Changed is false when Up found everything already in place.
	Changed bool `json:"changed"`
}

// ErrInterrupted wraps a context cancellation during Up.
var ErrInterrupted = errors.New("interrupted")

// clusterState is what Up learns about one cluster as it goes.
type clusterState struct {
	plan    topology.ClusterPlan
	nodes   []tbdocker.Node
	address string // control-plane address on the lab network
}

func (s *clusterState) nodeNames() []string {
	out := make([]string, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n.Name)
	}
	return out
}

// DefaultParallelism is the cluster-create bound from the CPU count: KinD
// creates are CPU bound (kubeadm, etcd), so one per core with a floor of 2.
func DefaultParallelism() int {
	n := runtime.NumCPU()
	if n < 2 {
		n = 2
	}
	return n
}

func waves(n, par int) int {
	if n == 0 || par <= 0 {
		return 0
	}
	return (n + par - 1) / par
}

// Up converges the lab to the plan.
func (p *Provisioner) Up(ctx context.Context, plan *topology.Plan, o UpOptions) (*Report, error) {
	if plan == nil || len(plan.Clusters) == 0 {
		return nil, errors.New("up: empty plan")
	}
	start := p.now()
	rep := &Report{Topology: plan.Name, Creates: map[string]time.Duration{}}
	par := o.Parallelism
	if par <= 0 {
		par = plan.Parallelism
	}
	if par <= 0 {
		par = DefaultParallelism()
	}
	rep.Parallelism = par
	states := make([]*clusterState, len(plan.Clusters))
	for i, c := range plan.Clusters {
		states[i] = &clusterState{plan: c}
	}
	// KinD cannot be cancelled: say what happens after Ctrl-C.
	stopNote := context.AfterFunc(ctx, func() {
		p.progress.Logf("interrupted: scheduling no new work; waiting for in-flight steps (a KinD create cannot be cancelled and runs to its end)")
	})
	defer stopNote()
	finish := func(err error) (*Report, error) {
		rep.Wall = p.now().Sub(start)
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w: %w; every cluster is complete, absent or repairable: run `testbed up` again to converge or `testbed down` to remove", ErrInterrupted, err)
		}
		return rep, err
	}
	phase := func(name string, f func() (changed, skipped int, err error)) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := p.now()
		ch, sk, err := f()
		rep.Phases = append(rep.Phases, PhaseTiming{Name: name, Duration: p.now().Sub(t), Changed: ch, Skipped: sk})
		if ch > 0 {
			rep.Changed = true
		}
		return err
	}

	// Agent image first: host images are checked (offline) before any work.
	agentImage := ""
	needAgent := false
	for _, c := range plan.Clusters {
		_, extra := chartsOf(plan, c)
		for _, ch := range extra {
			needAgent = needAgent || usesAgentImage(ch)
		}
	}
	// Node images are checked (offline) or pulled once on the host too, so
	// KinD never pulls them per cluster; they are not loaded into nodes.
	var nodeImages []string
	for _, c := range plan.Clusters {
		nodeImages = append(nodeImages, c.NodeImage)
	}
	hostRefs := images.Unique(p.imageRefs(plan), nodeImages)
	if err := phase(PhaseHostImages, func() (int, int, error) {
		if needAgent {
			if p.agentImage == nil {
				return 0, 0, errors.New("a chart uses the reference agent image but no agent image builder is configured")
			}
			ref, err := p.agentImage(ctx)
			if err != nil {
				return 0, 0, fmt.Errorf("building the reference agent image: %w", err)
			}
			agentImage = ref
			hostRefs = images.Unique(hostRefs, []string{ref})
		}
		if p.images == nil {
			return 0, 0, nil
		}
		pulled, err := p.images.EnsureHost(ctx, hostRefs, o.Offline)
		if err != nil {
			return 0, 0, err
		}
		if len(pulled) > 0 {
			p.progress.Logf("pulled %d image(s) on the host: %v", len(pulled), pulled)
		}
		return len(pulled), len(hostRefs) - len(pulled), nil
	}); err != nil {
		return finish(fmt.Errorf("images: %w", err))
	}

	if err := phase(PhaseNetwork, func() (int, int, error) {
		res, err := p.network.Ensure(ctx, plan.Name, plan.Network)
		if err != nil {
			return 0, 0, err
		}
		rep.Network = res
		if res.Warning != "" {
			p.progress.Logf("network %s: %s", res.Name, res.Warning)
		}
		if err := p.setNetwork(plan.Network.Name); err != nil {
			return 0, 0, err
		}
		if res.Created {
			return 1, 0, nil
		}
		return 0, 1, nil
	}); err != nil {
		return finish(fmt.Errorf("network %q: %w", plan.Network.Name, err))
	}
	net, err := p.managedNetwork(ctx, plan)
	if err != nil {
		return finish(err)
	}

	// Clusters: bounded fan-out of KinD creates.
	var createMu sync.Mutex
	if err := phase(PhaseClusters, func() (int, int, error) {
		existing, err := p.clusters.List()
		if err != nil {
			return 0, 0, err
		}
		return p.fanOut(ctx, PhaseClusters, states, par, func(ctx context.Context, s *clusterState) (string, bool, error) {
			note, changed, d, err := p.ensureCluster(ctx, plan, s, slices.Contains(existing, s.plan.Name), o.Recreate, net)
			if changed && err == nil {
				createMu.Lock()
				rep.Creates[s.plan.Name] = d
				createMu.Unlock()
			}
			return note, changed, err
		})
	}); err != nil {
		return finish(fmt.Errorf("clusters: %w", err))
	}
	for _, d := range rep.Creates {
		rep.SlowestCreate = max(rep.SlowestCreate, d)
	}
	rep.Waves = waves(len(rep.Creates), par)
	if rep.SlowestCreate > 0 && rep.Waves > 0 {
		rep.Efficiency = float64(rep.Phases[len(rep.Phases)-1].Duration) / float64(rep.SlowestCreate*time.Duration(rep.Waves))
	}

	// Node inventory: names and the control-plane address.
	for _, s := range states {
		nodes, err := p.network.Nodes(ctx, net, s.plan.Name)
		if err != nil {
			return finish(fmt.Errorf("cluster %q: listing nodes: %w", s.plan.Name, err))
		}
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
		s.nodes = nodes
		for _, n := range nodes {
			if n.Role == "control-plane" {
				s.address = n.Address
			}
		}
		if len(nodes) == 0 {
			return finish(fmt.Errorf("cluster %q: no node container on network %q", s.plan.Name, plan.Network.Name))
		}
	}

	if err := phase(PhaseImages, func() (int, int, error) { return p.loadImages(ctx, plan, states, agentImage) }); err != nil {
		return finish(fmt.Errorf("images: %w", err))
	}
	if err := phase(PhaseCNI, func() (int, int, error) { return p.installCNI(ctx, plan, states) }); err != nil {
		return finish(fmt.Errorf("cni: %w", err))
	}
	chartPar := max(par, 4)
	if err := phase(PhaseMultus, func() (int, int, error) {
		return p.fanOut(ctx, PhaseMultus, states, chartPar, func(ctx context.Context, s *clusterState) (string, bool, error) {
			ch, err := p.multusChart(plan, s.plan)
			if err != nil {
				return "", false, err
			}
			rel, err := p.apply(ctx, s, WithValues(ch, nil, TestbedValues(plan, s.plan, s.address, agentImage)))
			if err != nil {
				return "", false, err
			}
			if p.waitMultus != nil {
				wctx, cancel := context.WithTimeout(ctx, multusReadyTimeout)
				defer cancel()
				if err := p.waitMultus(wctx, s.plan.Kubeconfig); err != nil {
					return "", false, fmt.Errorf("multus DaemonSet not ready within %s: %w", multusReadyTimeout, err)
				}
			}
			return releaseNote(rel), rel.Changed, nil
		})
	}); err != nil {
		return finish(fmt.Errorf("multus: %w", err))
	}
	if err := phase(PhaseNAD, func() (int, int, error) {
		return p.fanOut(ctx, PhaseNAD, states, chartPar, func(ctx context.Context, s *clusterState) (string, bool, error) {
			return p.ensureNADs(ctx, plan, s)
		})
	}); err != nil {
		return finish(fmt.Errorf("nad: %w", err))
	}
	if plan.Fluidos != nil {
		if err := phase(PhaseFluidos, func() (int, int, error) {
			return p.fanOut(ctx, PhaseFluidos, states, chartPar, func(ctx context.Context, s *clusterState) (string, bool, error) {
				if f, _ := chartsOf(plan, s.plan); f == nil {
					return "not planned", false, nil
				}
				rels, err := p.fluidosReleases(plan, s.plan, s.address)
				if err != nil {
					return "", false, err
				}
				note, changed, err := p.applyAll(ctx, plan, s, rels, agentImage)
				if err != nil {
					return "", false, err
				}
				// Helm's own wait can count a single-node DaemonSet ready
				// while its only pod is not: wait for the Network Manager.
				if p.waitFluidos != nil {
					wctx, cancel := context.WithTimeout(ctx, multusReadyTimeout)
					defer cancel()
					if err := p.waitFluidos(wctx, s.plan.Kubeconfig); err != nil {
						return "", false, fmt.Errorf("network-manager DaemonSet not ready within %s: %w", multusReadyTimeout, err)
					}
				}
				return note, changed, nil
			})
		}); err != nil {
			return finish(fmt.Errorf("fluidos: %w", err))
		}
	}
	if err := phase(PhaseCharts, func() (int, int, error) {
		return p.fanOut(ctx, PhaseCharts, states, chartPar, func(ctx context.Context, s *clusterState) (string, bool, error) {
			_, extra := chartsOf(plan, s.plan)
			if len(extra) == 0 {
				return "none planned", false, nil
			}
			return p.applyAll(ctx, plan, s, extra, agentImage)
		})
	}); err != nil {
		return finish(fmt.Errorf("charts: %w", err))
	}
	return finish(nil)
}

// applyAll installs or upgrades releases in order on one cluster, each with
// the testbed values block, and sums up what changed.
func (p *Provisioner) applyAll(ctx context.Context, plan *topology.Plan, s *clusterState, charts []topology.ChartPlan, agentImage string) (string, bool, error) {
	changed := false
	var notes []string
	for _, ch := range charts {
		rel, err := p.apply(ctx, s, WithValues(ch, nil, TestbedValues(plan, s.plan, s.address, agentImage)))
		if err != nil {
			return "", false, err
		}
		changed = changed || rel.Changed
		notes = append(notes, releaseNote(rel))
	}
	return strings.Join(notes, ", "), changed, nil
}

func releaseNote(r helm.Release) string {
	verb := "unchanged"
	if r.Changed {
		verb = "applied"
	}
	return fmt.Sprintf("%s %s-%s rev %d", verb, r.Name, r.Version, r.Revision)
}

func (p *Provisioner) apply(ctx context.Context, s *clusterState, ch topology.ChartPlan) (helm.Release, error) {
	if p.charts == nil {
		return helm.Release{}, errors.New("no chart installer configured")
	}
	rel, err := p.charts.Apply(ctx, s.plan.Kubeconfig, ch)
	if err != nil {
		return rel, fmt.Errorf("release %s/%s: %w", ch.Namespace, ch.Release, err)
	}
	return rel, nil
}

// fanOut runs f for every cluster with at most limit at once. It stops
// scheduling when ctx ends or a cluster fails, waits for what is in flight,
// and joins every cluster's error.
func (p *Provisioner) fanOut(ctx context.Context, phase string, states []*clusterState, limit int, f func(ctx context.Context, s *clusterState) (note string, changed bool, err error)) (changed, skipped int, err error) {
	var mu sync.Mutex
	var errs []error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, s := range states {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if gctx.Err() != nil {
				return gctx.Err()
			}
			p.progress.Start(s.plan.Name, phase)
			t := p.now()
			note, ch, err := f(gctx, s)
			p.progress.Done(s.plan.Name, phase, note, p.now().Sub(t), err)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				e := err
				if !strings.HasPrefix(err.Error(), fmt.Sprintf("cluster %q", s.plan.Name)) {
					e = fmt.Errorf("cluster %q: %w", s.plan.Name, err)
				}
				errs = append(errs, e)
				return e
			}
			if ch {
				changed++
			} else {
				skipped++
			}
			return nil
		})
	}
	werr := g.Wait()
	if len(errs) > 0 {
		return changed, skipped, errors.Join(errs...)
	}
	if werr != nil {
		return changed, skipped, werr
	}
	if err := ctx.Err(); err != nil {
		return changed, skipped, err
	}
	return changed, skipped, nil
}

// imageRefs are the images every node needs, known before any cluster exists.
func (p *Provisioner) imageRefs(plan *topology.Plan) []string {
	refs := [][]string{plan.Images}
	if plan.Multus.Image != "" {
		refs = append(refs, []string{plan.Multus.Image})
	}
	if plan.Fluidos != nil {
		refs = append(refs, plan.Fluidos.Images)
		fi, _ := helm.FluidosImages(plan.Fluidos.Version)
		refs = append(refs, fi)
	}
	for _, c := range plan.ExtraCharts {
		refs = append(refs, c.Images)
	}
	for _, c := range plan.Clusters {
		for _, ch := range c.Charts {
			refs = append(refs, ch.Images)
		}
	}
	return images.Unique(refs...)
}

func (p *Provisioner) loadImages(ctx context.Context, plan *topology.Plan, states []*clusterState, agentImage string) (int, int, error) {
	if p.images == nil {
		return 0, 0, nil
	}
	refs := p.imageRefs(plan)
	if agentImage != "" {
		refs = images.Unique(refs, []string{agentImage})
	}
	var nodes []string
	byNode := map[string]string{}
	for _, s := range states {
		for _, n := range s.nodeNames() {
			nodes = append(nodes, n)
			byNode[n] = s.plan.Name
		}
	}
	for _, s := range states {
		p.progress.Start(s.plan.Name, PhaseImages)
	}
	t := p.now()
	loaded := map[string]int{}
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		got, err := p.images.Load(ctx, ref, nodes)
		if err != nil {
			for _, s := range states {
				p.progress.Done(s.plan.Name, PhaseImages, "", p.now().Sub(t), err)
			}
			return 0, 0, fmt.Errorf("loading %s: %w", ref, err)
		}
		for _, n := range got {
			loaded[byNode[n]]++
		}
	}
	changed, skipped := 0, 0
	for _, s := range states {
		if loaded[s.plan.Name] > 0 {
			changed++
		} else {
			skipped++
		}
		p.progress.Done(s.plan.Name, PhaseImages, fmt.Sprintf("%d image(s) loaded, %d already present", loaded[s.plan.Name], len(refs)*len(s.nodes)-loaded[s.plan.Name]), p.now().Sub(t), nil)
	}
	return changed, skipped, nil
}

func (p *Provisioner) installCNI(ctx context.Context, plan *topology.Plan, states []*clusterState) (int, int, error) {
	if p.cni == nil {
		return 0, 0, nil
	}
	cache := filepath.Join(filepath.Dir(plan.StateDir), "cache", "cni")
	plugins, err := p.cni.Prepare(ctx, plan.CNIPlugins, cache)
	if err != nil {
		return 0, 0, err
	}
	return p.fanOut(ctx, PhaseCNI, states, 8, func(ctx context.Context, s *clusterState) (string, bool, error) {
		copied, err := p.cni.Install(ctx, s.nodeNames(), plugins)
		if err != nil {
			return "", false, err
		}
		if len(copied) == 0 {
			return "plugins present", false, nil
		}
		var parts []string
		for _, n := range s.nodeNames() {
			if c := copied[n]; len(c) > 0 {
				parts = append(parts, n+": "+strings.Join(c, ","))
			}
		}
		return "installed " + strings.Join(parts, "; "), true, nil
	})
}

// ensureCluster makes one cluster exist and be healthy: a healthy cluster is
// kept (its kubeconfig re-exported if missing), anything else is deleted and
// created again. A KinD cluster of the same name that is not on the lab's
// network is not this lab's and is refused, never deleted.
func (p *Provisioner) ensureCluster(ctx context.Context, plan *topology.Plan, s *clusterState, exists, recreate bool, net network.Summary) (string, bool, time.Duration, error) {
	c := s.plan
	if exists {
		nodes, err := p.network.Nodes(ctx, net, c.Name)
		if err != nil {
			return "", false, 0, err
		}
		if len(nodes) == 0 {
			return "", false, 0, fmt.Errorf("a KinD cluster named %q exists but none of its nodes is on network %q: it is not this lab's; delete it or rename the cluster", c.Name, plan.Network.Name)
		}
		reason := ""
		if recreate {
			reason = "--recreate"
		} else {
			reason = p.unhealthy(ctx, c, nodes)
		}
		if reason == "" {
			return "healthy, kept", false, 0, nil
		}
		p.progress.Logf("cluster %s: %s: deleting and creating again", c.Name, reason)
		if err := p.clusters.Delete(c.Name, c.Kubeconfig); err != nil {
			return "", false, 0, err
		}
	}
	if err := ctx.Err(); err != nil {
		return "", false, 0, err
	}
	retries := plan.Retries
	t := p.now()
	if err := p.clusters.Create(ctx, c, retries); err != nil {
		return "", false, 0, err
	}
	d := p.now().Sub(t)
	return fmt.Sprintf("created in %s", d.Round(time.Millisecond)), true, d, nil
}

// unhealthy returns why an existing cluster must be rebuilt, or "".
func (p *Provisioner) unhealthy(ctx context.Context, c topology.ClusterPlan, nodes []tbdocker.Node) string {
	want := max(len(c.Nodes), 1)
	if len(nodes) != want {
		return fmt.Sprintf("%d of %d node containers", len(nodes), want)
	}
	for _, n := range nodes {
		if n.State != "running" {
			return fmt.Sprintf("node %s is %s", n.Name, n.State)
		}
	}
	if _, err := os.Stat(c.Kubeconfig); err != nil {
		if err := p.clusters.ExportKubeconfig(c.Name, c.Kubeconfig); err != nil {
			return fmt.Sprintf("kubeconfig missing and not exportable: %v", err)
		}
	}
	if err := p.apiReachable(ctx, c.Kubeconfig); err != nil {
		return fmt.Sprintf("API unreachable: %v", err)
	}
	return ""
}

func (p *Provisioner) apiReachable(ctx context.Context, kubeconfig string) error {
	cs, _, err := p.kube(kubeconfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.apiTimeout)
	defer cancel()
	_, err = cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	return err
}
