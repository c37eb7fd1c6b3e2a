package selftest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	chart "github.com/fluidos-lab/testbed/charts/reference-agent"
	"github.com/fluidos-lab/testbed/scenarios/agent"
	"github.com/fluidos-lab/testbed/topology"
)

// Installer installs or upgrades the reference agent on every cluster of
// a lab (provision.Provisioner.InstallAgent in production) and returns the
// agent image and each cluster's installed chart values.
type Installer interface {
	InstallAgent(ctx context.Context, plan *topology.Plan) (image string, values []map[string]any, err error)
}

// Options configure Run.
type Options struct {
	Plan *topology.Plan
	// Timeout bounds the wait for the full matrix (default 2 min).
	Timeout time.Duration
	// Slack is added to firstDelay+interval for the timing check (default 2 s).
	Slack time.Duration
	// SkipInstall only waits and reports (the agent is already installed).
	SkipInstall bool
	Installer   Installer
	// Kube builds a cluster's clients from its kubeconfig (required).
	Kube func(kubeconfig string) (kubernetes.Interface, dynamic.Interface, error)
	// Logf receives progress lines (may be nil).
	Logf func(format string, args ...any)
}

// Cell is one direction: Observer's agent heard Peer's.
type Cell struct {
	Observer string `json:"observer"`
	Peer     string `json:"peer"`
	Found    bool   `json:"found"`
	// DiscoveryMS is first receive minus the later of the two agents' starts:
	// the protocol's own discovery time.
	DiscoveryMS float64 `json:"discoveryMS,omitempty"`
	// TransitMS is first receive minus that announcement's send time.
	TransitMS float64 `json:"transitMS,omitempty"`
	// SinceObserverStartMS and SincePeerStartMS split the same instant.
	SinceObserverStartMS float64 `json:"sinceObserverStartMS,omitempty"`
	SincePeerStartMS     float64 `json:"sincePeerStartMS,omitempty"`
	// WithinBound is DiscoveryMS <= firstDelay + interval + slack.
	WithinBound bool   `json:"withinBound"`
	Address     string `json:"address,omitempty"`
}

// Agent describes one cluster's agent pod.
type Agent struct {
	Cluster  string `json:"cluster"`
	Pod      string `json:"pod,omitempty"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
	// LastExit is how the agent's previous container ended, when it
	// restarted ("exit 2 (Error) at 2026-12-06T02:41:19Z: message").
	LastExit string `json:"lastExit,omitempty"`
	State    string `json:"state,omitempty"`
	// From the agent's /metrics (through the API server's pod proxy).
	ResidentMiB   float64 `json:"residentMiB,omitempty"`
	CPUSeconds    float64 `json:"cpuSeconds,omitempty"`
	Announcements float64 `json:"announcements,omitempty"`
	APIErrors     float64 `json:"apiErrors,omitempty"`
	Malformed     float64 `json:"malformed,omitempty"`
}

// Result is the self-test's report (`-o json` prints it).
type Result struct {
	Topology     string   `json:"topology"`
	Clusters     []string `json:"clusters"`
	AgentImage   string   `json:"agentImage,omitempty"`
	IntervalMS   float64  `json:"intervalMS"`
	FirstDelayMS float64  `json:"firstDelayMS"`
	BoundMS      float64  `json:"boundMS"`
	Cells        []Cell   `json:"cells"`
	Agents       []Agent  `json:"agents"`
	Found        int      `json:"found"`
	Expected     int      `json:"expected"`
	WaitedMS     float64  `json:"waitedMS"`
	Passed       bool     `json:"passed"`
	Reasons      []string `json:"reasons,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
}

// Cell returns the cell of observer hearing peer.
func (r *Result) Cell(observer, peer string) (Cell, bool) {
	for _, c := range r.Cells {
		if c.Observer == observer && c.Peer == peer {
			return c, true
		}
	}
	return Cell{}, false
}

// Run performs the self-test. It returns an error only when it could not
// run; a lab that fails the test gives a Result with Passed false.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Plan == nil || len(o.Plan.Clusters) == 0 {
		return nil, errors.New("self-test needs a plan with clusters")
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Slack == 0 {
		o.Slack = 2 * time.Second
	}
	if o.Kube == nil {
		return nil, errors.New("self-test needs a Kubernetes client factory")
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	plan := o.Plan
	res := &Result{Topology: plan.Name}
	for _, c := range plan.Clusters {
		res.Clusters = append(res.Clusters, c.Name)
	}

	values := make([]map[string]any, len(plan.Clusters))
	for i, c := range plan.Clusters {
		values[i] = planValues(c)
	}
	if !o.SkipInstall {
		if o.Installer == nil {
			return nil, errors.New("installing the agent needs an installer")
		}
		ref, installed, err := o.Installer.InstallAgent(ctx, plan)
		if err != nil {
			return nil, err
		}
		res.AgentImage, values = ref, installed
		logf("agent image %s installed on %d cluster(s)", ref, len(plan.Clusters))
	}
	interval, firstDelay := timing(values[0])
	res.IntervalMS, res.FirstDelayMS = ms(interval), ms(firstDelay)
	bound := firstDelay + interval + o.Slack
	res.BoundMS = ms(bound)

	start := time.Now()
	peers, err := waitMatrix(ctx, o, plan, logf)
	res.WaitedMS = ms(time.Since(start))
	if err != nil {
		return nil, err
	}
	res.Agents = agents(ctx, o, plan)
	evaluate(res, peers, bound)
	return res, nil
}

// planValues are the reference agent's chart values in the plan (for its
// timing) when the self-test does not install it.
func planValues(c topology.ClusterPlan) map[string]any {
	for _, ch := range c.Charts {
		if ch.Name == chart.Name || strings.HasSuffix(strings.TrimSuffix(ch.Chart, "/"), chart.Name) {
			return ch.Values
		}
	}
	return nil
}

// timing reads agent.interval and agent.firstDelay from chart values.
func timing(values map[string]any) (interval, firstDelay time.Duration) {
	interval, firstDelay = agent.DefaultInterval, -1
	if a, ok := values["agent"].(map[string]any); ok {
		if s, ok := a["interval"].(string); ok {
			if d, err := time.ParseDuration(s); err == nil && d > 0 {
				interval = d
			}
		}
		if s, ok := a["firstDelay"].(string); ok && s != "" {
			if d, err := time.ParseDuration(s); err == nil && d >= 0 {
				firstDelay = d
			}
		}
	}
	if firstDelay < 0 {
		firstDelay = interval
	}
	return interval, firstDelay
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// matrix is the live state of every cluster's Peer objects.
type matrix struct {
	mu      sync.Mutex
	peers   map[string]map[string]agent.Peer // observer -> peer -> object
	changed chan struct{}
}

func (m *matrix) set(observer string, obj runtime.Object, present bool) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	p, err := agent.PeerFromObject(u)
	if err != nil {
		return
	}
	m.mu.Lock()
	if present {
		m.peers[observer][p.Cluster] = p
	} else {
		delete(m.peers[observer], p.Cluster)
	}
	m.mu.Unlock()
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// replace sets a cluster's row from a fresh list.
func (m *matrix) replace(observer string, items []unstructured.Unstructured) {
	row := map[string]agent.Peer{}
	for i := range items {
		if p, err := agent.PeerFromObject(&items[i]); err == nil {
			row[p.Cluster] = p
		}
	}
	m.mu.Lock()
	m.peers[observer] = row
	m.mu.Unlock()
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

func (m *matrix) complete(clusters []string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range clusters {
		for _, p := range clusters {
			if o == p {
				continue
			}
			if _, ok := m.peers[o][p]; !ok {
				return false
			}
		}
	}
	return true
}

func (m *matrix) snapshot() map[string]map[string]agent.Peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]map[string]agent.Peer{}
	for o, row := range m.peers {
		out[o] = map[string]agent.Peer{}
		for p, v := range row {
			out[o][p] = v
		}
	}
	return out
}

// waitMatrix watches every cluster's Peers until the matrix is complete or
// the timeout passes, and returns what it saw.
func waitMatrix(ctx context.Context, o Options, plan *topology.Plan, logf func(string, ...any)) (map[string]map[string]agent.Peer, error) {
	m := &matrix{peers: map[string]map[string]agent.Peer{}, changed: make(chan struct{}, 1)}
	var clusters []string
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel (deferred calls run last-in first-out)
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	for _, c := range plan.Clusters {
		clusters = append(clusters, c.Name)
		m.peers[c.Name] = map[string]agent.Peer{}
		_, dc, err := o.Kube(c.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchPeers(wctx, dc.Resource(agent.PeerGVR).Namespace(agent.Namespace), c.Name, m, logf)
		}()
	}
	logf("waiting up to %v for %d×%d directions", o.Timeout, len(clusters), len(clusters)-1)
	for !m.complete(clusters) {
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return m.snapshot(), nil
		case <-m.changed:
		}
	}
	return m.snapshot(), nil
}

// watchPeers mirrors one cluster's Peers into m: list, then watch from the
// list's resourceVersion, and list again whenever the watch ends.
func watchPeers(ctx context.Context, ri dynamic.ResourceInterface, cluster string, m *matrix, logf func(string, ...any)) {
	for ctx.Err() == nil {
		list, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			if ctx.Err() == nil {
				logf("cluster %s: listing peers: %v (retrying)", cluster, err)
				pause(ctx, time.Second)
			}
			continue
		}
		m.replace(cluster, list.Items)
		w, err := ri.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
		if err != nil {
			if ctx.Err() == nil {
				logf("cluster %s: watching peers: %v (retrying)", cluster, err)
				pause(ctx, time.Second)
			}
			continue
		}
		consume(ctx, w, cluster, m)
	}
}

// consume applies watch events until the watch ends or ctx does.
func consume(ctx context.Context, w watch.Interface, cluster string, m *matrix) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				m.set(cluster, ev.Object, true)
			case watch.Deleted:
				m.set(cluster, ev.Object, false)
			}
		}
	}
}

// pause waits d or until ctx ends (back-off between API retries).
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// agents reports each cluster's agent pod and its /metrics figures.
func agents(ctx context.Context, o Options, plan *topology.Plan) []Agent {
	out := make([]Agent, len(plan.Clusters))
	var wg sync.WaitGroup
	for i, c := range plan.Clusters {
		out[i] = Agent{Cluster: c.Name, State: "no agent pod"}
		cs, _, err := o.Kube(c.Kubeconfig)
		if err != nil {
			out[i].State = err.Error()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = agentOf(ctx, cs, c.Name)
		}()
	}
	wg.Wait()
	return out
}

// lastExit describes a container's previous termination.
func lastExit(t *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("exit %d", t.ExitCode)
	if t.Signal != 0 {
		s = fmt.Sprintf("signal %d", t.Signal)
	}
	if t.Reason != "" {
		s += " (" + t.Reason + ")"
	}
	if !t.FinishedAt.IsZero() {
		s += " at " + t.FinishedAt.UTC().Format(time.RFC3339)
	}
	if m := strings.TrimSpace(t.Message); m != "" {
		if len(m) > 200 {
			m = m[:200] + "…"
		}
		s += ": " + m
	}
	return s
}

func agentOf(ctx context.Context, cs kubernetes.Interface, cluster string) Agent {
	a := Agent{Cluster: cluster, State: "no agent pod"}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pods, err := cs.CoreV1().Pods(agent.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=reference-agent"})
	if err != nil {
		a.State = fmt.Sprintf("listing agent pods: %v", err)
		return a
	}
	if len(pods.Items) == 0 {
		return a
	}
	pod := pods.Items[0]
	a.Pod, a.State = pod.Name, string(pod.Status.Phase)
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			a.Ready = cond.Status == corev1.ConditionTrue
		}
	}
	for _, st := range pod.Status.ContainerStatuses {
		a.Restarts += st.RestartCount
		if t := st.LastTerminationState.Terminated; t != nil {
			a.LastExit = lastExit(t)
		}
		if w := st.State.Waiting; w != nil {
			a.State = w.Reason
		}
	}
	if pod.Status.Phase != corev1.PodRunning {
		return a
	}
	raw, err := cs.CoreV1().Pods(agent.Namespace).ProxyGet("http", pod.Name, "9464", "/metrics", nil).DoRaw(ctx)
	if err != nil {
		return a
	}
	v := ParseMetrics(string(raw))
	a.ResidentMiB = v["process_resident_memory_bytes"] / (1 << 20)
	a.CPUSeconds = v["process_cpu_seconds_total"]
	a.Announcements = v["testbed_agent_announcements_sent_total"]
	a.Malformed = v["testbed_agent_packets_malformed_total"]
	for k, x := range v {
		if strings.HasPrefix(k, "testbed_agent_api_errors_total") {
			a.APIErrors += x
		}
	}
	return a
}

// ParseMetrics reads a Prometheus text exposition into name{labels} -> value.
func ParseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		var f float64
		if _, err := fmt.Sscan(line[i+1:], &f); err == nil {
			out[line[:i]] = f
		}
	}
	return out
}

// evaluate fills the cells and the verdict.
func evaluate(res *Result, peers map[string]map[string]agent.Peer, bound time.Duration) {
	clusters := res.Clusters
	hears := map[string]int{}
	heardBy := map[string]int{}
	for _, o := range clusters {
		for _, p := range clusters {
			if o == p {
				continue
			}
			res.Expected++
			cell := Cell{Observer: o, Peer: p}
			if pe, ok := peers[o][p]; ok {
				cell.Found = true
				cell.Address = pe.Address
				res.Found++
				hears[o]++
				heardBy[p]++
				if pe.FirstRecvNS > 0 {
					ref := max(pe.ObserverStartNS, pe.PeerStartNS)
					cell.DiscoveryMS = nsToMS(pe.FirstRecvNS - ref)
					cell.TransitMS = nsToMS(pe.FirstRecvNS - pe.FirstSendNS)
					cell.SinceObserverStartMS = nsToMS(pe.FirstRecvNS - pe.ObserverStartNS)
					cell.SincePeerStartMS = nsToMS(pe.FirstRecvNS - pe.PeerStartNS)
					cell.WithinBound = cell.DiscoveryMS <= ms(bound) && cell.TransitMS >= 0
					if !cell.WithinBound {
						res.Warnings = append(res.Warnings, fmt.Sprintf("%s heard %s after %.0f ms, above firstDelay+interval+slack = %.0f ms (lost announcements?)", o, p, cell.DiscoveryMS, ms(bound)))
					}
				}
			}
			res.Cells = append(res.Cells, cell)
		}
	}
	agentsBy := map[string]Agent{}
	for _, a := range res.Agents {
		agentsBy[a.Cluster] = a
	}
	for _, c := range clusters {
		if a, ok := agentsBy[c]; ok && (!a.Ready || a.Pod == "") {
			res.Reasons = append(res.Reasons, fmt.Sprintf("cluster %s: the reference agent is not ready (%s)", c, a.State))
		}
	}
	if len(clusters) > 1 {
		for _, c := range clusters {
			switch {
			case hears[c] == 0 && heardBy[c] == 0:
				res.Reasons = append(res.Reasons, fmt.Sprintf("cluster %s is cut off: it hears nobody and nobody hears it (is its %s interface attached to the shared network?)", c, "macvlan"))
			case hears[c] == 0:
				res.Reasons = append(res.Reasons, fmt.Sprintf("cluster %s hears nobody: multicast is not reaching it", c))
			case heardBy[c] == 0:
				res.Reasons = append(res.Reasons, fmt.Sprintf("%s is heard by nobody: its announcements do not leave", c))
			}
		}
		for _, cell := range res.Cells {
			if !cell.Found && hears[cell.Observer] > 0 && heardBy[cell.Peer] > 0 {
				res.Reasons = append(res.Reasons, fmt.Sprintf("%s does not hear %s", cell.Observer, cell.Peer))
			}
		}
	}
	slices.Sort(res.Warnings)
	res.Passed = res.Found == res.Expected && len(res.Reasons) == 0
}

func nsToMS(ns int64) float64 { return float64(ns) / 1e6 }
