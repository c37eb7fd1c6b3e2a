package main

import (
	"testing"

	"github.com/fluidos-lab/testbed/provision/preflight"
	"github.com/fluidos-lab/testbed/scenarios/impair"
	"github.com/fluidos-lab/testbed/topology"
)

func TestImpairmentChecksImage(t *testing.T) {
	for _, tc := range []struct {
		cfg  preflight.Config
		want string
	}{
		{preflight.Config{NodeImage: "testbed.local/kind-node:v1.34.2"}, "testbed.local/kind-node:v1.34.2"},
		{preflight.Config{NodeImage: "ignored", Plan: &topology.Plan{Clusters: []topology.ClusterPlan{{NodeImage: "kindest/node:v1.34.2"}}}}, "kindest/node:v1.34.2"},
	} {
		checks := impairmentChecks(tc.cfg)
		if len(checks) != 1 {
			t.Fatalf("%d checks", len(checks))
		}
		c, ok := checks[0].(impair.SupportCheck)
		if !ok || c.Image != tc.want || c.Name() != "impairment support" {
			t.Errorf("check = %#v, want image %q", checks[0], tc.want)
		}
	}
}
