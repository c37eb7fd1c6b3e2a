package provision

import (
	"context"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
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
	Name         string           `json:"name"`
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
	Protocol  string `json:"protocol"` // reference-agent | fluidos
	PodsReady int    `json:"podsReady"`
	Pods      int    `json:"pods"`
	// Peers is the number of Peer (agent) or KnownCluster (FLUIDOS) objects.
	Peers int `json:"peers"`
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
	net, netErr := p.managedNetwork(ctx, plan)
	if netErr == nil {
		st.Network = &NetworkStatus{Name: net.Name, ID: net.ID}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, c := range plan.Clusters {
		g.Go(func() error {
			cs := ClusterStatus{Name: c.Name, Kubeconfig: c.Kubeconfig}
			defer func() { st.Clusters[i] = cs }()
			if netErr != nil {
				cs.Errors = append(cs.Errors, netErr.Error())
				return nil
			}
			nodes, err := p.network.Nodes(gctx, net, c.Name)
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
	for _, pr := range discoveryProtocols(plan) {
		if !pr.planned {
			continue
		}
		cs.Discovery = append(cs.Discovery, discoveryStatus(ctx, kc, dc, pr, cs))
	}
}

// discoveryProto is a discovery protocol status reports: its DaemonSet,
// the resource counted as its peers, and whether the plan installs it.
type discoveryProto struct {
	name, ns, ds string
	peers        schema.GroupVersionResource
	planned      bool
}

// discoveryProtocols are the reference agent and FLUIDOS, as the plan
// deploys them.
func discoveryProtocols(plan *topology.Plan) []discoveryProto {
	fluidosNS := fluidosNamespace
	if plan.Fluidos != nil && plan.Fluidos.Namespace != "" {
		fluidosNS = plan.Fluidos.Namespace
	}
	return []discoveryProto{
		{"reference-agent", AgentNamespace, AgentDaemonSet, PeerResource, agentPlanned(plan)},
		{"fluidos", fluidosNS, FluidosDaemonSet, KnownClusterResource, plan.Fluidos != nil},
	}
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

// discoveryStatus counts protocol pr's pods, ready and all, and its peer
// objects; what cannot be read is recorded in cs.Errors.
func discoveryStatus(ctx context.Context, kc kubernetes.Interface, dc dynamic.Interface, pr discoveryProto, cs *ClusterStatus) DiscoveryStatus {
	d := DiscoveryStatus{Protocol: pr.name}
	ds, err := kc.AppsV1().DaemonSets(pr.ns).Get(ctx, pr.ds, metav1.GetOptions{})
	if err != nil {
		cs.Errors = append(cs.Errors, fmt.Sprintf("%s: %v", pr.name, err))
	} else {
		countPods(ctx, kc, pr, ds, &d, cs)
	}
	list, err := dc.Resource(pr.peers).Namespace(pr.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		cs.Errors = append(cs.Errors, fmt.Sprintf("%s peers: %v", pr.name, err))
	} else {
		d.Peers = len(list.Items)
	}
	return d
}

// countPods counts the pods of DaemonSet ds into d, ready and all; a
// failed listing is recorded in cs.Errors.
func countPods(ctx context.Context, kc kubernetes.Interface, pr discoveryProto, ds *appsv1.DaemonSet, d *DiscoveryStatus, cs *ClusterStatus) {
	sel := []string{}
	if ds.Spec.Selector != nil {
		for k, v := range ds.Spec.Selector.MatchLabels {
			sel = append(sel, k+"="+v)
		}
	}
	pods, err := kc.CoreV1().Pods(pr.ns).List(ctx, metav1.ListOptions{LabelSelector: strings.Join(sel, ",")})
	if err != nil {
		cs.Errors = append(cs.Errors, fmt.Sprintf("%s pods: %v", pr.name, err))
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
