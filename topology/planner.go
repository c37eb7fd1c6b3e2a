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
	names := t.clusterNames()
	env := t.env

	p := &Plan{Name: t.Metadata.Name, File: t.file}
	root := t.StateDir
	if root == "" {
		root = env.StateRoot
	}
	p.StateDir = filepath.Join(root, t.Metadata.Name)

	// Network.
	p.Network = NetworkPlan{
		Name:              or(t.Network.Name, "testbed-"+t.Metadata.Name),
		Subnet:            or(t.Network.Subnet, DefaultNetworkSubnet),
		Gateway:           t.Network.Gateway,
		MulticastSnooping: t.Network.MulticastSnooping != nil && *t.Network.MulticastSnooping,
		MTU:               t.Network.MTU,
	}
	netPrefix := netip.MustParsePrefix(p.Network.Subnet)
	if p.Network.Gateway == "" {
		p.Network.Gateway = netPrefix.Addr().Next().String()
	}

	// Charts (topology-level copies carry global values only).
	charts := t.chartPlans()
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
	p.Macvlan = MacvlanPlan{
		Master:        or(t.Macvlan.Master, DefaultMacvlanMaster),
		Mode:          or(t.Macvlan.Mode, DefaultMacvlanMode),
		Subnet:        or(t.Macvlan.Subnet, DefaultMacvlanSubnet),
		PodInterface:  or(t.Macvlan.PodInterface, DefaultMacvlanPodInterface),
		NADName:       or(t.Macvlan.NADName, DefaultNADName),
		NADNamespaces: nadNS,
	}
	multusVersion := or(t.Multus.Version, DefaultMultusVersion)
	p.Multus = MultusPlan{Version: multusVersion, Image: or(env.MultusImage, or(t.Multus.Image, defaultMultusImage(multusVersion)))}
	cniVersion := or(t.CNIPlugins.Version, DefaultCNIVersion)
	p.CNIPlugins = CNIPlan{
		Version: cniVersion,
		URL:     or(t.CNIPlugins.URL, defaultCNIURL(cniVersion)),
		SHA256:  t.CNIPlugins.SHA256,
		Tarball: or(env.CNIPluginsTarball, t.CNIPlugins.Tarball),
		Plugins: []string{"macvlan", "host-local", "static"},
	}
	for _, c := range charts {
		if c.Name == FluidosChartName {
			c := c
			p.Fluidos = &c
		} else {
			p.ExtraCharts = append(p.ExtraCharts, c)
		}
	}
	p.Images = append([]string(nil), t.Images...)
	p.Parallelism = env.CPUs
	p.Retries = DefaultRetries
	if pr := t.Provisioning; pr != nil {
		if pr.Parallelism > 0 {
			p.Parallelism = pr.Parallelism
		}
		if pr.Retries != nil {
			p.Retries = *pr.Retries
		}
	}
	if p.Parallelism < 1 {
		p.Parallelism = 1
	}

	pool := netip.MustParsePrefix(p.Macvlan.Subnet).Addr().As4()
	poolBase := uint32(pool[0])<<24 | uint32(pool[1])<<16 | uint32(pool[2])<<8
	defaultImage := or(env.NodeImage, or(t.Clusters.NodeImage, DefaultNodeImage))
	nodeImages := map[string]bool{}
	for i, name := range names {
		idx := i + 1
		sub := poolBase + uint32(i)<<8
		octets := [3]int{int(sub >> 24), int(sub >> 16 & 0xff), int(sub >> 8 & 0xff)}
		base := fmt.Sprintf("%d.%d.%d", octets[0], octets[1], octets[2])
		cm := ClusterMacvlan{
			Subnet:     base + ".0/24",
			RangeStart: base + "." + strconv.Itoa(MacvlanHostOctet),
			RangeEnd:   base + "." + strconv.Itoa(MacvlanHostOctet),
			Octets:     octets,
		}
		cp := ClusterPlan{
			Name:          name,
			Index:         idx,
			NodeImage:     defaultImage,
			Kubeconfig:    filepath.Join(p.StateDir, "kubeconfig", name),
			LogDir:        filepath.Join(p.StateDir, "logs", name),
			PodSubnet:     or(t.Clusters.PodSubnet, DefaultPodSubnet),
			ServiceSubnet: or(t.Clusters.ServiceSubnet, DefaultServiceSubnet),
			Macvlan:       cm,
		}
		if o, ok := t.Clusters.Overrides[name]; ok && o.NodeImage != "" {
			cp.NodeImage = o.NodeImage
		}
		nodeImages[cp.NodeImage] = true
		dynamic := "dynamic in " + p.Network.Subnet
		cp.Nodes = append(cp.Nodes, NodePlan{Name: name + "-control-plane", Role: "control-plane", Address: dynamic})
		for w := 1; w <= t.workersFor(name); w++ {
			suffix := "-worker"
			if w > 1 {
				suffix += strconv.Itoa(w)
			}
			cp.Nodes = append(cp.Nodes, NodePlan{Name: name + suffix, Role: "worker", Address: dynamic})
		}
		for _, c := range charts {
			c.Values = t.clusterValues(c, name, idx, cm, p.Macvlan)
			c.Images = append([]string(nil), c.Images...)
			cp.Charts = append(cp.Charts, c)
		}
		p.Clusters = append(p.Clusters, cp)

		for _, n := range cp.Nodes {
			if n.Role == "control-plane" {
				p.Estimate.MemoryMiB += estControlPlaneMemMiB
				p.Estimate.CPUCores += estControlPlaneCPU
				p.Estimate.DiskMiB += estControlPlaneDiskMiB
			} else {
				p.Estimate.MemoryMiB += estWorkerMemMiB
				p.Estimate.CPUCores += estWorkerCPU
				p.Estimate.DiskMiB += estWorkerDiskMiB
			}
		}
	}
	p.Estimate.DiskMiB += estNodeImageDiskMiB * len(nodeImages)
	return p, nil
}

// chartPlans returns the charts in install order with global values.
func (t *Topology) chartPlans() []ChartPlan {
	var out []ChartPlan
	master := or(t.Macvlan.Master, DefaultMacvlanMaster)
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
