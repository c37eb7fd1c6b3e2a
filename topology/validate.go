package topology

import (
	"fmt"
	"math/big"
	"net/netip"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	ifaceName        = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,15}$`)
	semverish        = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$`)
	sha256Hex        = regexp.MustCompile(`^[0-9a-f]{64}$`)
	imageTag         = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// helmChartName is a chart's name in a repository (Helm's convention:
	// lowercase letters and digits, words separated by '-', '_' or '.').
	helmChartName = regexp.MustCompile(`^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$`)
	// chartVersion is an exact SemVer 2.0 version, optionally with a 'v'.
	chartVersion = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)` +
		`(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?` +
		`(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
)

// Bounds of the chart names and versions that become cache file names
// (<cache>/<repo hash>/<chart>-<version>.tgz).
const (
	maxChartName    = 100
	maxChartVersion = 64
)

// validator collects located errors for one topology.
type validator struct {
	doc  *Document
	errs ErrorList
}

func (v *validator) add(path, msg, fix string) {
	v.errs = append(v.errs, v.doc.Error(path, msg, fix))
}

// validate checks everything the strict decoder cannot: names, counts,
// addresses, overlaps, pinning. All problems are collected.
func (t *Topology) validate() ErrorList {
	v := &validator{doc: t.doc}
	v.name("metadata.name", t.Metadata.Name, "lab name", maxDNSLabel)
	names := t.validateClusters(v)
	clusters, nodes := len(names), t.totalNodes(names)
	if names == nil && t.Clusters.Count > MaxClusters {
		// Still tell whether the addresses would suffice for the asked count.
		clusters, nodes = t.Clusters.Count, t.Clusters.Count
	}
	shared := t.validateHosts(v, t.clusterPositions(names))
	t.validateNetworks(v, clusters, nodes, shared)
	t.validateImagesAndCharts(v, names)
	if p := t.Provisioning; p != nil {
		if p.Parallelism < 0 || p.Parallelism > MaxClusters {
			v.add("provisioning.parallelism", fmt.Sprintf("parallelism %d is out of range", p.Parallelism),
				fmt.Sprintf("use 1..%d, or omit it for every cluster at once up to twice the number of CPUs", MaxClusters))
		}
		if p.Retries != nil && (*p.Retries < 0 || *p.Retries > 10) {
			v.add("provisioning.retries", fmt.Sprintf("retries %d is out of range", *p.Retries), "use 0..10 (default 2)")
		}
	}
	if t.StateDir != "" && !filepath.IsAbs(t.StateDir) {
		v.add("stateDir", fmt.Sprintf("stateDir %q is not an absolute path", t.StateDir),
			"use an absolute path, or omit it and set $TESTBED_STATE_DIR")
	}
	return v.errs
}

// name checks a DNS-1123 label of at most max characters.
func (v *validator) name(path, s, what string, max int) bool {
	switch {
	case s == "":
		v.add(path, what+" is missing", "set a lowercase name such as lab-1")
		return false
	case len(s) > max:
		v.add(path, fmt.Sprintf("%s %q is %d characters, longer than %d", what, s, len(s), max),
			fmt.Sprintf("shorten it to at most %d characters", max))
		return false
	case !dns1123Label.MatchString(s):
		v.add(path, fmt.Sprintf("%s %q is not a DNS-1123 label", what, s),
			"use only lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. "+suggestLabel(s)+")")
		return false
	}
	return true
}

func suggestLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "node-01"
	}
	if len(out) > 40 {
		out = strings.TrimRight(out[:40], "-")
	}
	return out
}

// clusterNames expands count+namePattern or returns list; no validation.
func (t *Topology) clusterNames() []string {
	c := t.Clusters
	if len(c.List) > 0 {
		return c.List
	}
	if c.Count <= 0 || c.Count > MaxClusters {
		return nil
	}
	pattern := c.NamePattern
	if pattern == "" {
		pattern = DefaultNamePattern
	}
	out := make([]string, c.Count)
	for i := range out {
		out[i] = fmt.Sprintf(pattern, i+1)
	}
	return out
}

func (t *Topology) workersFor(name string) int {
	if o, ok := t.Clusters.Overrides[name]; ok && o.Workers != nil {
		return *o.Workers
	}
	if t.Clusters.Workers != nil {
		return *t.Clusters.Workers
	}
	return 0
}

func (t *Topology) totalNodes(names []string) int {
	n := 0
	for _, c := range names {
		w := t.workersFor(c)
		if w < 0 || w > MaxWorkers {
			w = 0
		}
		n += 1 + w
	}
	return n
}

// validateClusters checks the cluster declaration, names, overrides and
// per-cluster FLUIDOS values, and returns the cluster names (nil when the
// declaration itself is invalid).
func (t *Topology) validateClusters(v *validator) []string {
	c := t.Clusters
	if c.Workers != nil && (*c.Workers < 0 || *c.Workers > MaxWorkers) {
		v.add("clusters.workers", fmt.Sprintf("workers %d is out of range", *c.Workers),
			fmt.Sprintf("use 0..%d (0 = control plane only)", MaxWorkers))
	}
	v.profile("clusters.profile", c.Profile)
	if !t.validateClusterDeclaration(v) {
		return nil
	}
	names := t.clusterNames()
	seen := t.validateClusterNames(v, names)
	t.validateOverrides(v, names, seen)
	for _, k := range sortedKeys(t.Fluidos.ClusterValues) {
		if _, ok := seen[k]; !ok {
			v.add("fluidos.clusterValues."+k, fmt.Sprintf("values for unknown cluster %q", k),
				"use one of the declared cluster names, e.g. "+firstName(names))
		}
	}
	return names
}

// validateClusterDeclaration checks count, list and namePattern; it reports
// false when no cluster names can be derived from them.
func (t *Topology) validateClusterDeclaration(v *validator) bool {
	c := t.Clusters
	switch {
	case c.Count != 0 && len(c.List) > 0:
		v.add("clusters.list", "clusters.count and clusters.list are both set",
			"keep either count (with namePattern) or an explicit list")
		return false
	case len(c.List) == 0 && c.Count == 0 && v.doc.Has("clusters.count"):
		v.add("clusters.count", "count 0 is out of range", fmt.Sprintf("use 1..%d clusters", MaxClusters))
		return false
	case len(c.List) == 0 && c.Count == 0:
		v.add("clusters", "no clusters declared", "set clusters.count (e.g. 24) or clusters.list (e.g. [node-01, node-02])")
		return false
	case c.Count < 0 || c.Count > MaxClusters:
		v.add("clusters.count", fmt.Sprintf("count %d is out of range", c.Count), fmt.Sprintf("use 1..%d clusters", MaxClusters))
		return false
	case len(c.List) > MaxClusters:
		v.add("clusters.list", fmt.Sprintf("%d clusters listed, more than %d", len(c.List), MaxClusters),
			fmt.Sprintf("list at most %d clusters", MaxClusters))
		return false
	}
	if c.NamePattern != "" {
		if len(c.List) > 0 {
			v.add("clusters.namePattern", "namePattern has no effect with an explicit list", "remove namePattern or use count")
		} else if n := strings.Count(strings.ReplaceAll(c.NamePattern, "%%", ""), "%"); n != 1 ||
			strings.Contains(fmt.Sprintf(c.NamePattern, 1), "%!") {
			v.add("clusters.namePattern", fmt.Sprintf("namePattern %q must contain exactly one integer verb", c.NamePattern),
				"use e.g. node-%02d (clusters are numbered from 1)")
			return false
		}
	}
	return true
}

// validateClusterNames checks that every name is a unique, short enough
// DNS-1123 label (one error for a pattern), and returns each first-seen
// name's position.
func (t *Topology) validateClusterNames(v *validator, names []string) map[string]int {
	c := t.Clusters
	maxName := maxDNSLabel - maxNodeNameSuffix
	seen := map[string]int{}
	for i, n := range names {
		path := "clusters.list[" + strconv.Itoa(i) + "]"
		if len(c.List) == 0 {
			path = "clusters.namePattern"
		}
		if j, dup := seen[n]; dup {
			if len(c.List) > 0 {
				v.add(path, fmt.Sprintf("duplicate cluster name %q (also item %d)", n, j), "give every cluster a unique name")
			} else {
				v.add(path, fmt.Sprintf("namePattern yields the duplicate name %q", n), "include the number, e.g. node-%02d")
				break
			}
			continue
		}
		seen[n] = i
		if !v.name(path, n, "cluster name", maxName) && len(c.List) == 0 {
			break // one error for the pattern is enough
		}
	}
	return seen
}

// clusterPositions maps each name to its first position.
func (t *Topology) clusterPositions(names []string) map[string]int {
	seen := make(map[string]int, len(names))
	for i, n := range names {
		if _, ok := seen[n]; !ok {
			seen[n] = i
		}
	}
	return seen
}

// validateOverrides checks, in key order, that each override names a
// declared cluster (seen) and has valid workers, node image and chart keys.
func (t *Topology) validateOverrides(v *validator, names []string, seen map[string]int) {
	c := t.Clusters
	for _, k := range sortedKeys(c.Overrides) {
		o := c.Overrides[k]
		p := "clusters.overrides." + k
		if _, ok := seen[k]; !ok {
			v.add(p, fmt.Sprintf("override for unknown cluster %q", k), "use one of the declared cluster names, e.g. "+firstName(names))
		}
		if o.Workers != nil && (*o.Workers < 0 || *o.Workers > MaxWorkers) {
			v.add(p+".workers", fmt.Sprintf("workers %d is out of range", *o.Workers),
				fmt.Sprintf("use 0..%d (0 = control plane only)", MaxWorkers))
		}
		if o.NodeImage != "" {
			v.image(p+".nodeImage", o.NodeImage)
		}
		v.profile(p+".profile", o.Profile)
		for _, chart := range sortedKeys(o.Values) {
			if !t.hasChart(chart) {
				v.add(p+".values."+chart, fmt.Sprintf("values for unknown chart %q", chart),
					"key values by chart name: "+strings.Join(t.chartNames(), ", "))
			}
		}
	}
}

// profile checks a node profile name ("" is the default).
func (v *validator) profile(path, p string) {
	switch p {
	case "", ProfileStock, ProfileLean:
	default:
		v.add(path, fmt.Sprintf("unknown node profile %q", p), "use stock (KinD as is, the default) or lean (less idle CPU and memory per cluster)")
	}
}

func firstName(names []string) string {
	if len(names) == 0 {
		return "node-01"
	}
	return names[0]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (t *Topology) fluidosEnabled() bool {
	return t.Fluidos.Enabled == nil || *t.Fluidos.Enabled
}

func (t *Topology) chartNames() []string {
	var out []string
	if t.fluidosEnabled() {
		out = append(out, FluidosChartName)
	}
	for _, c := range t.ExtraCharts {
		out = append(out, c.Name)
	}
	return out
}

func (t *Topology) hasChart(name string) bool {
	for _, n := range t.chartNames() {
		if n == name {
			return true
		}
	}
	return false
}

// prefixOf parses an IPv4 CIDR that must be a network address.
func (v *validator) prefix(path, s, what string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		v.add(path, fmt.Sprintf("%s %q is not an IPv4 CIDR", what, s), "write it like 172.30.0.0/16")
		return netip.Prefix{}, false
	}
	if !p.Addr().Is4() {
		v.add(path, fmt.Sprintf("%s %q is not IPv4", what, s), "write an IPv4 CIDR like 172.30.0.0/16")
		return netip.Prefix{}, false
	}
	if p.Masked() != p {
		v.add(path, fmt.Sprintf("%s %q has host bits set", what, s), "use the network address "+p.Masked().String())
		return netip.Prefix{}, false
	}
	return p, true
}

// namedPrefix is a validated address range, named for overlap errors.
type namedPrefix struct {
	path, what string
	p          netip.Prefix
}

// validateNetworks checks the Docker network, the macvlan network and the
// cluster CIDRs (sized for clusters and nodes), then that no two overlap.
func (t *Topology) validateNetworks(v *validator, clusters, nodes int, shared []namedPrefix) {
	nets := shared
	nets = append(nets, t.validateDockerNetwork(v, nodes)...)
	nets = append(nets, t.validateMacvlan(v, clusters)...)
	nets = append(nets, t.validateClusterCIDRs(v)...)
	v.overlaps(nets)
}

// validateDockerNetwork checks the network section: subnet size for nodes,
// gateway, name and MTU. It returns the subnet when it parses.
func (t *Topology) validateDockerNetwork(v *validator, nodes int) []namedPrefix {
	var nets []namedPrefix
	subnet := t.Network.Subnet
	if subnet == "" {
		subnet = DefaultNetworkSubnet
	}
	if p, ok := v.prefix("network.subnet", subnet, "network.subnet"); ok {
		nets = append(nets, namedPrefix{"network.subnet", "the Docker network", p})
		// Usable: all addresses minus network, broadcast and gateway.
		usable := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(32-p.Bits())), big.NewInt(3))
		if p.Bits() > 30 || usable.Cmp(big.NewInt(int64(nodes))) < 0 {
			v.add("network.subnet", fmt.Sprintf("subnet %s has %s usable addresses, fewer than the %d nodes plus the gateway",
				subnet, maxZero(usable), nodes), "use a larger subnet, e.g. "+largerPrefix(p, nodes+3))
		}
		if t.Network.Gateway != "" {
			v.gateway(t.Network.Gateway, p)
		}
	} else if t.Network.Gateway != "" {
		if _, err := netip.ParseAddr(t.Network.Gateway); err != nil {
			v.add("network.gateway", fmt.Sprintf("gateway %q is not an IPv4 address", t.Network.Gateway), "write it like 172.30.0.1")
		}
	}
	if t.Network.Name != "" && !regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`).MatchString(t.Network.Name) {
		v.add("network.name", fmt.Sprintf("network name %q is not a valid Docker network name", t.Network.Name),
			"use letters, digits, '_', '.', '-' (at most 64 characters)")
	}
	if m := t.Network.MTU; m != 0 && (m < 576 || m > 9216) {
		v.add("network.mtu", fmt.Sprintf("mtu %d is out of range", m), "use 576..9216, or omit it for Docker's default 1500")
	}
	return nets
}

// gateway checks that gateway is an IPv4 host address inside subnet p.
func (v *validator) gateway(gateway string, p netip.Prefix) {
	gw, err := netip.ParseAddr(gateway)
	switch {
	case err != nil || !gw.Is4():
		v.add("network.gateway", fmt.Sprintf("gateway %q is not an IPv4 address", gateway), "write it like "+p.Addr().Next().String())
	case !p.Contains(gw):
		v.add("network.gateway", fmt.Sprintf("gateway %s is outside subnet %s", gw, p), "use an address inside the subnet, e.g. "+p.Addr().Next().String())
	case gw == p.Addr() || gw == lastAddr(p):
		v.add("network.gateway", fmt.Sprintf("gateway %s is the network or broadcast address of %s", gw, p), "use e.g. "+p.Addr().Next().String())
	}
}

// validateMacvlan checks the macvlan section: a pool of one /24 per
// cluster, mode, interface names, NAD name and namespaces. It returns the
// pool when it parses.
func (t *Topology) validateMacvlan(v *validator, clusters int) []namedPrefix {
	var nets []namedPrefix
	mv := t.Macvlan
	msub := mv.Subnet
	if msub == "" {
		msub = DefaultMacvlanSubnet
	}
	if p, ok := v.prefix("macvlan.subnet", msub, "macvlan.subnet"); ok {
		nets = append(nets, namedPrefix{"macvlan.subnet", "the macvlan pool", p})
		if p.Bits() > 24 {
			v.add("macvlan.subnet", fmt.Sprintf("macvlan pool %s is smaller than a /24", msub), "use a /24 or larger pool (one /24 per cluster), e.g. 10.100.0.0/16")
		} else if capacity := 1 << (24 - p.Bits()); clusters > capacity {
			v.add("macvlan.subnet", fmt.Sprintf("macvlan pool %s holds %d /24 subnets, fewer than the %d clusters", msub, capacity, clusters),
				"use a larger pool, e.g. "+largerPrefix24(p, clusters))
		}
	}
	if mv.Mode != "" {
		switch mv.Mode {
		case "bridge", "private", "vepa", "passthru":
		default:
			v.add("macvlan.mode", fmt.Sprintf("unknown macvlan mode %q", mv.Mode), "use bridge (default), private, vepa or passthru")
		}
	}
	for path, s := range map[string]string{"macvlan.master": mv.Master, "macvlan.podInterface": mv.PodInterface} {
		if s != "" && !ifaceName.MatchString(s) {
			v.add(path, fmt.Sprintf("%q is not a valid interface name", s), "use at most 15 letters, digits, '.', '_' or '-', e.g. eth1")
		}
	}
	if mv.NADName != "" && (len(mv.NADName) > 253 || !dns1123Subdomain.MatchString(mv.NADName)) {
		v.add("macvlan.nadName", fmt.Sprintf("nadName %q is not a valid Kubernetes object name", mv.NADName), "use e.g. macvlan-conf")
	}
	for i, ns := range mv.Namespaces {
		v.name("macvlan.namespaces["+strconv.Itoa(i)+"]", ns, "namespace", maxDNSLabel)
	}
	return nets
}

// validateClusterCIDRs checks the pod and service CIDRs and returns those
// that parse.
func (t *Topology) validateClusterCIDRs(v *validator) []namedPrefix {
	var nets []namedPrefix
	pod := t.Clusters.PodSubnet
	if pod == "" {
		pod = DefaultPodSubnet
	}
	if p, ok := v.prefix("clusters.podSubnet", pod, "podSubnet"); ok {
		nets = append(nets, namedPrefix{"clusters.podSubnet", "the pod CIDR", p})
	}
	svc := t.Clusters.ServiceSubnet
	if svc == "" {
		svc = DefaultServiceSubnet
	}
	if p, ok := v.prefix("clusters.serviceSubnet", svc, "serviceSubnet"); ok {
		nets = append(nets, namedPrefix{"clusters.serviceSubnet", "the service CIDR", p})
	}
	return nets
}

// overlaps reports every pair of nets that overlap, once per pair.
func (v *validator) overlaps(nets []namedPrefix) {
	for i := 0; i < len(nets); i++ {
		for j := i + 1; j < len(nets); j++ {
			a, b := nets[i], nets[j]
			if a.p.Overlaps(b.p) {
				// Report on whichever the user wrote (the later one if both).
				if !v.doc.Has(b.path) && v.doc.Has(a.path) {
					a, b = b, a
				}
				v.add(b.path, fmt.Sprintf("%s %s overlaps %s %s", b.what, b.p, a.what, a.p),
					"choose non-overlapping ranges (defaults: network 172.30.0.0/16, macvlan 10.100.0.0/16, pods 10.244.0.0/16, services 10.96.0.0/16)")
			}
		}
	}
}

func maxZero(b *big.Int) string {
	if b.Sign() < 0 {
		return "0"
	}
	return b.String()
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= uint32((uint64(1) << hostBits) - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// largerPrefix suggests the same base with a prefix holding need addresses.
func largerPrefix(p netip.Prefix, need int) string {
	bits := 32
	for bits > 8 && (1<<(32-bits)) < need {
		bits--
	}
	np, _ := p.Addr().Prefix(bits)
	return np.String()
}

func largerPrefix24(p netip.Prefix, clusters int) string {
	bits := 24
	for bits > 8 && (1<<(24-bits)) < clusters {
		bits--
	}
	np, _ := p.Addr().Prefix(bits)
	return np.String()
}

// image checks that ref is pinned: a tag other than latest, or a digest.
func (v *validator) image(path, ref string) {
	if msg, fix := imageProblem(ref); msg != "" {
		v.add(path, msg, fix)
	}
}

// imageProblem explains why ref is not a pinned image reference.
func imageProblem(ref string) (string, string) {
	if ref == "" {
		return "image reference is empty", "write repository:tag, e.g. busybox:1.36.1"
	}
	if strings.ContainsAny(ref, " \t\n") || ref != strings.TrimSpace(ref) {
		return fmt.Sprintf("image %q contains whitespace", ref), "remove the spaces"
	}
	name, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest {
		algo, hex, _ := strings.Cut(digest, ":")
		if algo != "sha256" || !sha256Hex.MatchString(hex) {
			return fmt.Sprintf("image %q has a malformed digest", ref), "use @sha256: followed by 64 lowercase hex digits"
		}
	}
	tag := ""
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
		if !imageTag.MatchString(tag) {
			return fmt.Sprintf("image %q has an invalid tag %q", ref, tag), "use a tag like v1.2.3"
		}
	}
	if name == "" || strings.ToLower(name) != name {
		return fmt.Sprintf("image %q has an invalid repository name", ref), "use a lowercase repository such as docker.io/library/busybox"
	}
	if hasDigest {
		return "", ""
	}
	switch tag {
	case "":
		return fmt.Sprintf("image %q is not pinned: it has no tag, so it means :latest", ref),
			fmt.Sprintf("pin a version, e.g. %s:<version> or %s@sha256:<digest>", name, name)
	case "latest":
		return fmt.Sprintf("image %q is not pinned: :latest changes over time", ref),
			fmt.Sprintf("pin a version, e.g. %s:<version> or add @sha256:<digest>", name)
	}
	return "", ""
}

func (t *Topology) validateImagesAndCharts(v *validator, names []string) {
	if t.Clusters.NodeImage != "" {
		v.image("clusters.nodeImage", t.Clusters.NodeImage)
	}
	if t.Multus.Version != "" && !semverish.MatchString(t.Multus.Version) {
		v.add("multus.version", fmt.Sprintf("multus version %q is not a version", t.Multus.Version), "use e.g. "+DefaultMultusVersion)
	}
	if t.Multus.Image != "" {
		v.image("multus.image", t.Multus.Image)
	}
	cni := t.CNIPlugins
	if cni.Version != "" && !semverish.MatchString(cni.Version) {
		v.add("cniPlugins.version", fmt.Sprintf("CNI plugins version %q is not a version", cni.Version), "use e.g. "+DefaultCNIVersion)
	}
	if cni.SHA256 != "" && !sha256Hex.MatchString(cni.SHA256) {
		v.add("cniPlugins.sha256", "sha256 must be 64 lowercase hex digits", "copy the checksum from the release's .sha256 file")
	}
	if cni.URL != "" && !strings.HasPrefix(cni.URL, "https://") && !strings.HasPrefix(cni.URL, "http://") {
		v.add("cniPlugins.url", fmt.Sprintf("url %q is not an http(s) URL", cni.URL), "use the release tarball URL, or set tarball to a local file")
	}
	for i, img := range t.Images {
		v.image("images["+strconv.Itoa(i)+"]", img)
	}
	if t.fluidosEnabled() {
		f := t.Fluidos
		v.chartSource("fluidos", f.Chart, f.Repo, f.Version, f.Chart == "" && f.Repo == "")
		for i, img := range f.Images {
			v.image("fluidos.images["+strconv.Itoa(i)+"]", img)
		}
	}
	seen := map[string]int{}
	for i, c := range t.ExtraCharts {
		p := "extraCharts[" + strconv.Itoa(i) + "]"
		if v.name(p+".name", c.Name, "chart name", maxDNSLabel) {
			if j, dup := seen[c.Name]; dup {
				v.add(p+".name", fmt.Sprintf("duplicate chart name %q (also extraCharts[%d])", c.Name, j), "give every chart a unique name")
			}
			if c.Name == FluidosChartName && t.fluidosEnabled() {
				v.add(p+".name", "chart name \"fluidos\" is reserved for the FLUIDOS chart", "rename it, or configure the fluidos section instead")
			}
			seen[c.Name] = i
		}
		if c.Chart == "" {
			v.add(p+".chart", "chart is missing", "set a chart name in repo, or a local path such as charts/reference-agent")
		} else {
			v.chartSource(p, c.Chart, c.Repo, c.Version, false)
		}
		if c.Namespace != "" {
			v.name(p+".namespace", c.Namespace, "namespace", maxDNSLabel)
		}
		if c.Release != "" {
			v.name(p+".release", c.Release, "release name", maxHelmReleaseName)
		}
		for j, img := range c.Images {
			v.image(p+".images["+strconv.Itoa(j)+"]", img)
		}
	}
	_ = names
}

// chartSource checks that a chart from a repository or registry is pinned,
// and that the name and version that become a cache file name
// (<cache>/<repo hash>/<chart>-<version>.tgz) are a Helm chart name and an
// exact semantic version: nothing that could be read as a path.
func (v *validator) chartSource(path, chart, repo, version string, defaulted bool) {
	if version != "" {
		v.chartVersion(path+".version", version)
	}
	if defaulted {
		return
	}
	remote := repo != "" || strings.HasPrefix(chart, "oci://")
	if repo != "" && !strings.HasPrefix(repo, "https://") && !strings.HasPrefix(repo, "http://") && !strings.HasPrefix(repo, "oci://") {
		v.add(path+".repo", fmt.Sprintf("repo %q is not a URL", repo), "use e.g. https://fluidos-project.github.io/node/")
	}
	if remote && version == "" {
		v.add(path+".version", fmt.Sprintf("chart %q comes from a repository but has no version", chart),
			"pin the chart version, e.g. version: 1.2.3")
	}
	switch {
	case repo != "" && (strings.HasPrefix(chart, "/") || strings.HasPrefix(chart, ".")):
		v.add(path+".chart", fmt.Sprintf("chart %q looks like a local path but repo is set", chart), "remove repo for a local chart, or use the chart's name in the repo")
	case repo != "":
		v.chartName(path+".chart", chart, chart)
	case strings.HasPrefix(chart, "oci://"):
		ref := strings.TrimPrefix(chart, "oci://")
		segs := strings.Split(ref, "/")
		for _, seg := range segs {
			if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\ \t\x00") {
				v.add(path+".chart", fmt.Sprintf("chart %q is not an OCI reference: it has an empty, '.' or '..' path segment or a space", chart),
					"use oci://<registry>/<repository>/<chart>, e.g. oci://ghcr.io/org/charts/metrics")
				return
			}
		}
		if len(segs) < 2 {
			v.add(path+".chart", fmt.Sprintf("chart %q names no chart after the registry", chart),
				"use oci://<registry>/<repository>/<chart>, e.g. oci://ghcr.io/org/charts/metrics")
			return
		}
		v.chartName(path+".chart", segs[len(segs)-1], chart)
	}
}

// chartName checks a chart name (name, the last segment of ref).
func (v *validator) chartName(path, name, ref string) {
	fix := "use the chart's name: lowercase letters and digits separated by '-', '_' or '.', e.g. node (a local chart is a path and takes no repo)"
	switch {
	case len(name) > maxChartName:
		v.add(path, fmt.Sprintf("chart name %q is %d characters, longer than %d", name, len(name), maxChartName), fix)
	case strings.Contains(name, ".."):
		v.add(path, fmt.Sprintf("chart %q: chart name %q contains \"..\"", ref, name), fix)
	case !helmChartName.MatchString(name):
		v.add(path, fmt.Sprintf("chart %q: %q is not a Helm chart name", ref, name), fix)
	}
}

// chartVersion checks a chart version: one exact semantic version.
func (v *validator) chartVersion(path, version string) {
	fix := "pin one exact version such as 1.2.3 or v0.1.2 (no ranges, no path separators)"
	if len(version) > maxChartVersion {
		v.add(path, fmt.Sprintf("chart version %q is %d characters, longer than %d", version, len(version), maxChartVersion), fix)
		return
	}
	if !chartVersion.MatchString(version) {
		v.add(path, fmt.Sprintf("chart version %q is not a semantic version", version), fix)
	}
}
