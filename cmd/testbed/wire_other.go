//go:build !linux

package main

import (
	"context"
	"errors"
	"net/netip"

	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/topology"
)

// openWire: capturing the lab's bridge needs a Linux runner (AF_PACKET).
func (a *app) openWire(context.Context, *topology.Plan, netip.AddrPort) (runner.Wire, func() error, error) {
	return nil, nil, errors.New("capturing the lab network needs Linux (AF_PACKET)")
}
