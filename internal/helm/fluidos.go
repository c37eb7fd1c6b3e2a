package helm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/fluidos-lab/testbed/topology"
)

// FLUIDOS node chart facts (see shared fluidos-facts.md). The release
// namespace is hard-coded by FLUIDOS itself (hook ServiceAccount, code).
const (
	FluidosRelease   = "node"
	FluidosNamespace = "fluidos"
	// FluidosNodePort is the REAR gateway nodePort. It is required by the
	// chart and becomes the identity port; a NodePort is per cluster, and the
	// identity IPs differ, so one fixed port is unique as ip:port.
	FluidosNodePort = 30000
	// FluidosDaemonSet is the Network Manager DaemonSet the chart creates.
	FluidosDaemonSet = "node-network-manager"
	// FluidosHookImage is the pre-install Job's image. The chart hard-codes
	// it (unpinned :latest, not a value), so it can only be preloaded.
	FluidosHookImage = "dtzar/helm-kubectl:latest"

	fluidosImageRepo  = "ghcr.io/fluidos-project/"
	defaultFluidosTag = "v0.1.2"
)

// FluidosComponents are the four images of the node chart.
var fluidosComponents = [...]string{"local-resource-manager", "rear-manager", "rear-controller", "network-manager"}

// Pinned prerequisites. The chart's pre-install Job installs metrics-server
// and cert-manager from the internet, unpinned, unless deployment/cert-manager
// (namespace cert-manager) and deployment/metrics-server (kube-system) exist;
// installing them first, pinned and preloaded, makes the Job a no-op.
const (
	CertManagerRepo      = "https://charts.jetstack.io"
	CertManagerVersion   = "v1.16.3"
	MetricsServerRepo    = "https://kubernetes-sigs.github.io/metrics-server/"
	MetricsServerVersion = "3.12.2"
	metricsServerImage   = "registry.k8s.io/metrics-server/metrics-server:v0.7.2"
)

// CertManagerChart is the pinned cert-manager release (CRDs included): the
// chart's webhooks and its pre-install Issuer need it.
func CertManagerChart() topology.ChartPlan {
	imgs := make([]string, 0, 4)
	for _, c := range []string{"controller", "webhook", "cainjector", "startupapicheck"} {
		imgs = append(imgs, "quay.io/jetstack/cert-manager-"+c+":"+CertManagerVersion)
	}
	return topology.ChartPlan{
		Name:      "cert-manager",
		Release:   "cert-manager", // deployment/cert-manager is what the hook looks for
		Namespace: "cert-manager",
		Chart:     "cert-manager",
		Repo:      CertManagerRepo,
		Version:   CertManagerVersion,
		Values: map[string]any{
			"crds": map[string]any{"enabled": true},
			// global pull policy for all cert-manager images
			"image":           map[string]any{"pullPolicy": "IfNotPresent"},
			"webhook":         map[string]any{"image": map[string]any{"pullPolicy": "IfNotPresent"}},
			"cainjector":      map[string]any{"image": map[string]any{"pullPolicy": "IfNotPresent"}},
			"startupapicheck": map[string]any{"image": map[string]any{"pullPolicy": "IfNotPresent"}},
		},
		Images: imgs,
	}
}

// MetricsServerChart is the pinned metrics-server release, with the same
// kubelet flags the FLUIDOS hook would use (KinD kubelets have self-signed certs).
func MetricsServerChart() topology.ChartPlan {
	return topology.ChartPlan{
		Name:      "metrics-server",
		Release:   "metrics-server", // deployment/metrics-server in kube-system
		Namespace: "kube-system",
		Chart:     "metrics-server",
		Repo:      MetricsServerRepo,
		Version:   MetricsServerVersion,
		Values: map[string]any{
			"image": map[string]any{"pullPolicy": "IfNotPresent"},
			"args": []any{
				"--kubelet-insecure-tls",
				"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
				"--kubelet-use-node-status-port",
			},
		},
		Images: []string{metricsServerImage},
	}
}

// FluidosTag is the image tag for a chart version: release images are
// tagged vX.Y.Z.
func FluidosTag(version string) string {
	if version == "" {
		return defaultFluidosTag
	}
	if !strings.HasPrefix(version, "v") {
		return "v" + version
	}
	return version
}

// FluidosImages lists every image the FLUIDOS node chart and its
// prerequisites run, for preloading, plus warnings about images that cannot
// be pinned.
func FluidosImages(version string) (images []string, warnings []string) {
	tag := FluidosTag(version)
	for _, c := range fluidosComponents {
		images = append(images, fluidosImageRepo+c+":"+tag)
	}
	images = append(images, FluidosHookImage)
	images = append(images, CertManagerChart().Images...)
	images = append(images, MetricsServerChart().Images...)
	warnings = append(warnings, fmt.Sprintf("FLUIDOS pre-install hook image %s is hard-coded and unpinned in the chart; it is preloaded as found on the host", FluidosHookImage))
	return images, warnings
}

// FluidosValues returns the node chart's values for cluster c: the generated
// per-cluster settings, then the topology's global values (plan.Fluidos) and
// this cluster's values (its "fluidos" chart in c.Charts) merged over them,
// then checked against the chart's traps.
//
// Generated: common.configMaps.nodeIdentity.ip = nodeAddress; the REAR
// gateway nodePort; networkManager.config.enableLocalDiscovery = true (a
// bool; unset renders "<nil>"); the pod annotation attaching the NAD as the
// pod interface; netInterface = the macvlan master; the address octets from
// the plan as strings (unique per cluster); the multicast group; the image
// tag; provider "kind"; and a nodeSelector on the control-plane node's
// hostname (with a toleration for its taint) so there is exactly one Network
// Manager per cluster whatever the node count (the quickstart selector
// node-role.fluidos.eu/worker=true matches no node on a control-plane-only
// cluster, and no selector means one NM per node, all claiming .101).
func FluidosValues(plan *topology.Plan, c topology.ClusterPlan, nodeAddress string) (map[string]any, error) {
	cp, err := checkFluidosInputs(plan, c, nodeAddress)
	if err != nil {
		return nil, err
	}
	v := mergeFluidosValues(plan, c, generatedFluidosValues(plan, c, nodeAddress, cp))
	if err := CheckFluidosValues(v); err != nil {
		return nil, fmt.Errorf("cluster %s: fluidos values: %w", c.Name, err)
	}
	return v, nil
}

// checkFluidosInputs checks that the plan has what the generated values
// need, and returns the name of c's control-plane node.
func checkFluidosInputs(plan *topology.Plan, c topology.ClusterPlan, nodeAddress string) (string, error) {
	if plan == nil {
		return "", fmt.Errorf("cluster %s: fluidos values: nil plan", c.Name)
	}
	if nodeAddress == "" {
		return "", fmt.Errorf("cluster %s: fluidos values: no node address", c.Name)
	}
	cp := controlPlane(c)
	if cp == "" {
		return "", fmt.Errorf("cluster %s: fluidos values: no control-plane node in plan", c.Name)
	}
	if plan.Macvlan.NADName == "" || plan.Macvlan.PodInterface == "" || plan.Macvlan.Master == "" {
		return "", fmt.Errorf("cluster %s: fluidos values: macvlan plan needs nadName, podInterface and master", c.Name)
	}
	return cp, nil
}

// generatedFluidosValues are the per-cluster settings FluidosValues
// generates for cluster c, whose control-plane node is cp.
func generatedFluidosValues(plan *topology.Plan, c topology.ClusterPlan, nodeAddress, cp string) map[string]any {
	nad, podIf, master := plan.Macvlan.NADName, plan.Macvlan.PodInterface, plan.Macvlan.Master
	version := ""
	if plan.Fluidos != nil {
		version = plan.Fluidos.Version
	}
	o := c.Macvlan.Octets
	return map[string]any{
		"provider":   "kind",
		"tag":        FluidosTag(version),
		"pullPolicy": "IfNotPresent",
		"common": map[string]any{
			"configMaps": map[string]any{
				// The NM reads ConfigMap fluidos/fluidos-node-identity; the
				// chart fails to render without a domain.
				"nodeIdentity": map[string]any{
					"name":   "fluidos-node-identity",
					"domain": "fluidos.eu",
					"ip":     nodeAddress,
				},
			},
			"nodeSelector": map[string]any{"kubernetes.io/hostname": cp},
			"tolerations": []any{
				map[string]any{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
			},
		},
		"rearController": map[string]any{
			"service": map[string]any{
				"gateway": map[string]any{"nodePort": map[string]any{"port": FluidosNodePort}},
			},
		},
		"networkManager": map[string]any{
			"config": map[string]any{
				"enableLocalDiscovery": true,
				"netInterface":         master,
				"address": map[string]any{
					"firstOctet":  strconv.Itoa(o[0]),
					"secondOctet": strconv.Itoa(o[1]),
					"thirdOctet":  strconv.Itoa(o[2]),
				},
				"multicast": map[string]any{"address": "239.11.11.1", "port": 4000},
			},
			"pod": map[string]any{
				"annotations": map[string]any{
					"k8s.v1.cni.cncf.io/networks": nad + "@" + podIf,
				},
			},
		},
	}
}

// mergeFluidosValues merges the topology's global values and cluster c's
// own over the generated values gen, then the plan's address octets over
// everything.
func mergeFluidosValues(plan *topology.Plan, c topology.ClusterPlan, gen map[string]any) map[string]any {
	v := gen
	if plan.Fluidos != nil {
		v = topology.DeepMerge(v, plan.Fluidos.Values)
	}
	for _, ch := range c.Charts {
		if ch.Name == topology.FluidosChartName {
			v = topology.DeepMerge(v, ch.Values)
		}
	}
	// The plan's octets are the truth for addresses: they must be strings
	// (the chart concatenates them) and unique per cluster.
	o := c.Macvlan.Octets
	return topology.DeepMerge(v, map[string]any{"networkManager": map[string]any{"config": map[string]any{
		"address": map[string]any{"firstOctet": strconv.Itoa(o[0]), "secondOctet": strconv.Itoa(o[1]), "thirdOctet": strconv.Itoa(o[2])},
	}}})
}

// CheckFluidosValues rejects values that break the FLUIDOS chart or the
// Network Manager at run time. Call it on the final merged values.
func CheckFluidosValues(v map[string]any) error {
	var errs []string
	if _, ok := lookup(v, "common", "configMaps", "nodeIdentity", "nodeID"); ok {
		errs = append(errs, "common.configMaps.nodeIdentity.nodeID must not be set (a typo in the chart breaks rendering)")
	}
	if d, _ := lookup(v, "common", "configMaps", "nodeIdentity", "domain"); d == nil || d == "" {
		errs = append(errs, "common.configMaps.nodeIdentity.domain is required")
	}
	if ip, _ := lookup(v, "common", "configMaps", "nodeIdentity", "ip"); ip == nil || ip == "" {
		errs = append(errs, "common.configMaps.nodeIdentity.ip is required")
	}
	if _, ok := lookup(v, "networkManager", "configMaps"); ok {
		errs = append(errs, "networkManager.configMaps is a stale key; use common.configMaps")
	}
	if p, _ := lookup(v, "rearController", "service", "gateway", "nodePort", "port"); p == nil || p == "" {
		errs = append(errs, "rearController.service.gateway.nodePort.port is required")
	}
	eld, _ := lookup(v, "networkManager", "config", "enableLocalDiscovery")
	b, isBool := eld.(bool)
	if !isBool {
		errs = append(errs, fmt.Sprintf("networkManager.config.enableLocalDiscovery must be a bool, got %T %v", eld, eld))
	}
	if isBool && b {
		ann, _ := lookup(v, "networkManager", "pod", "annotations", "k8s.v1.cni.cncf.io/networks")
		s, _ := ann.(string)
		if parts := strings.Split(s, "@"); len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			errs = append(errs, fmt.Sprintf("networkManager.pod.annotations[k8s.v1.cni.cncf.io/networks] must be <nad>@<interface>, got %q", s))
		}
		for _, k := range []string{"firstOctet", "secondOctet", "thirdOctet"} {
			o, _ := lookup(v, "networkManager", "config", "address", k)
			s, ok := o.(string)
			if n, err := strconv.Atoi(s); !ok || err != nil || n < 0 || n > 255 {
				errs = append(errs, fmt.Sprintf("networkManager.config.address.%s must be a string octet, got %T %v", k, o, o))
			}
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// FluidosChart returns the node chart release for cluster c with the values
// of FluidosValues. The chart source (repo, name, version or local path)
// comes from plan.Fluidos.
func FluidosChart(plan *topology.Plan, c topology.ClusterPlan, nodeAddress string) (topology.ChartPlan, error) {
	if plan == nil || plan.Fluidos == nil {
		return topology.ChartPlan{}, fmt.Errorf("cluster %s: the plan installs no FLUIDOS chart", c.Name)
	}
	v, err := FluidosValues(plan, c, nodeAddress)
	if err != nil {
		return topology.ChartPlan{}, err
	}
	ch := *plan.Fluidos
	ch.Release, ch.Namespace, ch.Values = FluidosRelease, FluidosNamespace, v
	imgs, _ := FluidosImages(plan.Fluidos.Version)
	ch.Images = imgs[:len(fluidosComponents)+1]
	return ch, nil
}

// FluidosReleases is the ordered list of releases that install FLUIDOS on
// cluster c: the pinned prerequisites (cert-manager, metrics-server), then
// the node chart.
func FluidosReleases(plan *topology.Plan, c topology.ClusterPlan, nodeAddress string) ([]topology.ChartPlan, error) {
	node, err := FluidosChart(plan, c, nodeAddress)
	if err != nil {
		return nil, err
	}
	return []topology.ChartPlan{CertManagerChart(), MetricsServerChart(), node}, nil
}

func controlPlane(c topology.ClusterPlan) string {
	for _, n := range c.Nodes {
		if n.Role == "control-plane" {
			return n.Name
		}
	}
	return ""
}

// lookup walks nested maps; ok reports whether the key exists.
func lookup(v map[string]any, path ...string) (any, bool) {
	var cur any = v
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[p]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}
