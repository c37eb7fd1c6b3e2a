package topology

import (
	"github.com/fluidos-lab/testbed/internal/yamlfile"

	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
)

// Plan resolves the topology into a Plan: defaults applied, names,
// addresses, paths and per-cluster chart values computed. It performs no
// I/O; the environment was captured by Load/Parse. It fails only for a
// topology that did not pass validation (e.g. built by hand).
func (t *Topology) Plan() (*Plan, error) {
	if t.doc == nil {
		t.doc = yamlfile.NewDocument(t.file)
	}
	if errs := t.validate(); len(errs) > 0 {
		return nil, errs.Err()
	}
	p := &Plan{Name: t.Metadata.Name, File: t.file}
	p.StateDir = t.planStateDir()
	p.Network = t.planNetwork()

	// Charts (topology-level copies carry global values only).
	charts := t.chartPlans()
	p.Macvlan = t.planMacvlan(charts)
	p.Multus = t.planMultus()
	p.CNIPlugins = t.planCNIPlugins()
	p.Fluidos, p.ExtraCharts = splitCharts(charts)
	p.Images = append([]string(nil), t.Images...)
	p.Parallelism, p.Retries = t.planProvisioning(len(t.clusterNames()))

	t.planClusters(p, charts)
	if err := t.planHosts(p); err != nil {
		return nil, err
	}
	return p, nil
}

// planStateDir is <stateDir or the environment's state root>/<name>.
func (t *Topology) planStateDir() string { return filepath.Join(t.StateRoot(), t.Metadata.Name) }

// StateRoot is the state root the lab lives under: stateDir, else the
// environment's.
func (t *Topology) StateRoot() string {
	if t.StateDir != "" {
		return t.StateDir
	}
	return t.env.StateRoot
}

// Environment is what Load captured from the process environment.
func (t *Topology) Environment() Environment { return t.env }

// planNetwork resolves the shared Docker network, defaulting the gateway to
// the first address of the subnet.
func (t *Topology) planNetwork() NetworkPlan {
	n := NetworkPlan{
		Name:              or(t.Network.Name, "testbed-"+t.Metadata.Name),
		Subnet:            or(t.Network.Subnet, DefaultNetworkSubnet),
		Gateway:           t.Network.Gateway,
		MulticastSnooping: t.Network.MulticastSnooping != nil && *t.Network.MulticastSnooping,
		MTU:               t.Network.MTU,
	}
	netPrefix := netip.MustParsePrefix(n.Subnet)
	if n.Gateway == "" {
		n.Gateway = netPrefix.Addr().Next().String()
	}
	return n
}

// planMacvlan resolves the macvlan network; the NAD goes into the declared
// namespaces, else into every chart's namespace, else into default.
func (t *Topology) planMacvlan(charts []ChartPlan) MacvlanPlan {
	var nadNS []string
	for _, c := range charts {
		nadNS = appendUnique(nadNS, c.Namespace)
	}
	if len(t.Macvlan.Namespaces) > 0 {
		nadNS = append([]string(nil), t.Macvlan.Namespaces...)
	}
	if nadNS == nil {
		nadNS = []string{"default"}
	}
	return MacvlanPlan{
		Master:        t.macvlanMaster(),
		Mode:          or(t.Macvlan.Mode, DefaultMacvlanMode),
		Subnet:        or(t.Macvlan.Subnet, DefaultMacvlanSubnet),
		PodInterface:  or(t.Macvlan.PodInterface, DefaultMacvlanPodInterface),
		NADName:       or(t.Macvlan.NADName, DefaultNADName),
		NADNamespaces: nadNS,
	}
}

// macvlanMaster is the node interface macvlan attaches to: the lab
// network's (eth0) on one host, the shared network's on several.
func (t *Topology) macvlanMaster() string {
	if len(t.Hosts) > 0 {
		return SharedInterface
	}
	return or(t.Macvlan.Master, DefaultMacvlanMaster)
}

// planMultus pins Multus; the environment's image wins over the topology's.
func (t *Topology) planMultus() MultusPlan {
	multusVersion := or(t.Multus.Version, DefaultMultusVersion)
	return MultusPlan{Version: multusVersion, Image: or(t.env.MultusImage, or(t.Multus.Image, defaultMultusImage(multusVersion)))}
}

// planCNIPlugins pins the CNI plugins release; the environment's tarball
// wins over the topology's.
func (t *Topology) planCNIPlugins() CNIPlan {
	cniVersion := or(t.CNIPlugins.Version, DefaultCNIVersion)
	return CNIPlan{
		Version: cniVersion,
		URL:     or(t.CNIPlugins.URL, defaultCNIURL(cniVersion)),
		SHA256:  t.CNIPlugins.SHA256,
		Tarball: or(t.env.CNIPluginsTarball, t.CNIPlugins.Tarball),
		Plugins: []string{"macvlan", "host-local", "static"},
	}
}

// splitCharts separates the FLUIDOS chart (nil when absent) from the extra
// charts, keeping their order.
func splitCharts(charts []ChartPlan) (fluidos *ChartPlan, extra []ChartPlan) {
	for _, c := range charts {
		if c.Name == FluidosChartName {
			c := c
			fluidos = &c
		} else {
			extra = append(extra, c)
		}
	}
	return fluidos, extra
}

// planProvisioning returns the parallelism and the number of retries. Unset,
// the parallelism is every one of the n clusters at once up to twice the
// CPU count, at least 2: a KinD create waits on kubeadm and the API server
// for much of its time, so on 2 cores 3 parallel creates beat 2 waves
// (measured: docs/scale.md).
func (t *Topology) planProvisioning(n int) (parallelism, retries int) {
	parallelism = min(max(n, 1), max(2, 2*t.env.CPUs))
	retries = DefaultRetries
	if pr := t.Provisioning; pr != nil {
		if pr.Parallelism > 0 {
			parallelism = pr.Parallelism
		}
		if pr.Retries != nil {
			retries = *pr.Retries
		}
	}
	if parallelism < 1 {
		parallelism = 1
	}
	return parallelism, retries
}

// planClusters appends one ClusterPlan per cluster to p, in topology order,
// and adds their footprint (plus one per distinct node image) to p.Estimate.
// p.Network, p.Macvlan and p.StateDir must be resolved already.
func (t *Topology) planClusters(p *Plan, charts []ChartPlan) {
	pool := netip.MustParsePrefix(p.Macvlan.Subnet).Addr().As4()
	poolBase := uint32(pool[0])<<24 | uint32(pool[1])<<16 | uint32(pool[2])<<8
	defaultImage := or(t.env.NodeImage, or(t.Clusters.NodeImage, DefaultNodeImage))
	nodeImages := map[string]bool{}
	for i, name := range t.clusterNames() {
		cp := t.planCluster(p, charts, name, i+1, clusterMacvlan(poolBase, i), defaultImage)
		nodeImages[cp.NodeImage] = true
		p.Clusters = append(p.Clusters, cp)
		p.Estimate.add(cp.Nodes)
	}
	p.Estimate.DiskMiB += estNodeImageDiskMiB * len(nodeImages)
}

// clusterMacvlan is the i-th (0-based) /24 of the macvlan pool starting at
// poolBase, with the cluster's single host address.
func clusterMacvlan(poolBase uint32, i int) ClusterMacvlan {
	sub := poolBase + uint32(i)<<8
	octets := [3]int{int(sub >> 24), int(sub >> 16 & 0xff), int(sub >> 8 & 0xff)}
	base := fmt.Sprintf("%d.%d.%d", octets[0], octets[1], octets[2])
	return ClusterMacvlan{
		Subnet:     base + ".0/24",
		RangeStart: base + "." + strconv.Itoa(MacvlanHostOctet),
		RangeEnd:   base + "." + strconv.Itoa(MacvlanHostOctet),
		Octets:     octets,
	}
}

// planCluster resolves one cluster (1-based index idx): paths, subnets,
// node image, nodes and the charts with their per-cluster values.
func (t *Topology) planCluster(p *Plan, charts []ChartPlan, name string, idx int, cm ClusterMacvlan, defaultImage string) ClusterPlan {
	cp := ClusterPlan{
		Name:          name,
		Index:         idx,
		NodeImage:     defaultImage,
		Profile:       or(t.Clusters.Profile, DefaultProfile),
		Kubeconfig:    filepath.Join(p.StateDir, "kubeconfig", name),
		LogDir:        filepath.Join(p.StateDir, "logs", name),
		PodSubnet:     or(t.Clusters.PodSubnet, DefaultPodSubnet),
		ServiceSubnet: or(t.Clusters.ServiceSubnet, DefaultServiceSubnet),
		Macvlan:       cm,
	}
	if o, ok := t.Clusters.Overrides[name]; ok {
		cp.NodeImage = or(o.NodeImage, cp.NodeImage)
		cp.Profile = or(o.Profile, cp.Profile)
	}
	cp.Nodes = t.clusterNodes(name, "dynamic in "+p.Network.Subnet)
	for _, c := range charts {
		c.Values = t.clusterValues(c, name, idx, cm, p.Macvlan)
		c.Images = append([]string(nil), c.Images...)
		cp.Charts = append(cp.Charts, c)
	}
	return cp
}

// clusterNodes lists the cluster's control plane then its workers
// (name-worker, name-worker2, ...), all with the given address text.
func (t *Topology) clusterNodes(name, address string) []NodePlan {
	nodes := []NodePlan{{Name: name + "-control-plane", Role: "control-plane", Address: address}}
	for w := 1; w <= t.workersFor(name); w++ {
		suffix := "-worker"
		if w > 1 {
			suffix += strconv.Itoa(w)
		}
		nodes = append(nodes, NodePlan{Name: name + suffix, Role: "worker", Address: address})
	}
	return nodes
}

// add adds the estimated footprint of nodes to r.
func (r *Resources) add(nodes []NodePlan) {
	for _, n := range nodes {
		if n.Role == "control-plane" {
			r.MemoryMiB += estControlPlaneMemMiB
			r.CPUCores += estControlPlaneCPU
			r.DiskMiB += estControlPlaneDiskMiB
		} else {
			r.MemoryMiB += estWorkerMemMiB
			r.CPUCores += estWorkerCPU
			r.DiskMiB += estWorkerDiskMiB
		}
	}
}

// chartPlans returns the charts in install order with global values.
func (t *Topology) chartPlans() []ChartPlan {
	var out []ChartPlan
	master := t.macvlanMaster()
	nad := or(t.Macvlan.NADName, DefaultNADName)
	podIf := or(t.Macvlan.PodInterface, DefaultMacvlanPodInterface)
	if t.fluidosEnabled() {
		f := t.Fluidos
		c := ChartPlan{Name: FluidosChartName, Release: FluidosRelease, Namespace: FluidosNamespace}
		if f.Chart == "" && f.Repo == "" {
			c.Chart, c.Repo, c.Version = DefaultFluidosChart, DefaultFluidosRepo, or(f.Version, DefaultFluidosVersion)
		} else {
			c.Chart, c.Repo, c.Version = or(f.Chart, DefaultFluidosChart), f.Repo, f.Version
		}
		c.Values = DeepMerge(fluidosDefaultValues(master, nad, podIf), normalize(f.Values).(map[string]any))
		c.Images = f.Images
		if len(c.Images) == 0 {
			c.Images = defaultFluidosImages(or(c.Version, DefaultFluidosVersion))
		}
		out = append(out, c)
	}
	for _, e := range t.ExtraCharts {
		out = append(out, ChartPlan{
			Name:      e.Name,
			Release:   or(e.Release, e.Name),
			Namespace: or(e.Namespace, e.Name),
			Chart:     e.Chart,
			Repo:      e.Repo,
			Version:   e.Version,
			Values:    normalize(orMap(e.Values)).(map[string]any),
			Images:    e.Images,
		})
	}
	return out
}

// clusterValues merges, in order: the chart's global values, the
// per-cluster FLUIDOS address, fluidos.clusterValues, the cluster's
// override values, and the static part of the testbed block (provisioning
// adds nodeAddress and agentImage once the nodes run).
func (t *Topology) clusterValues(c ChartPlan, cluster string, idx int, cm ClusterMacvlan, mp MacvlanPlan) map[string]any {
	v := DeepMerge(map[string]any{}, c.Values)
	if c.Name == FluidosChartName {
		v = DeepMerge(v, map[string]any{"networkManager": map[string]any{"config": map[string]any{"address": map[string]any{
			"firstOctet":  strconv.Itoa(cm.Octets[0]),
			"secondOctet": strconv.Itoa(cm.Octets[1]),
			"thirdOctet":  strconv.Itoa(cm.Octets[2]),
		}}}})
		if cv, ok := t.Fluidos.ClusterValues[cluster]; ok {
			v = DeepMerge(v, normalize(cv).(map[string]any))
		}
	}
	if o, ok := t.Clusters.Overrides[cluster]; ok {
		if cv, ok := o.Values[c.Name]; ok {
			v = DeepMerge(v, normalize(cv).(map[string]any))
		}
	}
	return DeepMerge(v, map[string]any{"testbed": map[string]any{
		"topology":     t.Metadata.Name,
		"cluster":      cluster,
		"clusterIndex": idx,
		"macvlan": map[string]any{
			"nad":       mp.NADName,
			"interface": mp.PodInterface,
			"address":   cm.RangeStart,
			"subnet":    cm.Subnet,
		},
	}})
}

// DeepMerge returns a new map: base with over merged in; nested maps merge
// recursively, everything else in over replaces base. Inputs are unchanged.
func DeepMerge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = cloneValue(v)
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = DeepMerge(bm, om)
				continue
			}
		}
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return DeepMerge(nil, t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

// normalize turns YAML-decoded values into JSON-compatible ones
// (map[any]any keys become strings).
func normalize(v any) any {
	switch t := v.(type) {
	case nil:
		return map[string]any{}
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = normalizeValue(e)
		}
		return out
	case map[any]any:
		return normalize(normalizeValue(t))
	}
	return map[string]any{}
}

func normalizeValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = normalizeValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = normalizeValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = normalizeValue(e)
		}
		return out
	}
	return v
}

func orMap(m map[string]any) any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func appendUnique(list []string, s string) []string {
	for _, e := range list {
		if e == s {
			return list
		}
	}
	return append(list, s)
}

// DiffValues lists the leaf paths of v that differ from base, sorted, as
// "a.b.c=value" strings; used to show values that differ from defaults.
func DiffValues(base, v map[string]any) []string {
	var out []string
	var walk func(prefix string, b, x map[string]any)
	walk = func(prefix string, b, x map[string]any) {
		for k, xv := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			bv, ok := b[k]
			xm, xIsMap := xv.(map[string]any)
			bm, bIsMap := bv.(map[string]any)
			switch {
			case xIsMap && bIsMap:
				walk(p, bm, xm)
			case xIsMap && len(xm) > 0:
				walk(p, nil, xm)
			case !ok || fmt.Sprint(bv) != fmt.Sprint(xv):
				out = append(out, fmt.Sprintf("%s=%v", p, xv))
			}
		}
	}
	walk("", base, v)
	sort.Strings(out)
	return out
}

// ValueChanges lists, per cluster and chart, the chart values the topology
// file sets beyond the built-in defaults ("path=value", sorted), so that
// `testbed plan` can show only what the user changed.
func (t *Topology) ValueChanges(p *Plan) map[string]map[string][]string {
	bare := *t
	bare.Fluidos.Values, bare.Fluidos.ClusterValues = nil, nil
	bare.ExtraCharts = make([]Chart, len(t.ExtraCharts))
	for i, c := range t.ExtraCharts {
		c.Values = nil
		bare.ExtraCharts[i] = c
	}
	bare.Clusters.Overrides = map[string]ClusterOverride{}
	for k, o := range t.Clusters.Overrides {
		o.Values = nil
		bare.Clusters.Overrides[k] = o
	}
	base, err := bare.Plan()
	out := map[string]map[string][]string{}
	if err != nil {
		return out
	}
	for i, c := range p.Clusters {
		if i >= len(base.Clusters) {
			break
		}
		for j, ch := range c.Charts {
			if j >= len(base.Clusters[i].Charts) {
				break
			}
			if d := DiffValues(base.Clusters[i].Charts[j].Values, ch.Values); len(d) > 0 {
				if out[c.Name] == nil {
					out[c.Name] = map[string][]string{}
				}
				out[c.Name][ch.Name] = d
			}
		}
	}
	return out
}
