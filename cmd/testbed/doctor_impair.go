package main

import (
	"context"

	"github.com/fluidos-lab/testbed/internal/preflight"
	"github.com/fluidos-lab/testbed/scenarios/impair"
)

// supportCheck is doctor's check of impairment support: it probes the
// kernel (netem, nftables netdev egress) from a throw-away container of the
// node image the lab would use.
type supportCheck struct {
	image string
	probe func(ctx context.Context, image string) (impair.Capabilities, error)
}

var _ preflight.Check = supportCheck{}

// Name implements preflight.Check.
func (supportCheck) Name() string { return "impairment support" }

// Run implements preflight.Check: pass with netem, warn with nftables only
// (loss only) or nothing, naming the missing kernel feature and its fix.
func (c supportCheck) Run(ctx context.Context) preflight.Result {
	caps, err := c.probe(ctx, c.image)
	if err != nil {
		return preflight.Result{Status: preflight.Warn,
			Detail: "could not probe the kernel: " + err.Error(),
			Fix:    "make the node image " + c.image + " available (testbed doctor checks it above), then run testbed doctor again"}
	}
	as := caps.Assess()
	st := preflight.Warn
	if as.Level == impair.Full {
		st = preflight.Pass
	}
	return preflight.Result{Status: st, Detail: as.Detail, Fix: as.Fix}
}

// impairmentChecks is doctor's impairment-support check on the node image
// the plan (or TESTBED_NODE_IMAGE) uses.
func (a *app) impairmentChecks(cfg preflight.Config) []preflight.Check {
	image := cfg.NodeImage
	if cfg.Plan != nil && len(cfg.Plan.Clusters) > 0 {
		image = cfg.Plan.Clusters[0].NodeImage
	}
	return []preflight.Check{supportCheck{image: image, probe: func(ctx context.Context, image string) (impair.Capabilities, error) {
		dc, err := a.Docker()
		if err != nil {
			return impair.Capabilities{}, err
		}
		return impair.ProbeInContainer(ctx, dc, image)
	}}}
}
