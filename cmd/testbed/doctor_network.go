package main

import (
	"context"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/internal/preflight"
)

// networkChecks reports what `up` could not set on an existing lab bridge
// (multicast snooping). Without a topology there is no network to look at.
func (a *app) networkChecks(cfg preflight.Config) []preflight.Check {
	if cfg.Plan == nil {
		return nil
	}
	lookup := func(ctx context.Context, name string) (string, error) {
		dc, err := a.Docker()
		if err != nil {
			return "", err
		}
		return (&dockernet.Networks{API: dc}).Bridge(ctx, name)
	}
	return []preflight.Check{preflight.SnoopingCheck{
		FS: cfg.Host.FS, Lookup: lookup, Network: cfg.Plan.Network.Name, Want: cfg.Plan.Network.MulticastSnooping,
	}}
}
