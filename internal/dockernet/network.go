package dockernet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/fluidos-lab/testbed/internal/preflight"
	"github.com/fluidos-lab/testbed/topology"
)

// API is the subset of the Docker client this package uses; *client.Client
// satisfies it and tests fake it.
type API interface {
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
	NetworkInspect(ctx context.Context, networkID string, options network.InspectOptions) (network.Inspect, error)
	NetworkRemove(ctx context.Context, networkID string) error
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
}

var _ API = (*client.Client)(nil)

// ErrConflict reports an existing network that testbed must not reuse.
var ErrConflict = errors.New("network conflict")

// ErrNetworkAbsent is preflight's: a lab network that does not exist yet.
var ErrNetworkAbsent = preflight.ErrNetworkAbsent

// NetworkResult describes the shared network after Ensure.
type NetworkResult struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Bridge  string `json:"bridge"`
	Created bool   `json:"created"`
	// Snooping is the bridge's multicast_snooping after Ensure ("0", "1"
	// or "" when it could not be read).
	Snooping string `json:"snooping"`
	// Warning explains what could not be set (e.g. a read-only sysfs).
	Warning string `json:"warning,omitempty"`
}

// Networks manages the shared bridge of a lab.
type Networks struct {
	API API
	// SysfsRoot is /sys/class/net unless a test replaces it.
	SysfsRoot string
}

func (n *Networks) sysfs() string {
	if n.SysfsRoot != "" {
		return n.SysfsRoot
	}
	return "/sys/class/net"
}

// find returns the network named exactly name (Docker's name filter matches
// substrings), or nil.
func (n *Networks) find(ctx context.Context, name string) (*network.Summary, error) {
	list, err := n.API.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return nil, fmt.Errorf("listing docker networks: %w", err)
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i], nil
		}
	}
	return nil, nil
}

// Ensure creates the lab's network or reuses a matching one. A network of the
// same name without this tool's labels, of another topology, or with other
// addresses is refused with ErrConflict and an explanation.
func (n *Networks) Ensure(ctx context.Context, topo string, p topology.NetworkPlan) (NetworkResult, error) {
	res := NetworkResult{Name: p.Name}
	existing, err := n.find(ctx, p.Name)
	if err != nil {
		return res, err
	}
	if existing == nil {
		opts := network.CreateOptions{
			Driver: "bridge",
			IPAM:   &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: p.Subnet, Gateway: p.Gateway}}},
			Options: map[string]string{
				"com.docker.network.bridge.enable_ip_masquerade": "true",
			},
			Labels: Labels(topo),
		}
		if p.MTU > 0 {
			opts.Options["com.docker.network.driver.mtu"] = strconv.Itoa(p.MTU)
		}
		created, cerr := n.API.NetworkCreate(ctx, p.Name, opts)
		if cerr != nil {
			// Another process may have created it meanwhile: re-check.
			again, ferr := n.find(ctx, p.Name)
			if ferr != nil || again == nil {
				if strings.Contains(cerr.Error(), "overlap") {
					return res, fmt.Errorf("creating network %q with subnet %s: %w (another Docker network or host route uses an overlapping range: choose another network.subnet in the topology)", p.Name, p.Subnet, cerr)
				}
				return res, fmt.Errorf("creating network %q: %w", p.Name, cerr)
			}
			existing = again
		} else {
			res.ID = created.ID
			res.Created = true
		}
	}
	if existing != nil {
		if err := checkReusable(*existing, topo, p); err != nil {
			return res, err
		}
		res.ID = existing.ID
	}
	insp, err := n.API.NetworkInspect(ctx, res.ID, network.InspectOptions{})
	if err != nil {
		return res, fmt.Errorf("inspecting network %q: %w", p.Name, err)
	}
	res.Bridge = BridgeName(insp)
	res.Snooping, res.Warning = n.setSnooping(res.Bridge, p.MulticastSnooping)
	return res, nil
}

// checkReusable explains why an existing network cannot be used.
func checkReusable(s network.Summary, topo string, p topology.NetworkPlan) error {
	if s.Labels[LabelManaged] != "true" {
		return fmt.Errorf("%w: docker network %q exists but was not created by testbed (no %s=true label); remove it or set another network.name", ErrConflict, s.Name, LabelManaged)
	}
	if got := s.Labels[LabelTopology]; got != topo {
		return fmt.Errorf("%w: docker network %q belongs to topology %q, not %q; run `testbed down` for it or set another network.name", ErrConflict, s.Name, got, topo)
	}
	if s.Driver != "" && s.Driver != "bridge" {
		return fmt.Errorf("%w: docker network %q uses driver %q, want bridge", ErrConflict, s.Name, s.Driver)
	}
	var subnets []string
	for _, c := range s.IPAM.Config {
		if c.Subnet == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(c.Subnet); err == nil && pfx.Addr().Is6() {
			continue
		}
		subnets = append(subnets, c.Subnet)
		if sameCIDR(c.Subnet, p.Subnet) {
			if p.Gateway != "" && c.Gateway != "" && c.Gateway != p.Gateway {
				return fmt.Errorf("%w: docker network %q has gateway %s, the topology wants %s; run `testbed down` first", ErrConflict, s.Name, c.Gateway, p.Gateway)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: docker network %q has subnet(s) %v, the topology wants %s; run `testbed down` first", ErrConflict, s.Name, subnets, p.Subnet)
}

func sameCIDR(a, b string) bool {
	pa, err1 := netip.ParsePrefix(a)
	pb, err2 := netip.ParsePrefix(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return pa.Masked() == pb.Masked()
}

// BridgeName is the Linux bridge behind a Docker bridge network.
func BridgeName(n network.Inspect) string {
	if b := n.Options["com.docker.network.bridge.name"]; b != "" {
		return b
	}
	id := n.ID
	if len(id) > 12 {
		id = id[:12]
	}
	return "br-" + id
}

// setSnooping writes the bridge's multicast_snooping and reports what it
// could not do. The lab findings show multicast is delivered even with
// snooping on when no querier runs, so failure is a warning, not an error.
func (n *Networks) setSnooping(bridge string, want bool) (string, string) {
	path := filepath.Join(n.sysfs(), bridge, "bridge", "multicast_snooping")
	wantV := "0"
	if want {
		wantV = "1"
	}
	cur, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Sprintf("cannot read %s (%v): the bridge is not visible from here (Docker engine in another network namespace?); multicast snooping left as is — with no querier the bridge still floods the group", path, err)
	}
	got := strings.TrimSpace(string(cur))
	if got == wantV {
		return got, ""
	}
	if err := os.WriteFile(path, []byte(wantV), 0o644); err != nil {
		return got, fmt.Sprintf("cannot set %s to %s (%v); multicast snooping left at %s", path, wantV, err, got)
	}
	return wantV, ""
}

// ManagedNetworks lists the networks carrying this tool's labels, of one
// topology or (topo == "") of every topology.
func (n *Networks) ManagedNetworks(ctx context.Context, topo string) ([]network.Summary, error) {
	f := filters.NewArgs(filters.Arg("label", LabelManaged+"=true"))
	if topo != "" {
		f.Add("label", LabelTopology+"="+topo)
	}
	list, err := n.API.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing testbed networks: %w", err)
	}
	// Filter again: a fake or an old engine may ignore filters.
	out := list[:0]
	for _, s := range list {
		if s.Labels[LabelManaged] == "true" && (topo == "" || s.Labels[LabelTopology] == topo) {
			out = append(out, s)
		}
	}
	return out, nil
}

// RemoveNetwork removes a network by ID only when it carries this tool's
// managed label; a missing network is not an error.
func (n *Networks) RemoveNetwork(ctx context.Context, s network.Summary) error {
	if s.Labels[LabelManaged] != "true" {
		return fmt.Errorf("refusing to remove network %q: no %s=true label", s.Name, LabelManaged)
	}
	if err := n.API.NetworkRemove(ctx, s.ID); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing network %q: %w", s.Name, err)
	}
	return nil
}

// Node is a KinD node container of a testbed lab.
type Node struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Cluster string `json:"cluster"`
	Role    string `json:"role"`
	State   string `json:"state"`
	// Address is the container's IPv4 address on the lab network.
	Address string `json:"address,omitempty"`
	Network string `json:"network"`
}

// Nodes lists the KinD node containers attached to the managed network s,
// optionally only those of one cluster.
func (n *Networks) Nodes(ctx context.Context, s network.Summary, cluster string) ([]Node, error) {
	if s.Labels[LabelManaged] != "true" {
		return nil, fmt.Errorf("network %q is not managed by testbed", s.Name)
	}
	label := KindClusterLabel
	if cluster != "" {
		label += "=" + cluster
	}
	// Membership is decided below rather than by Docker's network filter:
	// a node container created but never started (its `docker run` cut
	// short by a killed up) is attached to no network yet, and only its
	// HostConfig says it was made for this one.
	list, err := n.API.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", label)),
	})
	if err != nil {
		return nil, fmt.Errorf("listing node containers on network %q: %w", s.Name, err)
	}
	var out []Node
	for _, c := range list {
		cl, ok := c.Labels[KindClusterLabel]
		if !ok || (cluster != "" && cl != cluster) {
			continue
		}
		var ep *network.EndpointSettings
		if c.NetworkSettings != nil {
			ep = c.NetworkSettings.Networks[s.Name]
			if ep == nil {
				for _, e := range c.NetworkSettings.Networks {
					if e != nil && e.NetworkID == s.ID {
						ep = e
					}
				}
			}
		}
		if ep == nil {
			if c.HostConfig.NetworkMode != s.Name && c.HostConfig.NetworkMode != s.ID {
				continue // not attached to our network, nor made for it: not ours
			}
			ep = &network.EndpointSettings{} // made for it, never started: no address
		}
		name := c.ID
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, Node{
			Name: name, ID: c.ID, Cluster: cl, Role: c.Labels[KindRoleLabel],
			State: string(c.State), Address: ep.IPAddress, Network: s.Name,
		})
	}
	return out, nil
}

// Bridge names the Linux bridge behind the network called name, or returns
// ErrNetworkAbsent when there is no such network.
func (n *Networks) Bridge(ctx context.Context, name string) (string, error) {
	s, err := n.find(ctx, name)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", fmt.Errorf("network %s: %w", name, ErrNetworkAbsent)
	}
	insp, err := n.API.NetworkInspect(ctx, s.ID, network.InspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspecting network %s: %w", name, err)
	}
	return BridgeName(insp), nil
}
