package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/internal/l2"
	"github.com/fluidos-lab/testbed/internal/preflight"
	"github.com/fluidos-lab/testbed/topology"
)

// hostChecks are doctor's checks of a multi-host lab: every host's engine
// and clock, then the underlay between every ordered pair of hosts
// (reachability on the VXLAN port and the path MTU the encapsulation
// needs), probed by testbed helper containers on the hosts themselves.
func (a *app) hostChecks(cfg preflight.Config) []preflight.Check {
	plan := cfg.Plan
	if plan == nil || !plan.MultiHost() {
		return nil
	}
	var out []preflight.Check
	for _, h := range plan.Hosts {
		out = append(out, preflight.CheckFunc{CheckName: "host " + h.Name + " (" + h.Endpoint + ")",
			Fn: func(ctx context.Context) preflight.Result { return a.checkHost(ctx, plan, h) }})
	}
	for _, from := range plan.Hosts {
		for _, to := range plan.Hosts {
			if from.Name == to.Name {
				continue
			}
			out = append(out, preflight.CheckFunc{CheckName: fmt.Sprintf("underlay %s → %s (UDP %d)", from.Name, to.Name, plan.SharedNetwork.Port),
				Fn: func(ctx context.Context) preflight.Result { return a.checkPair(ctx, plan, from, to) }})
		}
	}
	return out
}

// checkHost reaches a host's engine and estimates its clock.
func (a *app) checkHost(ctx context.Context, plan *topology.Plan, h topology.HostPlan) preflight.Result {
	dc, err := a.hostClient(plan, h.Name)
	if err != nil {
		return preflight.Result{Status: preflight.Fail, Detail: err.Error(),
			Fix: "start the engine, or fix hosts[].endpoint (docker -H " + h.Endpoint + " info must answer)"}
	}
	info, err := dc.Info(ctx)
	if err != nil {
		return preflight.Result{Status: preflight.Fail, Detail: fmt.Sprintf("engine info: %v", err), Fix: "check the engine on " + h.Name}
	}
	clk, err := a.hostClock(ctx, plan, h)
	if err != nil {
		return preflight.Result{Status: preflight.Warn, Detail: fmt.Sprintf("Docker %s, %d CPUs, %d MiB; clock: %v", info.ServerVersion, info.NCPU, info.MemTotal>>20, err)}
	}
	return preflight.Result{Status: preflight.Pass, Detail: fmt.Sprintf("Docker %s, %d CPUs, %d MiB, %s; clock %+.2f ms ± %.2f ms (%s)",
		info.ServerVersion, info.NCPU, info.MemTotal>>20, info.KernelVersion, float64(clk.ClockOffsetNS)/1e6, float64(clk.ClockUncertaintyNS)/1e6, clk.ClockMethod)}
}

// probeSizes are the IP packet sizes probed between hosts, smallest first.
var probeSizes = []int{576, 1280, 1400, 1450, 1500, 9000}

// checkPair probes the underlay from host from to host to: a listener on
// to's address and VXLAN port, probes with the Don't-Fragment bit from
// from. A full-size shared-network frame needs MTU+50 bytes on the path.
func (a *app) checkPair(ctx context.Context, plan *topology.Plan, from, to topology.HostPlan) preflight.Result {
	target := netip.AddrPortFrom(netip.MustParseAddr(to.Address), uint16(plan.SharedNetwork.Port))
	dst, err := a.hostClient(plan, to.Name)
	if err != nil {
		return preflight.Result{Status: preflight.Fail, Detail: err.Error(), Fix: "fix host " + to.Name + "'s engine first"}
	}
	src, err := a.hostClient(plan, from.Name)
	if err != nil {
		return preflight.Result{Status: preflight.Fail, Detail: err.Error(), Fix: "fix host " + from.Name + "'s engine first"}
	}
	sh, dh := a.shared(plan.Name, from.Name, src), a.shared(plan.Name, to.Name, dst)
	need, err := frameNeed(ctx, plan, sh, dh, from, to)
	if err != nil {
		return preflight.Result{Status: preflight.Fail, Detail: err.Error(), Fix: "check that each host's address is one of its interfaces' (testbed l2 underlay ADDRESS on the host)"}
	}
	stop, err := dh.Listen(ctx, target, 2*time.Minute)
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return preflight.Result{Status: preflight.Pass, Detail: fmt.Sprintf("UDP %s is taken on %s: the lab's VXLAN device holds it (lab up); `testbed status` shows discovery across the hosts", target, to.Name)}
		}
		return preflight.Result{Status: preflight.Fail, Detail: fmt.Sprintf("listener on %s: %v", to.Name, err), Fix: "check that " + to.Address + " is an address of host " + to.Name}
	}
	defer func() { _ = stop() }()
	res, err := sh.Probe(ctx, target, probeSizes)
	if err != nil {
		return preflight.Result{Status: preflight.Fail, Detail: fmt.Sprintf("probe from %s: %v", from.Name, err), Fix: "check host " + from.Name}
	}
	return pairVerdict(from, to, target, res, need)
}

// frameNeed is the IP packet size a full frame of the shared network needs
// on the path from one host to another: sharedNetwork.mtu + 50, else (the
// MTU follows each host's underlay) the smaller underlay MTU of the two.
func frameNeed(ctx context.Context, plan *topology.Plan, src, dst *dockernet.Shared, from, to topology.HostPlan) (int, error) {
	if plan.SharedNetwork.MTU != 0 {
		return plan.SharedNetwork.MTU + l2.Overhead, nil
	}
	a, err := src.Underlay(ctx, from.Address)
	if err != nil {
		return 0, err
	}
	b, err := dst.Underlay(ctx, to.Address)
	if err != nil {
		return 0, err
	}
	return min(a.MTU, b.MTU), nil
}

// pairVerdict judges one probe against need, the packet size a full frame
// of the shared network takes on the path: unreachable fails; a smaller
// path MTU warns (discovery datagrams are small) with the MTU to set, and
// fails when even the smallest shared network does not fit.
func pairVerdict(from, to topology.HostPlan, target netip.AddrPort, res l2.ProbeResult, need int) preflight.Result {
	if !res.Reachable {
		return preflight.Result{Status: preflight.Fail, Detail: fmt.Sprintf("%s does not reach %s over UDP", from.Name, target),
			Fix: fmt.Sprintf("open UDP %d between the hosts (firewall, security group) and check the route from %s to %s", target.Port(), from.Address, to.Address)}
	}
	detail := fmt.Sprintf("reachable, round trip %.2f ms, path MTU at least %d", float64(res.RTT.Microseconds())/1000, res.PathMTU)
	if res.PathMTU >= need {
		return preflight.Result{Status: preflight.Pass, Detail: detail}
	}
	detail += fmt.Sprintf(", below the %d a full frame of the shared network needs", need)
	if res.PathMTU-l2.Overhead < l2.MinMTU {
		return preflight.Result{Status: preflight.Fail, Detail: detail,
			Fix: fmt.Sprintf("the path carries too little for VXLAN (a shared network of at least %d needs %d): raise the MTU between %s and %s", l2.MinMTU, l2.MinMTU+l2.Overhead, from.Address, to.Address)}
	}
	return preflight.Result{Status: preflight.Warn, Detail: detail, Fix: fmt.Sprintf("set sharedNetwork.mtu to %d or less", res.PathMTU-l2.Overhead)}
}
