package runner

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/topology"
)

// Cluster is one lab cluster as the runner sees it.
type Cluster struct {
	Name    string
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Address is the control-plane node's address on the shared network; it
	// maps a nodeAddress identity (e.g. a KnownCluster's spec.address) to
	// this cluster.
	Address string
	// Macvlan is the cluster's discovery subnet (the plan's per-cluster
	// /24): it maps an announcement's source address to this cluster.
	Macvlan netip.Prefix
}

// Kube builds the API clients of a cluster from its kubeconfig file
// (internal/kubeclient.Factory in production).
type Kube interface {
	KubeDynamic(kubeconfig string) (kubernetes.Interface, dynamic.Interface, error)
}

// Connect builds clients for the named clusters of the plan (every cluster
// when names is empty) and reads each control-plane address, concurrently.
// The clusters come back in plan order.
func Connect(ctx context.Context, kube Kube, plan *topology.Plan, names []string) ([]Cluster, error) {
	var want []topology.ClusterPlan
	for _, cp := range plan.Clusters {
		if len(names) == 0 || slices.Contains(names, cp.Name) {
			want = append(want, cp)
		}
	}
	if len(want) != max(len(names), len(want)) {
		return nil, fmt.Errorf("lab %s has %d of the %d clusters %v", plan.Name, len(want), len(names), names)
	}
	out := make([]Cluster, len(want))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, cp := range want {
		g.Go(func() error {
			kube, dyn, err := kube.KubeDynamic(cp.Kubeconfig)
			if err != nil {
				return fmt.Errorf("cluster %q: %w", cp.Name, err)
			}
			addr, err := controlPlaneAddress(ctx, kube)
			if err != nil {
				return fmt.Errorf("cluster %q: %w", cp.Name, err)
			}
			out[i] = Cluster{Name: cp.Name, Kube: kube, Dynamic: dyn, Address: addr}
			if pfx, err := netip.ParsePrefix(cp.Macvlan.Subnet); err == nil {
				out[i].Macvlan = pfx.Masked()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// controlPlaneAddress returns the InternalIP of the control-plane node (the
// first node when none is labelled).
func controlPlaneAddress(ctx context.Context, kube kubernetes.Interface) (string, error) {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("listing nodes: %w", err)
	}
	var pick *corev1.Node
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; ok {
			pick = n
			break
		}
		if pick == nil {
			pick = n
		}
	}
	if pick == nil {
		return "", fmt.Errorf("cluster has no nodes")
	}
	for _, a := range pick.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address, nil
		}
	}
	return "", fmt.Errorf("node %s has no InternalIP", pick.Name)
}
