package topology

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Multi-host defaults and limits.
const (
	PlacementRoundRobin = "round-robin"
	PlacementCapacity   = "capacity"

	DefaultSharedSubnet = "172.29.0.0/16"
	DefaultVXLANPort    = 4789
	DefaultAPIPort      = 16443
	// SharedInterface is the node's interface on the shared network: KinD
	// attaches the lab network first (eth0), up the shared one second.
	SharedInterface = "eth1"
	maxHostName     = 20
	maxHosts        = 64
	// maxNodesPerHost is what one /24 of the shared network holds besides
	// the network, gateway and broadcast addresses.
	maxNodesPerHost = 253
)

var contextName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$`)

// EndpointProblem explains why s is not a Docker endpoint testbed can use
// (a context name, unix:///path, tcp://host:port or ssh://[user@]host[:port]),
// or returns "".
func EndpointProblem(s string) string {
	if s == "" {
		return "endpoint is missing"
	}
	if !strings.Contains(s, "://") {
		if len(s) > 100 || !contextName.MatchString(s) {
			return fmt.Sprintf("endpoint %q is neither a URL nor a Docker context name", s)
		}
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("endpoint %q is not a URL: %v", s, err)
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return fmt.Sprintf("endpoint %q: a unix socket is unix:///absolute/path", s)
		}
	case "tcp":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			return fmt.Sprintf("endpoint %q: tcp needs host:port, e.g. tcp://10.0.0.2:2376", s)
		}
	case "ssh":
		if u.Hostname() == "" {
			return fmt.Sprintf("endpoint %q: ssh needs a host, e.g. ssh://user@10.0.0.2", s)
		}
	default:
		return fmt.Sprintf("endpoint %q: unknown scheme %q", s, u.Scheme)
	}
	return ""
}

// validateHosts checks hosts, placement and the shared network; seen are
// the declared clusters with their positions.
func (t *Topology) validateHosts(v *validator, seen map[string]int) []namedPrefix {
	if len(t.Hosts) == 0 {
		for _, f := range []string{"placement", "sharedNetwork"} {
			if v.doc.Has(f) {
				v.add(f, f+" has no effect without hosts", "remove it, or list the lab's Docker engines under hosts")
			}
		}
		return nil
	}
	if len(t.Hosts) > maxHosts {
		v.add("hosts", fmt.Sprintf("%d hosts, more than %d", len(t.Hosts), maxHosts), fmt.Sprintf("list at most %d hosts", maxHosts))
		return nil
	}
	switch t.Placement {
	case "", PlacementRoundRobin, PlacementCapacity:
	default:
		v.add("placement", fmt.Sprintf("unknown placement %q", t.Placement), "use round-robin (the default) or capacity")
	}
	if m := t.Macvlan.Master; m != "" && m != SharedInterface {
		v.add("macvlan.master", fmt.Sprintf("macvlan.master %q: on several hosts the macvlan master is the node's interface on the shared network, %s", m, SharedInterface),
			"remove macvlan.master")
	}
	placed := map[string]string{}
	hostNames, addrs := map[string]int{}, map[netip.Addr]int{}
	for i := range t.Hosts {
		t.validateHost(v, i, hostNames, addrs, seen, placed)
	}
	return t.validateSharedNetwork(v)
}

// validateHost checks hosts[i]: a unique name and address, an endpoint, TLS
// only for tcp, placed clusters that exist once, and its API ports.
func (t *Topology) validateHost(v *validator, i int, hostNames map[string]int, addrs map[netip.Addr]int, seen map[string]int, placed map[string]string) {
	h := t.Hosts[i]
	p := "hosts[" + strconv.Itoa(i) + "]"
	if v.name(p+".name", h.Name, "host name", maxHostName) {
		if j, dup := hostNames[h.Name]; dup {
			v.add(p+".name", fmt.Sprintf("duplicate host name %q (also hosts[%d])", h.Name, j), "give every host a unique name")
		}
		hostNames[h.Name] = i
	}
	if msg := EndpointProblem(h.Endpoint); msg != "" {
		v.add(p+".endpoint", msg, "use a Docker context name (docker context ls), unix:///var/run/docker.sock, tcp://HOST:2376 with tls, or ssh://user@HOST")
	}
	if h.TLS != nil && !strings.HasPrefix(h.Endpoint, "tcp://") {
		v.add(p+".tls", "tls applies only to a tcp:// endpoint", "remove tls (a context carries its own TLS settings)")
	}
	if h.TLS != nil && !filepath.IsAbs(h.TLS.CertPath) {
		v.add(p+".tls.certPath", fmt.Sprintf("certPath %q is not an absolute path", h.TLS.CertPath), "use the absolute directory holding ca.pem, cert.pem and key.pem")
	}
	a, err := netip.ParseAddr(h.Address)
	switch {
	case h.Address == "":
		v.add(p+".address", "address is missing", "set the host's underlay IPv4 address, which the other hosts reach on UDP "+strconv.Itoa(DefaultVXLANPort))
	case err != nil || !a.Is4() || a.IsUnspecified() || a.IsMulticast():
		v.add(p+".address", fmt.Sprintf("address %q is not a unicast IPv4 address", h.Address), "write it like 192.168.1.10")
	default:
		if j, dup := addrs[a]; dup {
			v.add(p+".address", fmt.Sprintf("address %s is also hosts[%d]'s", a, j), "give every host its own underlay address")
		}
		addrs[a] = i
	}
	for k, c := range h.Clusters {
		cp := p + ".clusters[" + strconv.Itoa(k) + "]"
		if _, ok := seen[c]; !ok {
			v.add(cp, fmt.Sprintf("unknown cluster %q", c), "list declared cluster names only")
		} else if other, dup := placed[c]; dup {
			v.add(cp, fmt.Sprintf("cluster %q is also placed on host %q", c, other), "place every cluster on one host")
		}
		placed[c] = h.Name
	}
	if h.APIPort != 0 && (h.APIPort < 1024 || h.APIPort > 65535) {
		v.add(p+".apiPort", fmt.Sprintf("apiPort %d is out of range", h.APIPort), "use 1024..65535 (default 16443)")
	}
	if h.Capacity < 0 {
		v.add(p+".capacity", fmt.Sprintf("capacity %d is negative", h.Capacity), "use the number of clusters the host holds, or omit it")
	}
}

// validateSharedNetwork checks the shared network: a subnet of one /24 per
// host, the VNI, port and MTU. It returns the subnet for the overlap check.
func (t *Topology) validateSharedNetwork(v *validator) []namedPrefix {
	s := t.SharedNetwork
	var nets []namedPrefix
	if p, ok := v.prefix("sharedNetwork.subnet", or(s.Subnet, DefaultSharedSubnet), "sharedNetwork.subnet"); ok {
		nets = append(nets, namedPrefix{"sharedNetwork.subnet", "the shared network", p})
		if p.Bits() > 24 || 1<<(24-p.Bits()) < len(t.Hosts) {
			v.add("sharedNetwork.subnet", fmt.Sprintf("shared subnet %s holds fewer /24s than the %d hosts", p, len(t.Hosts)),
				"use a larger subnet (one /24 per host), e.g. "+largerPrefix24(p, len(t.Hosts)))
		}
	}
	if s.Name != "" && !regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`).MatchString(s.Name) {
		v.add("sharedNetwork.name", fmt.Sprintf("network name %q is not a valid Docker network name", s.Name),
			"use letters, digits, '_', '.', '-' (at most 64 characters)")
	}
	if s.VNI < 0 || s.VNI > 1<<24-1 {
		v.add("sharedNetwork.vni", fmt.Sprintf("vni %d is out of range", s.VNI), "use 1..16777215, or omit it for one derived from the lab name")
	}
	if s.Port < 0 || s.Port > 65535 {
		v.add("sharedNetwork.port", fmt.Sprintf("port %d is out of range", s.Port), "use 1..65535 (default 4789)")
	}
	if s.MTU != 0 && (s.MTU < 576 || s.MTU > 9000) {
		v.add("sharedNetwork.mtu", fmt.Sprintf("mtu %d is out of range", s.MTU), "use 576..9000, or omit it for the underlay's MTU minus 50")
	}
	return nets
}

// labHash is a short stable hash of the lab name for kernel device names
// (at most 15 characters) and the default VNI.
func labHash(name string) (hexs string, vni int) {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:5]), int(binary.BigEndian.Uint32(sum[5:9])%(1<<24-2)) + 1
}

// planShared resolves the shared network of a multi-host lab.
func (t *Topology) planShared(networkName string) *SharedNetworkPlan {
	h, vni := labHash(t.Metadata.Name)
	s := t.SharedNetwork
	if s.VNI != 0 {
		vni = s.VNI
	}
	port := s.Port
	if port == 0 {
		port = DefaultVXLANPort
	}
	return &SharedNetworkPlan{
		Name:      or(s.Name, networkName+"-l2"),
		Subnet:    or(s.Subnet, DefaultSharedSubnet),
		Bridge:    "tbl2-" + h,
		Device:    "tbvx-" + h,
		VNI:       vni,
		Port:      port,
		MTU:       s.MTU,
		Interface: SharedInterface,
	}
}

// planHosts places every cluster on a host and resolves each host's range
// of the shared network and its clusters' API server addresses and ports.
func (t *Topology) planHosts(p *Plan) error {
	if len(t.Hosts) == 0 {
		return nil
	}
	p.SharedNetwork = t.planShared(p.Network.Name)
	p.Placement = or(t.Placement, PlacementRoundRobin)
	caps, err := t.hostCapacities(p.Placement)
	if err != nil {
		return err
	}
	hostOf := t.place(p.Placement, caps)
	b := netip.MustParsePrefix(p.SharedNetwork.Subnet).Addr().As4()
	base := binary.BigEndian.Uint32(b[:])
	for i, h := range t.Hosts {
		var r [4]byte
		binary.BigEndian.PutUint32(r[:], base+uint32(i)<<8)
		rng := netip.AddrFrom4(r)
		hp := HostPlan{Name: h.Name, Endpoint: h.Endpoint, Address: h.Address, Capacity: caps[h.Name],
			IPRange: netip.PrefixFrom(rng, 24).String(), Gateway: rng.Next().String(), Clusters: []string{}}
		if h.TLS != nil {
			hp.TLSCertPath, hp.TLSVerify = h.TLS.CertPath, h.TLS.Verify == nil || *h.TLS.Verify
		}
		p.Hosts = append(p.Hosts, hp)
	}
	return t.assignHosts(p, hostOf)
}

// assignHosts records each cluster's host, API server address and port,
// and checks each host's ports and shared-network addresses suffice.
func (t *Topology) assignHosts(p *Plan, hostOf map[string]int) error {
	for ci := range p.Clusters {
		c := &p.Clusters[ci]
		hi := hostOf[c.Name]
		h := &p.Hosts[hi]
		port := t.Hosts[hi].APIPort
		if port == 0 {
			port = DefaultAPIPort
		}
		c.Host, c.APIServerAddress, c.APIServerPort = h.Name, h.Address, port+c.Index-1
		h.Clusters = append(h.Clusters, c.Name)
		c.Nodes = t.clusterNodes(c.Name, "dynamic in "+h.IPRange+" (shared), and in "+p.Network.Subnet)
		if c.APIServerPort > 65535 {
			return t.doc.Error(fmt.Sprintf("hosts[%d].apiPort", hi), fmt.Sprintf("host %s: API port %d of cluster %s is beyond 65535", h.Name, c.APIServerPort, c.Name),
				"lower apiPort: the cluster at position i (from 1) in the topology gets apiPort+i-1")
		}
	}
	for hi, h := range p.Hosts {
		n := 0
		for _, c := range h.Clusters {
			n += 1 + t.workersFor(c)
		}
		if n > maxNodesPerHost {
			return t.doc.Error(fmt.Sprintf("hosts[%d]", hi), fmt.Sprintf("host %s would hold %d nodes, more than its /24 of the shared network holds (%d)", h.Name, n, maxNodesPerHost),
				"add hosts or place fewer clusters on it")
		}
	}
	return nil
}

// hostCapacities returns each host's capacity in clusters: its own
// capacity, else the environment's prediction. Placement capacity needs one
// for every host.
func (t *Topology) hostCapacities(placement string) (map[string]int, error) {
	caps := map[string]int{}
	need := placement == PlacementCapacity && !t.allPlaced()
	for i, h := range t.Hosts {
		c := h.Capacity
		if c == 0 {
			c = t.env.HostCapacity[h.Name]
		}
		if c == 0 && need {
			return nil, t.doc.Error(fmt.Sprintf("hosts[%d]", i), fmt.Sprintf("placement capacity: the capacity of host %s is unknown", h.Name),
				"run `testbed doctor FILE` (it predicts each host's capacity from its engine), or set capacity on the host")
		}
		caps[h.Name] = c
	}
	return caps, nil
}

// allPlaced reports whether every cluster has a host without placement
// (explicitly or recorded), so a host's capacity does not matter.
func (t *Topology) allPlaced() bool {
	explicit := map[string]bool{}
	for _, h := range t.Hosts {
		for _, c := range h.Clusters {
			explicit[c] = true
		}
	}
	for _, c := range t.clusterNames() {
		if !explicit[c] && t.recordedHost(c) < 0 {
			return false
		}
	}
	return true
}

// recordedHost is the index of the host an earlier up placed cluster c on,
// or -1 when none is recorded or the host is no longer listed.
func (t *Topology) recordedHost(c string) int {
	name, ok := t.env.Placement[c]
	if !ok {
		return -1
	}
	for i, h := range t.Hosts {
		if h.Name == name {
			return i
		}
	}
	return -1
}

// place maps every cluster to a host index: the host that lists it, else
// the one an earlier up recorded, else the placement rule over the rest in
// topology order. Round-robin deals them out in hosts order; capacity puts
// each on the host with the lowest load (clusters over capacity) after it,
// the earlier host on a tie, never on a host of capacity 0.
func (t *Topology) place(placement string, caps map[string]int) map[string]int {
	hostOf := map[string]int{}
	load := make([]int, len(t.Hosts))
	for i, h := range t.Hosts {
		for _, c := range h.Clusters {
			hostOf[c] = i
			load[i]++
		}
	}
	var rest []string
	for _, c := range t.clusterNames() {
		if _, ok := hostOf[c]; ok {
			continue
		}
		if i := t.recordedHost(c); i >= 0 {
			hostOf[c] = i
			load[i]++
			continue
		}
		rest = append(rest, c)
	}
	for k, c := range rest {
		i := k % len(t.Hosts)
		if placement == PlacementCapacity {
			i = leastLoaded(t.Hosts, caps, load)
		}
		hostOf[c] = i
		load[i]++
	}
	return hostOf
}

// leastLoaded is the host whose load after one more cluster, relative to
// its capacity, is lowest (cross-multiplied, so no rounding).
func leastLoaded(hosts []Host, caps map[string]int, load []int) int {
	best := -1
	for i, h := range hosts {
		c := caps[h.Name]
		if c <= 0 {
			continue
		}
		if best < 0 || (load[i]+1)*caps[hosts[best].Name] < (load[best]+1)*c {
			best = i
		}
	}
	if best < 0 {
		return 0
	}
	return best
}
