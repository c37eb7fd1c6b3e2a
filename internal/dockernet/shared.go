package dockernet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/fluidos-lab/testbed/internal/dockerx"
	"github.com/fluidos-lab/testbed/internal/l2"
	"github.com/fluidos-lab/testbed/topology"
)

// LabelShared marks a lab's shared discovery network (multi-host labs).
const LabelShared = "dev.testbed.shared"

// SharedAPI is what Shared needs of one host's Docker client.
type SharedAPI interface {
	API
	NetworkConnect(ctx context.Context, networkID, containerID string, config *network.EndpointSettings) error
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	dockerx.HostRunAPI
	dockerx.ExecAPI
}

// SharedResult is the shared network on one host after Ensure.
type SharedResult struct {
	Host    string `json:"host"`
	Network string `json:"network"`
	Bridge  string `json:"bridge"`
	Device  string `json:"device"`
	// MTU is the shared network's MTU (the underlay's minus 50 unless set).
	MTU int `json:"mtu"`
	// Underlay is the interface holding the host's address, and its MTU.
	Underlay    string `json:"underlay"`
	UnderlayMTU int    `json:"underlayMTU"`
	Peers       int    `json:"peers"`
	Changed     bool   `json:"changed"`
}

// Shared manages a multi-host lab's shared discovery network on one host:
// a Docker bridge network of the shared subnet (this host's range, its own
// gateway, a fixed bridge name, the encapsulation's MTU) and, in the host's
// network namespace, the kernel VXLAN device that joins its bridge to the
// other hosts'. The host side runs `testbed l2` in a helper container with
// host networking from the testbed image (Image), so it works on any engine
// the lab reaches, remote ones included.
type Shared struct {
	API SharedAPI
	// Host is the host's name, for errors.
	Host string
	// Image returns the testbed image on this engine (agentimage.Ensure).
	Image func(ctx context.Context) (string, error)
}

// Ensure converges the shared network and the VXLAN device on host h.
func (s *Shared) Ensure(ctx context.Context, plan *topology.Plan, h topology.HostPlan) (SharedResult, error) {
	sn := plan.SharedNetwork
	if sn == nil {
		return SharedResult{}, errors.New("the plan has no shared network")
	}
	res := SharedResult{Host: h.Name, Network: sn.Name, Bridge: sn.Bridge, Device: sn.Device}
	local, err := netip.ParseAddr(h.Address)
	if err != nil {
		return res, fmt.Errorf("host %s: address %q: %w", h.Name, h.Address, err)
	}
	u, err := s.Underlay(ctx, local.String())
	if err != nil {
		return res, err
	}
	res.Underlay, res.UnderlayMTU, res.MTU = u.Interface, u.MTU, u.VXLANMTU
	if sn.MTU != 0 {
		if sn.MTU > u.VXLANMTU {
			return res, fmt.Errorf("sharedNetwork.mtu %d exceeds what host %s's underlay %s carries (MTU %d - 50 = %d)", sn.MTU, h.Name, u.Interface, u.MTU, u.VXLANMTU)
		}
		res.MTU = sn.MTU
	}
	created, err := s.ensureNetwork(ctx, plan, h, res.MTU)
	if err != nil {
		return res, err
	}
	var r l2.Result
	spec := l2.Spec{Bridge: sn.Bridge, Device: sn.Device, VNI: sn.VNI, Port: sn.Port, Local: local, MTU: res.MTU, Peers: peersOf(plan, h)}
	in, err := json.Marshal(spec)
	if err != nil {
		return res, err
	}
	if err := s.helper(ctx, "l2-ensure", []string{"l2", "ensure"}, in, &r); err != nil {
		return res, err
	}
	res.Peers, res.Changed = len(spec.Peers), created || r.Changed()
	return res, nil
}

// peersOf are the underlay addresses of every host of plan but h.
func peersOf(plan *topology.Plan, h topology.HostPlan) []netip.Addr {
	var out []netip.Addr
	for _, o := range plan.Hosts {
		if o.Name == h.Name {
			continue
		}
		if a, err := netip.ParseAddr(o.Address); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// Underlay runs `testbed l2 underlay ADDRESS` on this host: the interface
// holding its underlay address, its MTU and the MTU left for VXLAN.
func (s *Shared) Underlay(ctx context.Context, addr string) (l2.UnderlayInfo, error) {
	var u l2.UnderlayInfo
	return u, s.helper(ctx, "l2-underlay", []string{"l2", "underlay", addr}, nil, &u)
}

// Probe runs `testbed l2 probe` on this host towards to, with DF-bit
// datagrams of the given IP packet sizes.
func (s *Shared) Probe(ctx context.Context, to netip.AddrPort, sizes []int) (l2.ProbeResult, error) {
	list := make([]string, len(sizes))
	for i, n := range sizes {
		list[i] = strconv.Itoa(n)
	}
	var res l2.ProbeResult
	return res, s.helper(ctx, "l2-probe", []string{"l2", "probe", to.String(), "--sizes", strings.Join(list, ",")}, nil, &res)
}

// Listen starts `testbed l2 listen` on this host's address at for up to
// d, answering Probe, and returns its stop once it is bound.
func (s *Shared) Listen(ctx context.Context, at netip.AddrPort, d time.Duration) (func() error, error) {
	img, err := s.image(ctx)
	if err != nil {
		return nil, err
	}
	args := []string{"l2", "listen", at.String(), "--for", d.String()}
	stop, err := dockerx.StartOnHost(ctx, s.API, dockerx.HostRun{Name: "l2-listen", Image: img, Cmd: args, Ready: "listening"})
	if err != nil {
		return nil, fmt.Errorf("host %s: testbed %s: %w", s.Host, strings.Join(args, " "), err)
	}
	return stop, nil
}

// image is the testbed image on this host.
func (s *Shared) image(ctx context.Context) (string, error) {
	if s.Image == nil {
		return "", errors.New("no testbed image for the host's helper containers")
	}
	img, err := s.Image(ctx)
	if err != nil {
		return "", fmt.Errorf("host %s: the testbed image: %w", s.Host, err)
	}
	return img, nil
}

// helper runs `/testbed ARGS` in a helper container on this host and
// decodes its one line of JSON into out.
func (s *Shared) helper(ctx context.Context, name string, args []string, stdin []byte, out any) error {
	img, err := s.image(ctx)
	if err != nil {
		return err
	}
	stdout, _, err := dockerx.RunOnHost(ctx, s.API, dockerx.HostRun{Name: name, Image: img, Cmd: args, Stdin: stdin})
	if err != nil {
		return fmt.Errorf("host %s: testbed %s: %w", s.Host, strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		return fmt.Errorf("host %s: testbed %s printed %q: %w", s.Host, strings.Join(args, " "), stdout, err)
	}
	return nil
}

// ensureNetwork creates the shared Docker network on this host, or checks
// that the existing one is this lab's with this host's range, bridge and
// MTU. It reports whether it created it.
func (s *Shared) ensureNetwork(ctx context.Context, plan *topology.Plan, h topology.HostPlan, mtu int) (bool, error) {
	sn := plan.SharedNetwork
	n := &Networks{API: s.API}
	existing, err := n.find(ctx, sn.Name)
	if err != nil {
		return false, err
	}
	if existing != nil {
		return false, s.checkShared(ctx, *existing, plan, h, mtu)
	}
	labels := Labels(plan.Name)
	labels[LabelShared] = "true"
	_, err = s.API.NetworkCreate(ctx, sn.Name, network.CreateOptions{
		Driver: "bridge",
		IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: sn.Subnet, IPRange: h.IPRange, Gateway: h.Gateway,
			AuxAddress: rangeEnds(sn.Subnet, h.IPRange)}}},
		Options: map[string]string{
			"com.docker.network.bridge.name":                 sn.Bridge,
			"com.docker.network.driver.mtu":                  strconv.Itoa(mtu),
			"com.docker.network.bridge.enable_ip_masquerade": "false",
		},
		Labels: labels,
	})
	if err != nil {
		return false, fmt.Errorf("host %s: creating the shared network %s (%s, range %s): %w", h.Name, sn.Name, sn.Subnet, h.IPRange, err)
	}
	return true, nil
}

// rangeEnds reserves the first and last address of a host's range (valid
// host addresses of the shared subnet, but read as network and broadcast
// addresses by people and by some software: Docker's allocator otherwise
// hands out x.y.z.0 once it wraps around the range). The subnet's own
// network and broadcast addresses are Docker's already.
func rangeEnds(subnet, ipRange string) map[string]string {
	sp, err1 := netip.ParsePrefix(subnet)
	rp, err2 := netip.ParsePrefix(ipRange)
	if err1 != nil || err2 != nil {
		return nil
	}
	ends := func(p netip.Prefix) (netip.Addr, netip.Addr) {
		first := p.Masked().Addr().As4()
		last := first
		host := uint32(1)<<(32-p.Bits()) - 1
		v := uint32(last[0])<<24 | uint32(last[1])<<16 | uint32(last[2])<<8 | uint32(last[3]) | host
		last = [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
		return netip.AddrFrom4(first), netip.AddrFrom4(last)
	}
	sFirst, sLast := ends(sp)
	rFirst, rLast := ends(rp)
	out := map[string]string{}
	if rFirst != sFirst {
		out["range-first"] = rFirst.String()
	}
	if rLast != sLast {
		out["range-last"] = rLast.String()
	}
	return out
}

// checkShared explains why an existing network cannot serve as this host's
// part of the shared network.
func (s *Shared) checkShared(ctx context.Context, ex network.Summary, plan *topology.Plan, h topology.HostPlan, mtu int) error {
	sn := plan.SharedNetwork
	if ex.Labels[LabelManaged] != "true" || ex.Labels[LabelTopology] != plan.Name || ex.Labels[LabelShared] != "true" {
		return fmt.Errorf("%w: host %s: docker network %q exists but is not lab %s's shared network; remove it or set sharedNetwork.name", ErrConflict, h.Name, ex.Name, plan.Name)
	}
	insp, err := s.API.NetworkInspect(ctx, ex.ID, network.InspectOptions{})
	if err != nil {
		return fmt.Errorf("host %s: inspecting network %s: %w", h.Name, ex.Name, err)
	}
	want := fmt.Sprintf("subnet %s, range %s, gateway %s, bridge %s, MTU %d", sn.Subnet, h.IPRange, h.Gateway, sn.Bridge, mtu)
	got := fmt.Sprintf("bridge %s, MTU %s", BridgeName(insp), insp.Options["com.docker.network.driver.mtu"])
	if len(insp.IPAM.Config) > 0 {
		c := insp.IPAM.Config[0]
		got = fmt.Sprintf("subnet %s, range %s, gateway %s, ", c.Subnet, c.IPRange, c.Gateway) + got
	}
	if got != want {
		return fmt.Errorf("%w: host %s: the shared network %s has %s; the plan wants %s: run `testbed down` first", ErrConflict, h.Name, ex.Name, got, want)
	}
	return nil
}

// Attach connects node to the shared network (once) and returns its
// address there. It checks that the node sees the network as the plan's
// interface (KinD's network is attached first, eth0; this one second):
// Docker may attach networks in another order when it restarts a
// container, and macvlan would then ride the wrong interface.
func (s *Shared) Attach(ctx context.Context, plan *topology.Plan, node string) (string, error) {
	sn := plan.SharedNetwork
	if sn == nil {
		return "", errors.New("the plan has no shared network")
	}
	ep, err := s.endpoint(ctx, node, sn.Name)
	if err != nil {
		return "", err
	}
	if ep == nil {
		if err := s.API.NetworkConnect(ctx, sn.Name, node, &network.EndpointSettings{}); err != nil && !cerrdefs.IsConflict(err) {
			return "", fmt.Errorf("connecting %s to %s: %w", node, sn.Name, err)
		}
		if ep, err = s.endpoint(ctx, node, sn.Name); err != nil {
			return "", err
		}
		if ep == nil {
			return "", fmt.Errorf("%s is not on %s after connecting it", node, sn.Name)
		}
	}
	path := "/sys/class/net/" + sn.Interface + "/address"
	out, _, err := dockerx.Exec(ctx, s.API, node, []string{"cat", path}, nil)
	if err != nil {
		return "", fmt.Errorf("reading %s's %s: %w", node, sn.Interface, err)
	}
	if got := strings.TrimSpace(string(out)); !strings.EqualFold(got, ep.MacAddress) {
		return "", fmt.Errorf("%s's %s has MAC %s, but its endpoint on %s has %s: Docker attached the networks in another order (after a restart?); run `testbed up --recreate` for this cluster's lab",
			node, sn.Interface, got, sn.Name, ep.MacAddress)
	}
	return ep.IPAddress, nil
}

// endpoint is node's endpoint on the network called name, or nil.
func (s *Shared) endpoint(ctx context.Context, node, name string) (*network.EndpointSettings, error) {
	c, err := s.API.ContainerInspect(ctx, node)
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", node, err)
	}
	if c.NetworkSettings == nil {
		return nil, nil
	}
	if ep := c.NetworkSettings.Networks[name]; ep != nil && ep.IPAddress != "" {
		return ep, nil
	}
	return nil, nil
}

// Remove deletes the VXLAN device called device on this host, if present.
func (s *Shared) Remove(ctx context.Context, device string) (bool, error) {
	var r struct {
		Removed bool `json:"removed"`
	}
	if err := s.helper(ctx, "l2-remove", []string{"l2", "remove", device}, nil, &r); err != nil {
		return false, err
	}
	return r.Removed, nil
}
