package impair

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/provision/preflight"
)

func TestSupportCheck(t *testing.T) {
	for _, tc := range []struct {
		name       string
		caps       Capabilities
		err        error
		want       preflight.Status
		detail     []string
		fixContain string
	}{
		{"this host", Capabilities{Kernel: "6.18.44-fc-v657", NetemErr: "Error: Specified qdisc kind is unknown.", NftEgress: true},
			nil, preflight.Warn, []string{"kernel 6.18.44-fc-v657", "loss only, with nftables", "Specified qdisc kind is unknown", "delay"}, "modprobe sch_netem"},
		{"netem", Capabilities{Kernel: "6.8.0", Netem: true, NetemSeed: true, NftEgress: true},
			nil, preflight.Pass, []string{"netem: loss, delay, jitter"}, ""},
		{"netem, no seed", Capabilities{Netem: true}, nil, preflight.Pass, []string{"seeds are recorded only"}, ""},
		{"nothing", Capabilities{NetemErr: "unknown qdisc", NftErr: "Operation not supported"},
			nil, preflight.Warn, []string{"no impairment possible", "Operation not supported"}, "CONFIG_NETFILTER_EGRESS"},
		{"probe failed", Capabilities{}, errors.New("No such image: kindest/node"), preflight.Warn, []string{"could not probe", "No such image"}, "node image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := SupportCheck{Image: "kindest/node:v1.34.2", probe: func(context.Context) (Capabilities, error) { return tc.caps, tc.err }}
			if c.Name() != "impairment support" {
				t.Errorf("Name = %q", c.Name())
			}
			r := c.Run(context.Background())
			if r.Status != tc.want {
				t.Errorf("status %s, want %s (%s)", r.Status, tc.want, r.Detail)
			}
			for _, d := range tc.detail {
				if !strings.Contains(r.Detail, d) {
					t.Errorf("detail %q lacks %q", r.Detail, d)
				}
			}
			if !strings.Contains(r.Fix, tc.fixContain) {
				t.Errorf("fix %q lacks %q", r.Fix, tc.fixContain)
			}
		})
	}
}
