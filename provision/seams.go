package provision

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/network"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	tbdocker "github.com/fluidos-lab/testbed/provision/docker"
	"github.com/fluidos-lab/testbed/provision/helm"
	"github.com/fluidos-lab/testbed/topology"
)

// Clusters creates and deletes KinD clusters (provision/kind in production).
type Clusters interface {
	List() ([]string, error)
	Create(ctx context.Context, c topology.ClusterPlan, retries int) error
	Delete(name, kubeconfig string) error
	ExportKubeconfig(name, path string) error
}

// Network manages the shared Docker network and finds this tool's node
// containers on it (provision/docker in production).
type Network interface {
	Ensure(ctx context.Context, topo string, p topology.NetworkPlan) (tbdocker.NetworkResult, error)
	ManagedNetworks(ctx context.Context, topo string) ([]network.Summary, error)
	RemoveNetwork(ctx context.Context, s network.Summary) error
	Nodes(ctx context.Context, s network.Summary, cluster string) ([]tbdocker.Node, error)
}

// Images pulls images once on the host and loads them into nodes
// (provision/images in production).
type Images interface {
	EnsureHost(ctx context.Context, refs []string, offline bool) ([]string, error)
	Load(ctx context.Context, ref string, nodes []string) ([]string, error)
}

// CNI prepares the plugin binaries once and installs them into nodes
// (provision/cni in production).
type CNI interface {
	Prepare(ctx context.Context, p topology.CNIPlan, cacheDir string) (map[string][]byte, error)
	Install(ctx context.Context, nodes []string, plugins map[string][]byte) (map[string][]string, error)
}

// Charts installs Helm releases (provision/helm's Installer in production).
type Charts interface {
	Apply(ctx context.Context, kubeconfig string, c topology.ChartPlan) (helm.Release, error)
	List(ctx context.Context, kubeconfig string) ([]helm.Release, error)
}

// Kube builds the API clients of one cluster from its kubeconfig file.
type Kube func(kubeconfig string) (kubernetes.Interface, dynamic.Interface, error)

// KubeFromFile is the production Kube.
func KubeFromFile(kubeconfig string) (kubernetes.Interface, dynamic.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes client for %s: %w", kubeconfig, err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("dynamic client for %s: %w", kubeconfig, err)
	}
	return cs, dc, nil
}
