package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/internal/preflight"
	"github.com/fluidos-lab/testbed/scenarios/impair"
	"github.com/fluidos-lab/testbed/topology"
)

func TestImpairmentChecksImage(t *testing.T) {
	a := newApp(IOStreams{})
	for _, tc := range []struct {
		cfg  preflight.Config
		want string
	}{
		{preflight.Config{NodeImage: "testbed.local/kind-node:v1.34.2"}, "testbed.local/kind-node:v1.34.2"},
		{preflight.Config{NodeImage: "ignored", Plan: &topology.Plan{Clusters: []topology.ClusterPlan{{NodeImage: "kindest/node:v1.34.2"}}}}, "kindest/node:v1.34.2"},
	} {
		checks := a.impairmentChecks(tc.cfg)
		if len(checks) != 1 {
			t.Fatalf("%d checks", len(checks))
		}
		c, ok := checks[0].(supportCheck)
		if !ok || c.image != tc.want || c.Name() != "impairment support" {
			t.Errorf("check = %#v, want image %q", checks[0], tc.want)
		}
	}
}

func TestSupportCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		caps   impair.Capabilities
		err    error
		want   preflight.Status
		detail string
		fix    string
	}{
		{"this host", impair.Capabilities{Kernel: "6.18.44", NetemErr: "Error: Specified qdisc kind is unknown.", NftEgress: true},
			nil, preflight.Warn, "loss only, with nftables", "modprobe sch_netem"},
		{"netem", impair.Capabilities{Netem: true, NetemSeed: true}, nil, preflight.Pass, "netem: loss, delay", ""},
		{"probe failed", impair.Capabilities{}, errors.New("No such image: kindest/node"), preflight.Warn, "could not probe", "node image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := supportCheck{image: "kindest/node:v1.34.2", probe: func(context.Context, string) (impair.Capabilities, error) { return tc.caps, tc.err }}
			r := c.Run(context.Background())
			if r.Status != tc.want || !strings.Contains(r.Detail, tc.detail) || !strings.Contains(r.Fix, tc.fix) {
				t.Errorf("result %+v, want %s with %q and fix %q", r, tc.want, tc.detail, tc.fix)
			}
		})
	}
}
