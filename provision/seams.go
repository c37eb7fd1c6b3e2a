package provision

import (
	"context"

	"github.com/docker/docker/api/types/network"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/internal/helm"
	"github.com/fluidos-lab/testbed/topology"
)

// Clusters creates and deletes KinD clusters (internal/kind in production).
type Clusters interface {
	List() ([]string, error)
	Create(ctx context.Context, c topology.ClusterPlan, retries int) error
	Delete(name, kubeconfig string) error
	ExportKubeconfig(name, path string) error
}

// Network manages the shared Docker network and finds this tool's node
// containers on it (internal/dockernet in production).
type Network interface {
	Ensure(ctx context.Context, topo string, p topology.NetworkPlan) (dockernet.NetworkResult, error)
	ManagedNetworks(ctx context.Context, topo string) ([]network.Summary, error)
	RemoveNetwork(ctx context.Context, s network.Summary) error
	Nodes(ctx context.Context, s network.Summary, cluster string) ([]dockernet.Node, error)
}

// Images pulls images once on the host, bakes them into a derived node
// image, and loads them into the nodes of a running cluster
// (internal/images in production).
type Images interface {
	EnsureHost(ctx context.Context, refs []string, offline bool) ([]string, error)
	// Bake returns a node image derived from base with refs preloaded and
	// files (absolute path to content) written, built once per set (built
	// says whether it was built now).
	Bake(ctx context.Context, base string, refs []string, files map[string]string) (ref string, built bool, err error)
	// Load imports ref into the nodes that lack it and returns those nodes.
	Load(ctx context.Context, ref string, nodes []string) ([]string, error)
	// Unpack unpacks refs, present in every node, for the nodes' container
	// runtime, so that no pod waits for it at its first container.
	Unpack(ctx context.Context, refs, nodes []string) error
}

// CNI prepares the plugin binaries once and installs them into nodes
// (internal/cni in production).
type CNI interface {
	Prepare(ctx context.Context, p topology.CNIPlan, cacheDir string) (map[string][]byte, error)
	Install(ctx context.Context, nodes []string, plugins map[string][]byte) (map[string][]string, error)
}

// Charts installs Helm releases (internal/helm's Installer in production).
type Charts interface {
	Apply(ctx context.Context, kubeconfig string, c topology.ChartPlan) (helm.Release, error)
	List(ctx context.Context, kubeconfig string) ([]helm.Release, error)
}

// Kube builds the API clients of one cluster from its kubeconfig file.
type Kube func(kubeconfig string) (kubernetes.Interface, dynamic.Interface, error)
