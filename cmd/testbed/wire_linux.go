//go:build linux

package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"github.com/fluidos-lab/testbed/internal/capture"
	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/topology"
)

// hostWire is a capture on the host, whose kernel stamps packets with the
// host's CLOCK_REALTIME: ClockSample relates it to the runner's clock.
type hostWire struct{ *capture.Capture }

func (hostWire) Clock() (capture.Clocks, error) { return capture.ClockSample() }

// openWire captures the announce group and IGMP on the Linux bridge of the
// lab's Docker network (promiscuous, so that it sees every frame the
// bridge forwards between the nodes), for one campaign. The runner must
// share the host's network namespace with the Docker engine.
//
// On several hosts it captures on this host's bridge of the shared
// discovery network, which sees every host's announcements (VXLAN floods
// the group to every bridge) stamped by this host's kernel: the runner's
// own clock, no offset needed.
func (a *app) openWire(ctx context.Context, plan *topology.Plan, group netip.AddrPort) (runner.Wire, func() error, error) {
	bridge, err := a.wireBridge(ctx, plan)
	if err != nil {
		return nil, nil, err
	}
	c, err := capture.Open(bridge, []capture.Group{{Addr: group.Addr(), Port: group.Port()}}, capture.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("bridge %s of network %s: %w", bridge, plan.Network.Name, err)
	}
	if err := c.Start(ctx); err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	return hostWire{c}, c.Close, nil
}

// wireBridge is the Linux bridge a campaign captures on.
func (a *app) wireBridge(ctx context.Context, plan *topology.Plan) (string, error) {
	if plan.MultiHost() {
		if err := a.usePlan(plan); err != nil {
			return "", err
		}
		if _, err := os.Stat("/sys/class/net/" + plan.SharedNetwork.Bridge); err != nil {
			return "", fmt.Errorf("the shared network's bridge %s is not on this machine (run testbed on one of the lab's hosts to explain discovery times): %w", plan.SharedNetwork.Bridge, err)
		}
		return plan.SharedNetwork.Bridge, nil
	}
	dc, err := a.Docker()
	if err != nil {
		return "", err
	}
	return (&dockernet.Networks{API: dc}).Bridge(ctx, plan.Network.Name)
}
