package main

import (
	"github.com/fluidos-lab/testbed/provision/preflight"
	"github.com/fluidos-lab/testbed/scenarios/impair"
)

// impairmentChecks is doctor's impairment-support check: it probes the
// kernel (netem, nftables netdev egress) from a throw-away container of the
// node image the lab would use. Wire it as doctorDeps.extra.
func impairmentChecks(cfg preflight.Config) []preflight.Check {
	image := cfg.NodeImage
	if cfg.Plan != nil && len(cfg.Plan.Clusters) > 0 {
		image = cfg.Plan.Clusters[0].NodeImage
	}
	return []preflight.Check{impair.SupportCheck{Image: image}}
}
