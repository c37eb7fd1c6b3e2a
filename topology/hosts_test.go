package topology

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hostsTopology is a lab of n clusters on the given hosts section.
func hostsTopology(n int, hosts string) string {
	return fmt.Sprintf(`apiVersion: testbed.dev/v1alpha1
kind: Topology
metadata:
  name: lab
clusters:
  count: %d
fluidos:
  enabled: false
%s`, n, hosts)
}

func TestPlacement(t *testing.T) {
	two := `hosts:
  - {name: a, endpoint: unix:///var/run/docker.sock, address: 10.9.0.1}
  - {name: b, endpoint: ssh://b, address: 10.9.0.2}
`
	tests := []struct {
		name  string
		n     int
		hosts string
		env   Environment
		want  map[string][]string
	}{
		{"round-robin deals clusters out in hosts order", 5, two, testEnv,
			map[string][]string{"a": {"node-01", "node-03", "node-05"}, "b": {"node-02", "node-04"}}},
		{"an explicit host wins, the rest are dealt out", 4, `hosts:
  - {name: a, endpoint: unix:///var/run/docker.sock, address: 10.9.0.1}
  - {name: b, endpoint: ssh://b, address: 10.9.0.2, clusters: [node-01, node-02]}
`, testEnv, map[string][]string{"a": {"node-03"}, "b": {"node-01", "node-02", "node-04"}}},
		{"capacity fills in proportion", 6, `placement: capacity
hosts:
  - {name: a, endpoint: unix:///var/run/docker.sock, address: 10.9.0.1, capacity: 4}
  - {name: b, endpoint: ssh://b, address: 10.9.0.2, capacity: 2}
`, testEnv, map[string][]string{"a": {"node-01", "node-02", "node-04", "node-05"}, "b": {"node-03", "node-06"}}},
		{"capacity from the environment", 3, "placement: capacity\n" + two,
			Environment{StateRoot: "/state", CPUs: 4, HostCapacity: map[string]int{"a": 10, "b": 1}},
			map[string][]string{"a": {"node-01", "node-02", "node-03"}, "b": {}}},
		{"a recorded placement keeps its host", 4, two,
			Environment{StateRoot: "/state", CPUs: 4, Placement: map[string]string{"node-01": "b", "node-02": "gone"}},
			map[string][]string{"a": {"node-02", "node-04"}, "b": {"node-01", "node-03"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			top, err := Parse("lab.yaml", []byte(hostsTopology(tc.n, tc.hosts)), WithEnvironment(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			p, err := top.Plan()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, h := range p.Hosts {
				got[h.Name] = h.Clusters
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("placement (-want +got):\n%s", d)
			}
			for _, c := range p.Clusters {
				h, ok := p.Host(c.Host)
				if !ok || !contains(h.Clusters, c.Name) || c.APIServerAddress != h.Address || c.APIServerPort != DefaultAPIPort+c.Index-1 {
					t.Errorf("cluster %s: host %q, API %s:%d, inconsistent with %+v", c.Name, c.Host, c.APIServerAddress, c.APIServerPort, h)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestPlanHostsErrors(t *testing.T) {
	tests := []struct {
		name, hosts, want string
	}{
		{"capacity unknown", `placement: capacity
hosts:
  - {name: a, endpoint: unix:///var/run/docker.sock, address: 10.9.0.1, capacity: 3}
  - {name: b, endpoint: ssh://b, address: 10.9.0.2}
`, "lab.yaml:12:5: hosts[1]: placement capacity: the capacity of host b is unknown"},
		{"ports beyond 65535", `hosts:
  - {name: a, endpoint: unix:///var/run/docker.sock, address: 10.9.0.1, apiPort: 65535}
`, "API port 65536 of cluster node-02 is beyond 65535"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			top, err := Parse("lab.yaml", []byte(hostsTopology(2, tc.hosts)), WithEnvironment(testEnv))
			if err != nil {
				t.Fatal(err)
			}
			_, err = top.Plan()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Plan error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestOneHostPlanUnchanged(t *testing.T) {
	top, err := Parse("lab.yaml", []byte(hostsTopology(2, "")), WithEnvironment(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	p, err := top.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if p.MultiHost() || p.SharedNetwork != nil || p.Placement != "" || p.Macvlan.Master != DefaultMacvlanMaster {
		t.Errorf("a lab without hosts must plan as before: %+v %+v %q %q", p.Hosts, p.SharedNetwork, p.Placement, p.Macvlan.Master)
	}
	for _, c := range p.Clusters {
		if c.Host != "" || c.APIServerAddress != "" || c.APIServerPort != 0 {
			t.Errorf("cluster %s has host fields on one host: %+v", c.Name, c)
		}
	}
}

func TestEndpointProblem(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"default", true}, {"lab-b", true}, {"unix:///var/run/docker.sock", true}, {"tcp://10.0.0.2:2376", true},
		{"ssh://user@host", true}, {"ssh://host:2222", true}, {"", false}, {"tcp://10.0.0.2", false},
		{"unix://rel", false}, {"http://x", false}, {"ssh://", false}, {"two words", false}, {strings.Repeat("a", 101), false},
	} {
		if got := EndpointProblem(tc.in) == ""; got != tc.ok {
			t.Errorf("EndpointProblem(%q) ok=%v, want %v (%s)", tc.in, got, tc.ok, EndpointProblem(tc.in))
		}
	}
}
