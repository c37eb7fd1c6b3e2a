package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestAgentFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantErr    string
		firstDelay time.Duration
		group      string
		groups     []string
	}{
		{name: "defaults", args: []string{"--cluster=ci-01"}, firstDelay: 5 * time.Second, group: "239.11.11.2:4001", groups: []string{"default"}},
		{name: "immediate, tenants, other group", args: []string{"--cluster=ci-01", "--first-delay=0s", "--group=a", "--group=b", "--group-address=239.1.2.3", "--port=5000", "--interval=1s"},
			firstDelay: 0, group: "239.1.2.3:5000", groups: []string{"a", "b"}},
		{name: "unicast group address", args: []string{"--cluster=ci-01", "--group-address=10.0.0.1"}, wantErr: "not an IPv4 multicast address"},
		{name: "negative first delay", args: []string{"--cluster=ci-01", "--first-delay=-1s"}, wantErr: "--first-delay"},
		{name: "bad port", args: []string{"--cluster=ci-01", "--port=70000"}, wantErr: "out of range"},
		{name: "bad log level", args: []string{"--cluster=ci-01", "--log-level=loud"}, wantErr: "--log-level"},
		{name: "zero interval", args: []string{"--cluster=ci-01", "--interval=0s"}, wantErr: "must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &agentFlags{}
			fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
			f.bind(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			o, err := f.options(IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.FirstDelay != tc.firstDelay || o.GroupAddress != tc.group || strings.Join(o.Groups, ",") != strings.Join(tc.groups, ",") || o.Cluster != "ci-01" {
				t.Fatalf("options %+v", o)
			}
		})
	}
}
