package topology

// APIVersion and Kind identify a topology file.
const (
	APIVersion = "testbed.dev/v1alpha1"
	Kind       = "Topology"
)

// Topology is the public, versioned YAML document that declares a lab
// (apiVersion testbed.dev/v1alpha1, kind Topology). Every field except
// metadata.name and clusters has a default; `testbed plan` shows them.
type Topology struct {
	APIVersion string   `yaml:"apiVersion" json:"apiVersion" jsonschema:"required,enum=testbed.dev/v1alpha1"`
	Kind       string   `yaml:"kind" json:"kind" jsonschema:"required,enum=Topology"`
	Metadata   Metadata `yaml:"metadata" json:"metadata" jsonschema:"required"`

	Clusters     Clusters      `yaml:"clusters" json:"clusters" jsonschema:"required"`
	Network      Network       `yaml:"network,omitempty" json:"network,omitempty"`
	Macvlan      Macvlan       `yaml:"macvlan,omitempty" json:"macvlan,omitempty"`
	Multus       Multus        `yaml:"multus,omitempty" json:"multus,omitempty"`
	CNIPlugins   CNIPlugins    `yaml:"cniPlugins,omitempty" json:"cniPlugins,omitempty"`
	Fluidos      Fluidos       `yaml:"fluidos,omitempty" json:"fluidos,omitempty"`
	ExtraCharts  []Chart       `yaml:"extraCharts,omitempty" json:"extraCharts,omitempty"`
	Images       []string      `yaml:"images,omitempty" json:"images,omitempty" jsonschema:"description=images pulled once on the host and loaded into every node (pinned tag or digest)"`
	Provisioning *Provisioning `yaml:"provisioning,omitempty" json:"provisioning,omitempty"`
	// StateDir overrides the state root (default $TESTBED_STATE_DIR, else
	// ${XDG_STATE_HOME:-$HOME/.local/state}/testbed); the lab lives in <root>/<name>.
	StateDir string `yaml:"stateDir,omitempty" json:"stateDir,omitempty" jsonschema:"description=state root directory; the lab's files go to <stateDir>/<metadata.name>"`
	// Hosts spreads the lab over several Docker engines (absent: the one
	// engine of DOCKER_HOST, as always). See hosts.go and docs/scale-out.md.
	Hosts []Host `yaml:"hosts,omitempty" json:"hosts,omitempty" jsonschema:"description=Docker engines the lab spans (default: the local engine only)"`
	// Placement spreads the clusters no host lists: round-robin (default)
	// or capacity (in proportion to each host's capacity).
	Placement string `yaml:"placement,omitempty" json:"placement,omitempty" jsonschema:"enum=round-robin,enum=capacity,description=how clusters no host lists are spread over the hosts"`
	// SharedNetwork is the layer-2 discovery network across the hosts.
	SharedNetwork SharedNetwork `yaml:"sharedNetwork,omitempty" json:"sharedNetwork,omitempty"`

	file string
	doc  *Document
	env  Environment
}

// Metadata names the lab.
type Metadata struct {
	// Name labels every Docker object (dev.testbed.topology) and names the state directory.
	Name string `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z0-9]([-a-z0-9]*[a-z0-9])?$,maxLength=63"`
}

// Clusters declares the KinD clusters: either Count clusters named with
// NamePattern, or an explicit List of names.
type Clusters struct {
	Count int `yaml:"count,omitempty" json:"count,omitempty" jsonschema:"minimum=1,maximum=256,description=number of clusters named with namePattern (exclusive with list)"`
	// NamePattern is a Go format with one integer verb, 1-based (default node-%02d).
	NamePattern string   `yaml:"namePattern,omitempty" json:"namePattern,omitempty" jsonschema:"description=Go format with one integer verb applied to 1..count (default node-%02d)"`
	List        []string `yaml:"list,omitempty" json:"list,omitempty" jsonschema:"description=explicit cluster names (exclusive with count)"`
	// Workers per cluster besides the control plane (default 0).
	Workers *int `yaml:"workers,omitempty" json:"workers,omitempty" jsonschema:"minimum=0,maximum=9,description=worker nodes per cluster besides the control plane (default 0)"`
	// NodeImage is the KinD node image, tag and optional @sha256 digest.
	// $TESTBED_NODE_IMAGE overrides the default (not an explicit value).
	NodeImage     string `yaml:"nodeImage,omitempty" json:"nodeImage,omitempty" jsonschema:"description=KinD node image with a pinned tag and optional @sha256: digest"`
	PodSubnet     string `yaml:"podSubnet,omitempty" json:"podSubnet,omitempty" jsonschema:"description=pod CIDR inside every cluster (default 10.244.0.0/16)"`
	ServiceSubnet string `yaml:"serviceSubnet,omitempty" json:"serviceSubnet,omitempty" jsonschema:"description=service CIDR inside every cluster (default 10.96.0.0/16)"`
	// Profile is how the node's Kubernetes is tuned: stock (KinD as is) or
	// lean (about half a stock node's idle CPU and 0.7 of its memory:
	// GOMAXPROCS=1 and GOGC=25, fewer controllers, slower probes and
	// cadences, no watch cache, one CoreDNS replica, PVCs on KinD's in-tree
	// host-path provisioner; see internal/kind/lean.go and docs/scale.md).
	Profile string `yaml:"profile,omitempty" json:"profile,omitempty" jsonschema:"enum=stock,enum=lean,description=node tuning: stock KinD or lean (less idle CPU and memory per cluster; default stock)"`
	// Overrides are per-cluster settings keyed by cluster name.
	Overrides map[string]ClusterOverride `yaml:"overrides,omitempty" json:"overrides,omitempty"`
}

// ClusterOverride changes one cluster.
type ClusterOverride struct {
	Workers   *int   `yaml:"workers,omitempty" json:"workers,omitempty" jsonschema:"minimum=0,maximum=9"`
	NodeImage string `yaml:"nodeImage,omitempty" json:"nodeImage,omitempty"`
	Profile   string `yaml:"profile,omitempty" json:"profile,omitempty" jsonschema:"enum=stock,enum=lean"`
	// Values are extra chart values for this cluster, keyed by chart name
	// ("fluidos" or an extraCharts name), deep-merged over the global ones.
	Values map[string]map[string]any `yaml:"values,omitempty" json:"values,omitempty" jsonschema:"description=chart values for this cluster keyed by chart name (fluidos or an extraCharts name)"`
}

// Network is the shared Docker bridge.
type Network struct {
	Name    string `yaml:"name,omitempty" json:"name,omitempty" jsonschema:"description=Docker network name (default testbed-<metadata.name>)"`
	Subnet  string `yaml:"subnet,omitempty" json:"subnet,omitempty" jsonschema:"description=IPv4 CIDR (default 172.30.0.0/16)"`
	Gateway string `yaml:"gateway,omitempty" json:"gateway,omitempty" jsonschema:"description=IPv4 gateway inside subnet (default: first address)"`
	// MulticastSnooping sets the bridge's mcast_snooping (default false).
	MulticastSnooping *bool `yaml:"multicastSnooping,omitempty" json:"multicastSnooping,omitempty"`
	MTU               int   `yaml:"mtu,omitempty" json:"mtu,omitempty" jsonschema:"minimum=576,maximum=9216"`
}

// Macvlan is the secondary network used for discovery.
type Macvlan struct {
	Master       string   `yaml:"master,omitempty" json:"master,omitempty" jsonschema:"description=interface inside the node on the shared network (default eth0)"`
	Mode         string   `yaml:"mode,omitempty" json:"mode,omitempty" jsonschema:"enum=bridge,enum=private,enum=vepa,enum=passthru"`
	Subnet       string   `yaml:"subnet,omitempty" json:"subnet,omitempty" jsonschema:"description=pool carved into one /24 per cluster (default 10.100.0.0/16)"`
	PodInterface string   `yaml:"podInterface,omitempty" json:"podInterface,omitempty" jsonschema:"description=interface name inside the pod (default eth1)"`
	NADName      string   `yaml:"nadName,omitempty" json:"nadName,omitempty" jsonschema:"description=NetworkAttachmentDefinition name (default macvlan-conf)"`
	Namespaces   []string `yaml:"namespaces,omitempty" json:"namespaces,omitempty" jsonschema:"description=namespaces that get the NAD (default: every chart's namespace)"`
}

// Multus pins the Multus thin plugin.
type Multus struct {
	Version string `yaml:"version,omitempty" json:"version,omitempty"`
	Image   string `yaml:"image,omitempty" json:"image,omitempty"`
}

// CNIPlugins pins the CNI plugins release providing macvlan.
type CNIPlugins struct {
	Version string `yaml:"version,omitempty" json:"version,omitempty"`
	URL     string `yaml:"url,omitempty" json:"url,omitempty"`
	SHA256  string `yaml:"sha256,omitempty" json:"sha256,omitempty" jsonschema:"pattern=^[0-9a-f]{64}$"`
	Tarball string `yaml:"tarball,omitempty" json:"tarball,omitempty" jsonschema:"description=local .tgz (wins over url); $TESTBED_CNI_PLUGINS_TARBALL overrides"`
}

// Fluidos is the FLUIDOS node chart.
type Fluidos struct {
	Enabled *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty" jsonschema:"description=install the FLUIDOS node chart (default true)"`
	Chart   string `yaml:"chart,omitempty" json:"chart,omitempty" jsonschema:"description=chart name in repo or a local directory or .tgz"`
	Repo    string `yaml:"repo,omitempty" json:"repo,omitempty"`
	Version string `yaml:"version,omitempty" json:"version,omitempty"`
	// Values are deep-merged over the built-in FLUIDOS defaults on every cluster.
	Values map[string]any `yaml:"values,omitempty" json:"values,omitempty"`
	// ClusterValues are per-cluster values keyed by cluster name.
	ClusterValues map[string]map[string]any `yaml:"clusterValues,omitempty" json:"clusterValues,omitempty"`
	Images        []string                  `yaml:"images,omitempty" json:"images,omitempty"`
}

// Chart is an extra Helm chart installed on every cluster.
type Chart struct {
	Name      string         `yaml:"name" json:"name" jsonschema:"required"`
	Chart     string         `yaml:"chart" json:"chart" jsonschema:"required,description=chart name in repo or a local directory or .tgz"`
	Repo      string         `yaml:"repo,omitempty" json:"repo,omitempty"`
	Version   string         `yaml:"version,omitempty" json:"version,omitempty" jsonschema:"description=required when repo is set"`
	Release   string         `yaml:"release,omitempty" json:"release,omitempty" jsonschema:"description=Helm release name (default: name)"`
	Namespace string         `yaml:"namespace,omitempty" json:"namespace,omitempty" jsonschema:"description=release namespace (default: name)"`
	Values    map[string]any `yaml:"values,omitempty" json:"values,omitempty"`
	Images    []string       `yaml:"images,omitempty" json:"images,omitempty"`
}

// Provisioning tunes how clusters are created.
type Provisioning struct {
	Parallelism int  `yaml:"parallelism,omitempty" json:"parallelism,omitempty" jsonschema:"minimum=1,maximum=256,description=clusters created at once (default: every cluster up to twice the number of CPUs)"`
	Retries     *int `yaml:"retries,omitempty" json:"retries,omitempty" jsonschema:"minimum=0,maximum=10,description=retries per failed cluster (default 2)"`
}

// Host is one Docker engine of a lab spread over several hosts.
type Host struct {
	// Name identifies the host in the plan, the logs and the placement.
	Name string `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z0-9]([-a-z0-9]*[a-z0-9])?$,maxLength=20"`
	// Endpoint is the host's Docker engine: a Docker context name,
	// unix:///path, tcp://host:port (with tls) or ssh://[user@]host[:port].
	Endpoint string `yaml:"endpoint" json:"endpoint" jsonschema:"required,description=Docker context name or unix:// tcp:// ssh:// URL"`
	// TLS is the client certificate directory of a tcp:// endpoint.
	TLS *HostTLS `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Address is the host's underlay IPv4 address: every other host reaches
	// it on UDP (VXLAN), and the runner reaches the API servers on it.
	Address string `yaml:"address" json:"address" jsonschema:"required,description=underlay IPv4 address of the host"`
	// Clusters places these clusters on this host; the others are spread.
	Clusters []string `yaml:"clusters,omitempty" json:"clusters,omitempty"`
	// APIPort is the base of the API server ports on this host: the cluster
	// at position i (from 1) in the topology gets APIPort+i-1, so a port
	// never moves when clusters are added or placed elsewhere (default 16443).
	APIPort int `yaml:"apiPort,omitempty" json:"apiPort,omitempty" jsonschema:"minimum=1024,maximum=65535"`
	// Capacity is how many clusters the host holds, for placement: capacity
	// (default: predicted from doctor's per-cluster figures and the engine's
	// CPUs and memory).
	Capacity int `yaml:"capacity,omitempty" json:"capacity,omitempty" jsonschema:"minimum=0,maximum=4096"`
}

// HostTLS is the TLS material of a tcp:// Docker endpoint.
type HostTLS struct {
	// CertPath holds ca.pem, cert.pem and key.pem (as DOCKER_CERT_PATH).
	CertPath string `yaml:"certPath" json:"certPath" jsonschema:"required"`
	// Verify checks the engine's certificate (default true).
	Verify *bool `yaml:"verify,omitempty" json:"verify,omitempty"`
}

// SharedNetwork is the discovery network of a lab on several hosts: one
// Docker bridge network of the same subnet on every host, joined into one
// layer 2 by a kernel VXLAN device per host with head-end replication.
type SharedNetwork struct {
	Name string `yaml:"name,omitempty" json:"name,omitempty" jsonschema:"description=Docker network name on every host (default <network.name>-l2)"`
	// Subnet is split into one /24 per host, in hosts order.
	Subnet string `yaml:"subnet,omitempty" json:"subnet,omitempty" jsonschema:"description=IPv4 CIDR; host i gets its i-th /24 (default 172.29.0.0/16)"`
	VNI    int    `yaml:"vni,omitempty" json:"vni,omitempty" jsonschema:"minimum=1,maximum=16777215,description=VXLAN network identifier (default derived from the lab name)"`
	Port   int    `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"minimum=1,maximum=65535,description=VXLAN UDP port (default 4789)"`
	// MTU of the shared network (default: the underlay's minus 50).
	MTU int `yaml:"mtu,omitempty" json:"mtu,omitempty" jsonschema:"minimum=576,maximum=9000"`
}
