package provision

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/internal/helm"
	"github.com/fluidos-lab/testbed/topology"
)

// Resources counted as discovered peers.
var (
	PeerResource         = schema.GroupVersionResource{Group: "agent.testbed.dev", Version: "v1alpha1", Resource: "peers"}
	KnownClusterResource = schema.GroupVersionResource{Group: "network.fluidos.eu", Version: "v1alpha1", Resource: "knownclusters"}
)

// Discovery workloads whose pods status reports.
const (
	AgentNamespace   = "testbed-agent"
	AgentDaemonSet   = "reference-agent"
	FluidosDaemonSet = "node-network-manager"
)

// LabStatus is the observed state of a lab.
type LabStatus struct {
	Topology string          `json:"topology"`
	Network  *NetworkStatus  `json:"network,omitempty"`
	Clusters []ClusterStatus `json:"clusters"`
}

// NetworkStatus is the shared network as Docker reports it.
type NetworkStatus struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// ClusterStatus is one cluster's observed state.
type ClusterStatus struct {
	Name string `json:"name"`
	// Host is the host the cluster runs on (multi-host labs).
	Host         string           `json:"host,omitempty"`
	Nodes        []dockernet.Node `json:"nodes"`
	Kubeconfig   string           `json:"kubeconfig"`
	APIReachable bool             `json:"apiReachable"`
	MultusReady  bool             `json:"multusReady"`
	Releases     []helm.Release   `json:"releases,omitempty"`
	// Discovery is the discovery protocols' pods: ready over total.
	Discovery []DiscoveryStatus `json:"discovery,omitempty"`
	Errors    []string          `json:"errors,omitempty"`
}

// DiscoveryStatus is one discovery protocol on a cluster.
type DiscoveryStatus struct {
	// Protocol is the preset name (reference-agent, network-manager, ...).
	Protocol string `json:"protocol"`
	// Namespace is where its workload was found, however it was installed
	// (the built-in FLUIDOS block, an extra chart under any release name).
	Namespace string `json:"namespace"`
	PodsReady int    `json:"podsReady"`
	Pods      int    `json:"pods"`
	// Peers is the number of the protocol's peer objects in that namespace
	// (Peer for the reference agent, KnownCluster for FLUIDOS).
	Peers int `json:"peers"`
	// Missing is set when the plan installs the protocol in Namespace but
	// its workload is in no namespace (see ClusterStatus.Errors).
	Missing bool `json:"missing,omitempty"`
}

// Protocol is a discovery protocol status looks for on every cluster: a
// workload of a fixed kind and name (the charts fix the name, not the
// namespace) and the resource its peers are recorded as.
type Protocol struct {
	Name     string
	Kind     string // DaemonSet | Deployment
	Workload string
	Peers    schema.GroupVersionResource
}

// DefaultProtocols are the reference agent and the FLUIDOS Network Manager
// (the composition root passes every preset instead, see WithProtocols).
func DefaultProtocols() []Protocol {
	return []Protocol{
		{Name: "reference-agent", Kind: "DaemonSet", Workload: AgentDaemonSet, Peers: PeerResource},
		{Name: "network-manager", Kind: "DaemonSet", Workload: FluidosDaemonSet, Peers: KnownClusterResource},
	}
}

// Problems lists what is wrong with the cluster, for people: nodes not
// running, an unreachable API, Multus not ready, discovery pods not ready,
// and every error met while reading its state. Empty means healthy.
func (c ClusterStatus) Problems() []string {
	var out []string
	if len(c.Nodes) == 0 && len(c.Errors) == 0 {
		out = append(out, "no node containers") // Status records why in Errors
	}
	for _, n := range c.Nodes {
		if n.State != "running" {
			out = append(out, fmt.Sprintf("node %s is %s", n.Name, n.State))
		}
	}
	if len(c.Nodes) > 0 && !c.APIReachable {
		out = append(out, "API not reachable")
	}
	if c.APIReachable && !c.MultusReady {
		out = append(out, "Multus not ready")
	}
	for _, d := range c.Discovery {
		if !d.Missing && (d.PodsReady < d.Pods || d.Pods == 0) {
			out = append(out, fmt.Sprintf("%s in %s: %d of %d pods ready", d.Protocol, d.Namespace, d.PodsReady, d.Pods))
		}
	}
	return append(out, c.Errors...)
}

// Healthy reports whether the cluster's nodes run and its API answers.
func (c ClusterStatus) Healthy() bool {
	if len(c.Nodes) == 0 || !c.APIReachable {
		return false
	}
	for _, n := range c.Nodes {
		if n.State != "running" {
			return false
		}
	}
	return true
}

// Status reads the lab's state from Docker, KinD and each cluster's API.
func (p *Provisioner) Status(ctx context.Context, plan *topology.Plan) (*LabStatus, error) {
	st := &LabStatus{Topology: plan.Name, Clusters: make([]ClusterStatus, len(plan.Clusters))}
	hosts, err := p.labNetworks(ctx, plan)
	if err != nil {
		return st, err
	}
	if h := hosts[0]; h.netErr == nil {
		st.Network = &NetworkStatus{Name: h.net.Name, ID: h.net.ID}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, c := range plan.Clusters {
		g.Go(func() error {
			cs := ClusterStatus{Name: c.Name, Kubeconfig: c.Kubeconfig, Host: c.Host}
			defer func() { st.Clusters[i] = cs }()
			h := hostOf(hosts, c)
			if h.netErr != nil {
				cs.Errors = append(cs.Errors, h.netErr.Error())
				return nil
			}
			nodes, err := h.eng.Network.Nodes(gctx, h.net, c.Name)
			if err != nil {
				cs.Errors = append(cs.Errors, err.Error())
				return nil
			}
			cs.Nodes = nodes
			if len(nodes) == 0 {
				cs.Errors = append(cs.Errors, "no node containers")
				return nil
			}
			if _, err := os.Stat(c.Kubeconfig); err != nil {
				cs.Errors = append(cs.Errors, fmt.Sprintf("kubeconfig: %v", err))
				return nil
			}
			p.clusterAPIStatus(gctx, plan, &cs)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	return st, ctx.Err()
}

// clusterAPIStatus reads cs's state from its cluster's API: reachability,
// Multus, the Helm releases and the planned discovery protocols.
func (p *Provisioner) clusterAPIStatus(ctx context.Context, plan *topology.Plan, cs *ClusterStatus) {
	ctx, cancel := context.WithTimeout(ctx, 3*p.apiTimeout)
	defer cancel()
	kc, dc, err := p.kube(cs.Kubeconfig)
	if err != nil {
		cs.Errors = append(cs.Errors, err.Error())
		return
	}
	if err := p.apiReachable(ctx, cs.Kubeconfig); err != nil {
		cs.Errors = append(cs.Errors, fmt.Sprintf("API: %v", err))
		return
	}
	cs.APIReachable = true
	if ds, err := kc.AppsV1().DaemonSets(helm.MultusNamespace).Get(ctx, helm.MultusDaemonSet, metav1.GetOptions{}); err == nil {
		cs.MultusReady = helm.DaemonSetReady(ds)
	} else {
		cs.Errors = append(cs.Errors, fmt.Sprintf("multus: %v", err))
	}
	if p.charts != nil {
		rels, err := p.charts.List(ctx, cs.Kubeconfig)
		if err != nil {
			cs.Errors = append(cs.Errors, fmt.Sprintf("helm: %v", err))
		}
		cs.Releases = rels
	}
	ws, err := listWorkloads(ctx, kc)
	if err != nil {
		cs.Errors = append(cs.Errors, fmt.Sprintf("discovery workloads: %v", err))
		return
	}
	for _, pr := range p.discoveryProtocols(plan) {
		cs.Discovery = append(cs.Discovery, discoveryStatus(ctx, kc, dc, pr, ws[pr.Kind+"/"+pr.Workload], cs)...)
	}
}

// discoveryProto is a protocol status looks for, and whether the plan
// installs it (then its absence is a problem).
type discoveryProto struct {
	Protocol
	planned bool
	// ns is where the plan installs it.
	ns string
}

// discoveryProtocols are the protocols status looks for: every one the
// Provisioner knows, the reference agent planned when a chart runs its
// image, the Network Manager when the FLUIDOS block is on.
func (p *Provisioner) discoveryProtocols(plan *topology.Plan) []discoveryProto {
	protos := p.protocols
	if len(protos) == 0 {
		protos = DefaultProtocols()
	}
	fluidosNS := fluidosNamespace
	if plan.Fluidos != nil && plan.Fluidos.Namespace != "" {
		fluidosNS = plan.Fluidos.Namespace
	}
	var out []discoveryProto
	for _, pr := range protos {
		d := discoveryProto{Protocol: pr}
		switch {
		case pr.Workload == AgentDaemonSet && agentPlanned(plan):
			d.planned, d.ns = true, AgentNamespace
		case pr.Workload == FluidosDaemonSet && plan.Fluidos != nil:
			d.planned, d.ns = true, fluidosNS
		}
		out = append(out, d)
	}
	return out
}

// agentPlanned reports whether any chart of the plan runs the reference
// agent's image.
func agentPlanned(plan *topology.Plan) bool {
	planned := false
	for _, ch := range plan.ExtraCharts {
		planned = planned || usesAgentImage(ch)
	}
	for _, c := range plan.Clusters {
		for _, ch := range c.Charts {
			planned = planned || usesAgentImage(ch)
		}
	}
	return planned
}

// discoveryStatus reports, for each of protocol pr's workloads found (in
// any namespace), its pods (ready and all) and its peer
// objects in that namespace. A planned protocol that is nowhere is a
// problem; one that is not planned and absent is not reported.
func discoveryStatus(ctx context.Context, kc kubernetes.Interface, dc dynamic.Interface, pr discoveryProto, found []workload, cs *ClusterStatus) []DiscoveryStatus {
	if len(found) == 0 {
		if !pr.planned {
			return nil
		}
		cs.Errors = append(cs.Errors, fmt.Sprintf("%s: planned in %s, but no %s %q in any namespace", pr.Name, pr.ns, pr.Kind, pr.Workload))
		found = []workload{{namespace: pr.ns, missing: true}}
	}
	var out []DiscoveryStatus
	for _, w := range found {
		d := DiscoveryStatus{Protocol: pr.Name, Namespace: w.namespace, Missing: w.missing}
		if !w.missing {
			countPods(ctx, kc, pr.Name, w, &d, cs)
		}
		list, err := dc.Resource(pr.Peers).Namespace(w.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			cs.Errors = append(cs.Errors, fmt.Sprintf("%s peers in %s: %v", pr.Name, w.namespace, err))
		} else {
			d.Peers = len(list.Items)
		}
		out = append(out, d)
	}
	return out
}

// workload is one DaemonSet or Deployment found for a protocol.
type workload struct {
	namespace string
	selector  *metav1.LabelSelector
	// missing: planned here, but not found anywhere.
	missing bool
}

// listWorkloads lists the cluster's DaemonSets and Deployments once, in
// all namespaces, keyed "Kind/name" (the protocols' workloads are found by
// kind and name, in any namespace).
func listWorkloads(ctx context.Context, kc kubernetes.Interface) (map[string][]workload, error) {
	out := map[string][]workload{}
	dss, err := kc.AppsV1().DaemonSets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, d := range dss.Items {
		out["DaemonSet/"+d.Name] = append(out["DaemonSet/"+d.Name], workload{namespace: d.Namespace, selector: d.Spec.Selector})
	}
	deps, err := kc.AppsV1().Deployments(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, d := range deps.Items {
		out["Deployment/"+d.Name] = append(out["Deployment/"+d.Name], workload{namespace: d.Namespace, selector: d.Spec.Selector})
	}
	return out, nil
}

// countPods counts the pods of workload w into d, ready and all; a failed
// listing is recorded in cs.Errors.
func countPods(ctx context.Context, kc kubernetes.Interface, name string, w workload, d *DiscoveryStatus, cs *ClusterStatus) {
	sel := []string{}
	if w.selector != nil {
		for k, v := range w.selector.MatchLabels {
			sel = append(sel, k+"="+v)
		}
	}
	sort.Strings(sel)
	pods, err := kc.CoreV1().Pods(w.namespace).List(ctx, metav1.ListOptions{LabelSelector: strings.Join(sel, ",")})
	if err != nil {
		cs.Errors = append(cs.Errors, fmt.Sprintf("%s pods in %s: %v", name, w.namespace, err))
		return
	}
	d.Pods = len(pods.Items)
	for _, pod := range pods.Items {
		if podReady(pod) {
			d.PodsReady++
		}
	}
}

func podReady(p corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
