package topology

import (
	"fmt"
	"runtime"

	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
)

// Node profiles (clusters.profile).
const (
	ProfileStock = "stock"
	ProfileLean  = "lean"
	// ProfileLabel is the Kubernetes node label that records a node's
	// profile, so that up can tell a kept cluster made with another one.
	ProfileLabel = "testbed.dev/profile"
)

// Defaults applied by Plan when the topology leaves a field empty.
const (
	DefaultNamePattern   = "node-%02d"
	DefaultNodeImage     = kinddefaults.Image
	DefaultPodSubnet     = "10.244.0.0/16" // KinD's default
	DefaultServiceSubnet = "10.96.0.0/16"  // KinD v0.33 default (kubeadm alone uses /12)
	DefaultNetworkSubnet = "172.30.0.0/16"
	// DefaultProfile is the node tuning when clusters.profile is empty.
	DefaultProfile = ProfileStock

	DefaultMacvlanMaster       = "eth0"
	DefaultMacvlanMode         = "bridge"
	DefaultMacvlanSubnet       = "10.100.0.0/16"
	DefaultMacvlanPodInterface = "eth1"
	DefaultNADName             = "macvlan-conf"
	// MacvlanHostOctet is the last octet every cluster's node gets in its /24.
	MacvlanHostOctet = 101

	DefaultMultusVersion = "v4.2.2"
	DefaultCNIVersion    = "v1.6.2"

	DefaultFluidosRepo      = "https://fluidos-project.github.io/node/"
	DefaultFluidosChart     = "node"
	DefaultFluidosVersion   = "v0.1.2"
	FluidosChartName        = "fluidos"
	FluidosRelease          = "node"
	FluidosNamespace        = "fluidos" // hard-coded by FLUIDOS itself
	DefaultFluidosNodePort  = 30000
	DefaultRetries          = 2
	MaxClusters             = 256
	MaxWorkers              = 9 // 10 nodes per cluster
	maxNodeNameSuffix       = len("-control-plane")
	maxDNSLabel             = 63
	maxHelmReleaseName      = 53
	defaultMultusImageRepo  = "ghcr.io/k8snetworkplumbingwg/multus-cni"
	defaultFluidosImageRepo = "ghcr.io/fluidos-project/"
)

// FluidosComponents are the FLUIDOS node images, tagged with the chart version.
var fluidosComponents = []string{"local-resource-manager", "rear-manager", "rear-controller", "network-manager"}

// Estimate basis, per node, measured on this project's lab host (Docker
// 20.10, cgroup v1, testbed.local/kind-node:v1.34.2):
//   - memory: an idle single-node KinD cluster uses 538–542 MiB (docker
//     stats, 3 samples after 2 min); with the FLUIDOS Network Manager the
//     lab's nodes used 640–750 MiB (lab-findings.md), so 700 MiB per
//     control plane. A worker runs only kubelet, kube-proxy, kindnet and
//     the DaemonSets: 250 MiB (not measured).
//   - CPU: idle ~0.08 core per control plane with spikes to ~0.2; 0.5 core
//     budgets start-up and pod churn.
//   - disk: the node's /var volume (containerd's unpacked images) is 1.5 GiB
//     and its writable layer 3 MB; the node image itself (1158 MiB) is
//     shared by all nodes and counted once per distinct image.
const (
	estControlPlaneMemMiB  = 700
	estWorkerMemMiB        = 250
	estControlPlaneCPU     = 0.5
	estWorkerCPU           = 0.2
	estControlPlaneDiskMiB = 1536
	estWorkerDiskMiB       = 1024
	estNodeImageDiskMiB    = 1200
)

func defaultMultusImage(version string) string {
	return defaultMultusImageRepo + ":" + version
}

func defaultCNIURL(version string) string {
	return fmt.Sprintf("https://github.com/containernetworking/plugins/releases/download/%s/cni-plugins-linux-%s-%s.tgz",
		version, runtime.GOARCH, version)
}

func defaultFluidosImages(version string) []string {
	out := make([]string, len(fluidosComponents))
	for i, c := range fluidosComponents {
		out[i] = defaultFluidosImageRepo + c + ":" + version
	}
	return out
}

// fluidosDefaultValues are the values every FLUIDOS install needs
// (fluidos-facts.md): local discovery must be explicit, the NM needs the
// macvlan annotation to learn its interface, and the REAR gateway port is
// required for rendering.
func fluidosDefaultValues(master, nad, podIf string) map[string]any {
	return map[string]any{
		"provider": "kind",
		"networkManager": map[string]any{
			"config": map[string]any{
				"enableLocalDiscovery": true,
				"netInterface":         master,
			},
			"pod": map[string]any{
				"annotations": map[string]any{
					"k8s.v1.cni.cncf.io/networks": nad + "@" + podIf,
				},
			},
		},
		"rearController": map[string]any{
			"service": map[string]any{
				"gateway": map[string]any{
					"nodePort": map[string]any{"port": DefaultFluidosNodePort},
				},
			},
		},
	}
}
