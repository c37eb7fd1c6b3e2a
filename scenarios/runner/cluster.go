package runner

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

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
}

// Connect builds clients for every cluster of the plan from its kubeconfig
// and reads each control-plane address, concurrently.
func Connect(ctx context.Context, plan *topology.Plan) ([]Cluster, error) {
	out := make([]Cluster, len(plan.Clusters))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, cp := range plan.Clusters {
		g.Go(func() error {
			cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
			if err != nil {
				return fmt.Errorf("cluster %q: loading kubeconfig %s: %w", cp.Name, cp.Kubeconfig, err)
			}
			// The runner watches and patches a lot during a campaign; the
			// default 5 qps would add queueing delay to the reset.
			cfg.QPS, cfg.Burst = 50, 100
			kube, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return fmt.Errorf("cluster %q: client: %w", cp.Name, err)
			}
			dyn, err := dynamic.NewForConfig(cfg)
			if err != nil {
				return fmt.Errorf("cluster %q: dynamic client: %w", cp.Name, err)
			}
			addr, err := controlPlaneAddress(ctx, kube)
			if err != nil {
				return fmt.Errorf("cluster %q: %w", cp.Name, err)
			}
			out[i] = Cluster{Name: cp.Name, Kube: kube, Dynamic: dyn, Address: addr}
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
