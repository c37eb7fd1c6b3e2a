package preflight

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSnoopingCheck(t *testing.T) {
	bridge := func(name string, err error) BridgeLookup {
		return func(context.Context, string) (string, error) { return name, err }
	}
	fsys := fstest.MapFS{
		"sys/class/net/br-0123456789ab/bridge/multicast_snooping": {Data: []byte("0\n")},
		"sys/class/net/br-ffffffffffff/bridge/multicast_snooping": {Data: []byte("1\n")},
	}
	tests := []struct {
		name       string
		lookup     BridgeLookup
		want       bool
		status     Status
		detail     string
		fixContain string
	}{
		{"snooping off as asked", bridge("br-0123456789ab", nil), false, Pass, "multicast_snooping=0 as the topology asks", ""},
		{"snooping left on", bridge("br-ffffffffffff", nil), false, Warn, "multicast_snooping=1, the topology asks for 0", "echo 0 | sudo tee /sys/class/net/br-ffffffffffff/bridge/multicast_snooping"},
		{"network not created yet", bridge("", ErrNetworkAbsent), false, Pass, "not created yet", ""},
		{"bridge not visible", bridge("br-aaaaaaaaaaaa", nil), false, Warn, "not visible from here", "echo 0 | sudo tee"},
		{"engine unreachable", bridge("", errors.New("connection refused")), false, Warn, "connection refused", "Docker engine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := SnoopingCheck{FS: fsys, Lookup: tt.lookup, Network: "testbed-ci", Want: tt.want}.Run(context.Background())
			if r.Status != tt.status || !strings.Contains(r.Detail, tt.detail) || !strings.Contains(r.Fix, tt.fixContain) {
				t.Errorf("Run = %+v, want %s with %q and fix %q", r, tt.status, tt.detail, tt.fixContain)
			}
		})
	}
}
