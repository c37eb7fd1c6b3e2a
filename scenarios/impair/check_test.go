package impair

import (
	"strings"
	"testing"
)

func TestAssess(t *testing.T) {
	for _, tc := range []struct {
		name       string
		caps       Capabilities
		want       Level
		detail     []string
		fixContain string
	}{
		{"this host", Capabilities{Kernel: "6.18.44-fc-v657", NetemErr: "Error: Specified qdisc kind is unknown.", NftEgress: true},
			LossOnly, []string{"kernel 6.18.44-fc-v657", "loss only, with nftables", "Specified qdisc kind is unknown", "delay"}, "modprobe sch_netem"},
		{"netem", Capabilities{Kernel: "6.8.0", Netem: true, NetemSeed: true, NftEgress: true},
			Full, []string{"netem: loss, delay, jitter"}, ""},
		{"netem, no seed", Capabilities{Netem: true}, Full, []string{"seeds are recorded only"}, ""},
		{"nothing", Capabilities{NetemErr: "unknown qdisc", NftErr: "Operation not supported"},
			Unsupported, []string{"no impairment possible", "Operation not supported"}, "CONFIG_NETFILTER_EGRESS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.caps.Assess()
			if r.Level != tc.want {
				t.Errorf("level %d, want %d (%s)", r.Level, tc.want, r.Detail)
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
