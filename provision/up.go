package provision

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/internal/helm"
	"github.com/fluidos-lab/testbed/internal/images"
	"github.com/fluidos-lab/testbed/topology"
)

// Step names. Up runs the lab steps (pull, bake, network) once, then every
// cluster through the cluster steps (create … charts) in this order.
const (
	StepPull    = "pull"
	StepBake    = "bake"
	StepCopy    = "copy"
	StepNetwork = "network"
	StepCreate  = "create"
	StepShared  = "shared"
	StepImages  = "images"
	StepCNI     = "cni"
	StepMultus  = "multus"
	StepReady   = "ready"
	StepNAD     = "nad"
	StepFluidos = "fluidos"
	StepCharts  = "charts"
)

// readyTimeout bounds the wait for a DaemonSet (Multus, the FLUIDOS Network
// Manager) per cluster.
const readyTimeout = 5 * time.Minute

// UpOptions tune one Up.
type UpOptions struct {
	// Parallelism bounds concurrent cluster creates (0: the plan's).
	Parallelism int
	// Recreate deletes and rebuilds every cluster.
	Recreate bool
	// Offline uses only images already on the host.
	Offline bool
	// NoBake imports the lab's images into every node (the fallback path)
	// instead of baking them into a derived node image once; a lean
	// cluster's node image is still derived, with the profile's files only.
	NoBake bool
}

// PhaseTiming sums up one step over the lab.
type PhaseTiming struct {
	Name string `json:"name"`
	// Start is the first cluster's start of the step, since Up began;
	// Duration runs from there to the last cluster's end (steps of different
	// clusters overlap); Busy is the step's run time summed over clusters.
	Start    time.Duration `json:"start"`
	Duration time.Duration `json:"duration"`
	Busy     time.Duration `json:"busy"`
	// Changed counts clusters where the step did work; Skipped where it was
	// already satisfied.
	Changed int `json:"changed"`
	Skipped int `json:"skipped"`
	end     time.Duration
}

// Report summarises an Up.
type Report struct {
	Topology string                  `json:"topology"`
	Network  dockernet.NetworkResult `json:"network"`
	// Phases are the lab steps, then one entry per cluster step.
	Phases []PhaseTiming `json:"phases"`
	// Spans are every cluster's steps; CriticalPath the cluster that ended last.
	Spans        []Span        `json:"spans"`
	CriticalPath CriticalPath  `json:"criticalPath"`
	Wall         time.Duration `json:"wall"`
	// Creates is each created cluster's KinD create time.
	Creates       map[string]time.Duration `json:"creates,omitempty"`
	SlowestCreate time.Duration            `json:"slowestCreate"`
	Parallelism   int                      `json:"parallelism"`
	Waves         int                      `json:"waves"`
	// Efficiency is the create phase's span over (slowest single create ×
	// waves): 1.0 means the fan-out cost nothing over the ideal.
	Efficiency float64 `json:"efficiency,omitempty"`
	// Changed is false when Up found everything already in place.
	Changed bool `json:"changed"`
	// Hosts are the shared network on every host of a multi-host lab.
	Hosts []SharedResult `json:"hosts,omitempty"`
	// NodesReady is when each cluster's nodes were seen Ready, since Up
	// began; ClustersReady runs from the first create to the last of them
	// (what `kind create cluster --wait` measures, for every cluster).
	NodesReady    map[string]time.Duration `json:"nodesReady,omitempty"`
	ClustersReady time.Duration            `json:"clustersReady,omitempty"`
	// NodeImages maps each planned node image to the baked image new
	// clusters were created from (absent: not baked, see BakeWarning).
	NodeImages  map[string]string `json:"nodeImages,omitempty"`
	BakeWarning string            `json:"bakeWarning,omitempty"`
}

// Phase returns the named phase, if it ran.
func (r *Report) Phase(name string) (PhaseTiming, bool) {
	for _, ph := range r.Phases {
		if ph.Name == name {
			return ph, true
		}
	}
	return PhaseTiming{}, false
}

// clusterState is what Up learns about one cluster as it goes.
type clusterState struct {
	plan    topology.ClusterPlan
	host    *hostRun
	exists  bool // a KinD cluster of this name existed when Up began
	nodes   []dockernet.Node
	address string // control-plane address on the lab network
	// sharedAddress is the control plane's address on the shared network of
	// a multi-host lab: unique across hosts, unlike address.
	sharedAddress string
}

// nodeAddress is the control plane's address the charts get: on several
// hosts the shared network's (lab network addresses repeat across hosts).
func (s *clusterState) nodeAddress() string {
	if s.sharedAddress != "" {
		return s.sharedAddress
	}
	return s.address
}

func (s *clusterState) nodeNames() []string {
	out := make([]string, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n.Name)
	}
	return out
}

// DefaultParallelism is the create bound for n clusters on this host: every
// cluster at once up to twice the CPU count (a KinD create waits on kubeadm
// and the API server for much of its time, so on 2 cores 3 parallel creates
// beat 2 waves), with a floor of 2.
func DefaultParallelism(n int) int {
	return min(max(n, 1), max(2, 2*runtime.NumCPU()))
}

func waves(n, par int) int {
	if n == 0 || par <= 0 {
		return 0
	}
	return (n + par - 1) / par
}

// upRun is one Up in progress.
type upRun struct {
	p          *Provisioner
	plan       *topology.Plan
	o          UpOptions
	rep        *Report
	start      time.Time
	states     []*clusterState
	hosts      []*hostRun
	agentImage string
	// imagesBaked: the clusters' node images carry the lab's images (not
	// only the profile's files), so no host needs them loose.
	imagesBaked bool
	// plugins are the CNI plugin binaries, prepared once by the first
	// cluster that needs them.
	plugins func() (map[string][]byte, error)
	mu      sync.Mutex
}

func (u *upRun) since() time.Duration { return u.p.now().Sub(u.start) }

// Up converges the lab to the plan: the lab steps, then every cluster
// through its own steps as soon as its create is done.
func (p *Provisioner) Up(ctx context.Context, plan *topology.Plan, o UpOptions) (*Report, error) {
	if plan == nil || len(plan.Clusters) == 0 {
		return nil, errors.New("up: empty plan")
	}
	u := &upRun{p: p, plan: plan, o: o, start: p.now(),
		rep: &Report{Topology: plan.Name, Creates: map[string]time.Duration{}, NodesReady: map[string]time.Duration{}}}
	u.rep.Parallelism = o.Parallelism
	if u.rep.Parallelism <= 0 {
		u.rep.Parallelism = plan.Parallelism
	}
	if u.rep.Parallelism <= 0 {
		u.rep.Parallelism = DefaultParallelism(len(plan.Clusters))
	}
	for _, c := range plan.Clusters {
		u.states = append(u.states, &clusterState{plan: c})
	}
	// KinD cannot be cancelled: say what happens after Ctrl-C.
	stopNote := context.AfterFunc(ctx, func() {
		if plan.MultiHost() {
			p.progress.Logf("interrupted: starting no new step; stopping the KinD creates in flight (each runs in a child process)")
			return
		}
		p.progress.Logf("interrupted: starting no new step; waiting for the steps in flight (a KinD create cannot be cancelled and runs to its end)")
	})
	defer stopNote()
	err := u.run(ctx)
	u.rep.Wall = p.now().Sub(u.start)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w; every cluster is complete, absent or repairable: run `testbed up` again to converge or `testbed down` to remove", ErrInterrupted, err)
	}
	return u.rep, err
}

func (u *upRun) run(ctx context.Context) error {
	hosts, err := u.p.hostRuns(u.plan)
	if err != nil {
		return &StepError{Step: StepNetwork, Err: err}
	}
	u.hosts = hosts
	for _, s := range u.states {
		s.host = hostOf(hosts, s.plan)
	}
	for _, st := range u.labSteps() {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := u.since()
		ch, sk, err := st.run(ctx)
		d := u.since() - t
		u.rep.Phases = append(u.rep.Phases, PhaseTiming{Name: st.name, Start: t, Duration: d, Busy: d, Changed: ch, Skipped: sk})
		u.rep.Changed = u.rep.Changed || ch > 0
		if err != nil {
			return &StepError{Step: st.name, Err: err}
		}
	}
	steps := u.clusterSteps()
	pl := newPipeline(steps, u.rep.Parallelism, max(u.rep.Parallelism, 4), u.since, u.p.progress)
	err = pl.run(ctx, u.states)
	phases, cp := summarize(steps, pl.spans)
	u.rep.Phases = append(u.rep.Phases, phases...)
	u.rep.Spans, u.rep.CriticalPath = pl.spans, cp
	for _, ph := range phases {
		u.rep.Changed = u.rep.Changed || ph.Changed > 0
	}
	u.createFigures()
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// labStep is one of Up's steps over the whole lab.
type labStep struct {
	name string
	run  func(context.Context) (changed, skipped int, err error)
}

// labSteps are the lab steps in order; copy only on several hosts.
func (u *upRun) labSteps() []labStep {
	steps := []labStep{{StepPull, u.pull}, {StepBake, u.bake}}
	if u.plan.MultiHost() {
		steps = append(steps, labStep{StepCopy, u.copyImages})
	}
	return append(steps, labStep{StepNetwork, u.network})
}

func (u *upRun) clusterSteps() []clusterStep {
	steps := []clusterStep{{name: StepCreate, heavy: true, run: u.create}}
	if u.plan.MultiHost() {
		steps = append(steps, clusterStep{name: StepShared, run: u.attachShared})
	}
	steps = append(steps, []clusterStep{
		{name: StepImages, run: u.images},
		{name: StepCNI, run: u.cni},
		{name: StepMultus, run: u.multus},
		{name: StepReady, run: u.ready},
		{name: StepNAD, run: u.nads},
	}...)
	if u.plan.Fluidos != nil {
		steps = append(steps, clusterStep{name: StepFluidos, run: u.fluidos})
	}
	return append(steps, clusterStep{name: StepCharts, run: u.charts})
}

func (u *upRun) createFigures() {
	r := u.rep
	for _, d := range r.Creates {
		r.SlowestCreate = max(r.SlowestCreate, d)
	}
	r.Waves = waves(len(r.Creates), r.Parallelism)
	if ph, ok := r.Phase(StepCreate); ok {
		for _, t := range r.NodesReady {
			r.ClustersReady = max(r.ClustersReady, t-ph.Start)
		}
	}
	if ph, ok := r.Phase(StepCreate); ok && r.SlowestCreate > 0 && r.Waves > 0 {
		r.Efficiency = float64(ph.Duration) / float64(r.SlowestCreate*time.Duration(r.Waves))
	}
}

// labImages are the images every node needs: the plan's and the agent's.
func (u *upRun) labImages() []string {
	refs := u.p.imageRefs(u.plan)
	if u.agentImage != "" {
		refs = images.Unique(refs, []string{u.agentImage})
	}
	return refs
}

// multus installs the Multus thin plugin without waiting for it: its pods
// run on the host network and tolerate a node that is not Ready yet, so
// they start while the node comes up (ready waits for both).
func (u *upRun) multus(ctx context.Context, s *clusterState) (string, bool, error) {
	ch, err := u.p.multusChart(u.plan, s.plan)
	if err != nil {
		return "", false, err
	}
	ch.SkipWait = true
	rel, err := u.p.apply(ctx, s, WithValues(ch, nil, TestbedValues(u.plan, s.plan, s.nodeAddress(), u.agentImage)))
	if err != nil {
		return "", false, err
	}
	return releaseNote(rel), rel.Changed, nil
}

func (u *upRun) nads(ctx context.Context, s *clusterState) (string, bool, error) {
	return u.p.ensureNADs(ctx, u.plan, s)
}

// fluidos installs the FLUIDOS releases (pinned prerequisites, then the node
// chart with generated values) and waits for the Network Manager: Helm's own
// wait can count a single-node DaemonSet ready while its only pod is not.
func (u *upRun) fluidos(ctx context.Context, s *clusterState) (string, bool, error) {
	if f, _ := chartsOf(u.plan, s.plan); f == nil {
		return "not planned", false, nil
	}
	rels, err := u.p.fluidosReleases(u.plan, s.plan, s.nodeAddress())
	if err != nil {
		return "", false, err
	}
	note, changed, err := u.p.applyAll(ctx, u.plan, s, rels, u.agentImage)
	if err != nil {
		return "", false, err
	}
	if err := u.p.waitReady(ctx, s, u.p.waitFluidos, "network-manager DaemonSet"); err != nil {
		return "", false, err
	}
	return note, changed, nil
}

func (u *upRun) charts(ctx context.Context, s *clusterState) (string, bool, error) {
	_, extra := chartsOf(u.plan, s.plan)
	if len(extra) == 0 {
		return "none planned", false, nil
	}
	return u.p.applyAll(ctx, u.plan, s, extra, u.agentImage)
}

// waitReady runs a readiness wait on the cluster, bounded by readyTimeout.
func (p *Provisioner) waitReady(ctx context.Context, s *clusterState, wait WaitFunc, what string) error {
	if wait == nil {
		return nil
	}
	cs, _, err := p.kube(s.plan.Kubeconfig)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := wait(wctx, cs); err != nil {
		return fmt.Errorf("%s not ready within %s: %w", what, readyTimeout, err)
	}
	return nil
}

// applyAll installs or upgrades releases in order on one cluster, each with
// the testbed values block, and sums up what changed.
func (p *Provisioner) applyAll(ctx context.Context, plan *topology.Plan, s *clusterState, charts []topology.ChartPlan, agentImage string) (string, bool, error) {
	changed := false
	var notes []string
	for _, ch := range charts {
		// The reference agent's chart is ours: its one workload is the
		// DaemonSet reference-agent, watched here instead of Helm's wait
		// (which polls every 2 s).
		agent := usesAgentImage(ch)
		ch.SkipWait = ch.SkipWait || agent
		rel, err := p.apply(ctx, s, WithValues(ch, nil, TestbedValues(plan, s.plan, s.nodeAddress(), agentImage)))
		if err != nil {
			return "", false, err
		}
		if agent {
			ns := ch.Namespace
			wait := func(ctx context.Context, cs kubernetes.Interface) error {
				return helm.WaitDaemonSetReady(ctx, cs, ns, AgentDaemonSet)
			}
			if err := p.waitReady(ctx, s, wait, "reference-agent DaemonSet in "+ns); err != nil {
				return "", false, err
			}
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
