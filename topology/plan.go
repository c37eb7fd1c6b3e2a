package topology

// This file is the contract between topology (which computes a Plan with no
// I/O) and every package that acts on one (provision, scenarios, results).
// Field names are stable: `testbed plan -o json` prints exactly this struct.

// Plan is a fully resolved lab: defaults applied, names, addresses, paths and
// per-cluster chart values computed. Producing it performs no I/O.
type Plan struct {
	// Name is the topology's metadata.name; it labels every Docker object.
	Name string `json:"name"`
	// File is the topology file the plan was computed from.
	File string `json:"file"`
	// StateDir holds kubeconfigs and logs: <state root>/<name>.
	StateDir string `json:"stateDir"`

	Network    NetworkPlan `json:"network"`
	Macvlan    MacvlanPlan `json:"macvlan"`
	Multus     MultusPlan  `json:"multus"`
	CNIPlugins CNIPlan     `json:"cniPlugins"`
	// Fluidos is nil when the topology does not install the FLUIDOS node chart.
	Fluidos     *ChartPlan  `json:"fluidos,omitempty"`
	ExtraCharts []ChartPlan `json:"extraCharts,omitempty"`
	// Images are preloaded into every node (pulled once on the host).
	Images      []string `json:"images,omitempty"`
	Parallelism int      `json:"parallelism"`
	Retries     int      `json:"retries"`

	Clusters []ClusterPlan `json:"clusters"`
	Estimate Resources     `json:"estimate"`

	// Hosts are the Docker engines of a lab spread over several hosts, in
	// topology order, each with the clusters placed on it; empty for a lab
	// on the one engine of DOCKER_HOST.
	Hosts []HostPlan `json:"hosts,omitempty"`
	// Placement is how the clusters no host lists were spread.
	Placement string `json:"placement,omitempty"`
	// SharedNetwork is the layer-2 discovery network across the hosts (nil
	// on one host, where the lab network itself carries discovery).
	SharedNetwork *SharedNetworkPlan `json:"sharedNetwork,omitempty"`
}

// MultiHost reports whether the lab spans its own list of hosts.
func (p *Plan) MultiHost() bool { return len(p.Hosts) > 0 }

// Host returns the named host's plan.
func (p *Plan) Host(name string) (HostPlan, bool) {
	for _, h := range p.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return HostPlan{}, false
}

// HostPlan is one Docker engine of a multi-host lab.
type HostPlan struct {
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
	// TLSCertPath and TLSVerify are a tcp:// endpoint's TLS settings.
	TLSCertPath string `json:"tlsCertPath,omitempty"`
	TLSVerify   bool   `json:"tlsVerify,omitempty"`
	// Address is the underlay address (VXLAN, API servers).
	Address string `json:"address"`
	// Clusters are placed on this host, in topology order.
	Clusters []string `json:"clusters"`
	// Capacity weighed the placement (placement: capacity).
	Capacity int `json:"capacity,omitempty"`
	// IPRange is the host's /24 of the shared network; Gateway its bridge's
	// address in it. Nodes on this host get addresses from the range.
	IPRange string `json:"ipRange"`
	Gateway string `json:"gateway"`
}

// SharedNetworkPlan is the discovery network across the hosts.
type SharedNetworkPlan struct {
	// Name is the Docker network on every host.
	Name   string `json:"name"`
	Subnet string `json:"subnet"`
	// Bridge is its Linux bridge on every host; Device the VXLAN device
	// attached to it.
	Bridge string `json:"bridge"`
	Device string `json:"device"`
	VNI    int    `json:"vni"`
	Port   int    `json:"port"`
	// MTU is 0 for "the underlay's minus 50", resolved per host by up.
	MTU int `json:"mtu,omitempty"`
	// Interface is the node's interface on it (the macvlan master).
	Interface string `json:"interface"`
}

// NetworkPlan is the shared Docker bridge every node joins.
type NetworkPlan struct {
	Name    string `json:"name"`
	Subnet  string `json:"subnet"`  // IPv4 CIDR, e.g. 172.30.0.0/16
	Gateway string `json:"gateway"` // e.g. 172.30.0.1
	// MulticastSnooping is the bridge's mcast_snooping setting (false = off).
	MulticastSnooping bool `json:"multicastSnooping"`
	MTU               int  `json:"mtu,omitempty"`
}

// MacvlanPlan is the secondary (discovery) network shared by all clusters.
type MacvlanPlan struct {
	// Master is the interface inside the KinD node attached to the shared network (eth0).
	Master string `json:"master"`
	// Mode is the macvlan mode (bridge).
	Mode string `json:"mode"`
	// Subnet is the pool carved into one /24 per cluster, e.g. 10.100.0.0/16.
	Subnet string `json:"subnet"`
	// PodInterface is the interface name inside the pod (eth1).
	PodInterface string `json:"podInterface"`
	// NADName is the NetworkAttachmentDefinition name (macvlan-conf).
	NADName string `json:"nadName"`
	// NADNamespaces lists the namespaces that get the NAD on every cluster.
	NADNamespaces []string `json:"nadNamespaces"`
}

// MultusPlan pins the Multus thin plugin.
type MultusPlan struct {
	Version string `json:"version"` // v4.2.2
	Image   string `json:"image"`   // ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2
}

// CNIPlan pins the CNI plugins release whose macvlan binary goes into every node.
type CNIPlan struct {
	Version string `json:"version"`           // v1.6.2
	URL     string `json:"url,omitempty"`     // release tarball URL
	SHA256  string `json:"sha256,omitempty"`  // expected checksum of the tarball
	Tarball string `json:"tarball,omitempty"` // local tarball (offline hosts); wins over URL
	// Plugins are the binaries copied into /opt/cni/bin (macvlan, host-local, static).
	Plugins []string `json:"plugins"`
}

// ChartPlan is one Helm release to install. Values are the fully merged
// values for one cluster when inside ClusterPlan.Charts; the topology-level
// copies (Plan.Fluidos, Plan.ExtraCharts) carry the global values only.
type ChartPlan struct {
	Name      string `json:"name"`
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	// Chart is a local directory or .tgz path, or a chart name in Repo.
	Chart   string         `json:"chart"`
	Repo    string         `json:"repo,omitempty"`
	Version string         `json:"version,omitempty"`
	Values  map[string]any `json:"values,omitempty"`
	// Images the chart needs; preloaded like Plan.Images.
	Images []string `json:"images,omitempty"`
	// SkipWait installs without Helm's wait (its 2 s polling): the caller
	// waits for what it needs itself (provision does for Multus).
	SkipWait bool `json:"-"`
}

// ClusterPlan is one KinD cluster.
type ClusterPlan struct {
	Name      string `json:"name"`
	Index     int    `json:"index"` // 1-based position in the topology
	NodeImage string `json:"nodeImage"`
	// Profile is stock or lean (clusters.profile).
	Profile string `json:"profile"`
	// KubeadmPatches is the directory of kubeadm patch files the node
	// image carries for the profile (set by up when it built them into the
	// lab's node image; "" for none).
	KubeadmPatches string     `json:"kubeadmPatches,omitempty"`
	Nodes          []NodePlan `json:"nodes"`
	// Kubeconfig is this cluster's own kubeconfig file (mode 0600).
	Kubeconfig    string         `json:"kubeconfig"`
	LogDir        string         `json:"logDir"`
	PodSubnet     string         `json:"podSubnet"`
	ServiceSubnet string         `json:"serviceSubnet"`
	Macvlan       ClusterMacvlan `json:"macvlan"`
	// Charts are the releases for this cluster in install order, values merged.
	Charts []ChartPlan `json:"charts,omitempty"`
	// Host is the host the cluster is placed on (multi-host labs only).
	Host string `json:"host,omitempty"`
	// APIServerAddress and APIServerPort publish the API server on the
	// host's underlay address (multi-host labs; KinD's 127.0.0.1 and a
	// random port otherwise). KinD puts the address in the certificate.
	APIServerAddress string `json:"apiServerAddress,omitempty"`
	APIServerPort    int    `json:"apiServerPort,omitempty"`
}

// NodeProfile is the cluster's node profile; empty (a plan made by hand,
// or a node labelled before profiles existed) is stock.
func (c ClusterPlan) NodeProfile() string { return EffectiveProfile(c.Profile) }

// EffectiveProfile is p, or stock when p is empty.
func EffectiveProfile(p string) string {
	if p == "" {
		return ProfileStock
	}
	return p
}

// NodePlan is one KinD node container.
type NodePlan struct {
	Name string `json:"name"` // container name, e.g. node-01-control-plane
	Role string `json:"role"` // control-plane | worker
	// Address on the shared network. Docker's IPAM assigns it when the
	// container starts, so the plan states the range; status shows the real one.
	Address string `json:"address"`
}

// ClusterMacvlan is one cluster's slice of the macvlan plan.
type ClusterMacvlan struct {
	Subnet     string `json:"subnet"`     // a.b.c.0/24
	RangeStart string `json:"rangeStart"` // a.b.c.101
	RangeEnd   string `json:"rangeEnd"`
	// Octets are the first three octets (FLUIDOS networkManager.config.address).
	Octets [3]int `json:"octets"`
}

// Resources is the estimated footprint of the whole lab.
type Resources struct {
	MemoryMiB int     `json:"memoryMiB"`
	CPUCores  float64 `json:"cpuCores"`
	DiskMiB   int     `json:"diskMiB"`
}
