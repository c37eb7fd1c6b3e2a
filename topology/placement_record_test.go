package topology

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordJSON is hosts.json as `up` writes it (cmd/testbed/hosts.go's
// hostsRecord): the topology, every host's plan with its clusters, the
// shared network and the lab network.
func recordJSON(t *testing.T, topo string, hosts map[string][]string, order ...string) []byte {
	t.Helper()
	type host struct {
		Name     string   `json:"name"`
		Endpoint string   `json:"endpoint"`
		Address  string   `json:"address"`
		Clusters []string `json:"clusters"`
		IPRange  string   `json:"ipRange"`
		Gateway  string   `json:"gateway"`
	}
	rec := struct {
		Topology      string             `json:"topology"`
		Hosts         []host             `json:"hosts"`
		SharedNetwork *SharedNetworkPlan `json:"sharedNetwork"`
		Network       string             `json:"network"`
	}{Topology: topo, Network: "testbed-" + topo,
		SharedNetwork: &SharedNetworkPlan{Name: "testbed-" + topo + "-l2", Subnet: DefaultSharedSubnet, Bridge: "tbl2-x", Device: "tbvx-x", VNI: 7, Port: DefaultVXLANPort, Interface: SharedInterface}}
	for i, name := range order {
		rec.Hosts = append(rec.Hosts, host{Name: name, Endpoint: "ssh://" + name, Address: "10.9.0." + string(rune('1'+i)),
			Clusters: hosts[name], IPRange: "172.29." + string(rune('0'+i)) + ".0/24", Gateway: "172.29." + string(rune('0'+i)) + ".1"})
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestReadPlacement(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file
		want    map[string]string
	}{
		{name: "no file"},
		{name: "what up writes", content: recordJSON(t, "lab", map[string][]string{"a": {"node-01", "node-03"}, "b": {"node-02"}}, "a", "b"),
			want: map[string]string{"node-01": "a", "node-02": "b", "node-03": "a"}},
		{name: "a host with no cluster", content: recordJSON(t, "lab", map[string][]string{"a": {"node-01"}}, "a", "b"),
			want: map[string]string{"node-01": "a"}},
		{name: "corrupt", content: []byte(`{"hosts":[{"name":"a","clusters":["node-01"]}`)},
		{name: "not JSON", content: []byte("hosts: [a]\n")},
		{name: "wrong types", content: []byte(`{"hosts":{"a":["node-01"]}}`)},
		{name: "oversized", content: []byte(`{"hosts":[{"name":"a","clusters":["node-01"]}],"pad":"` + strings.Repeat("x", 1<<20) + `"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.content != nil {
				if err := os.WriteFile(filepath.Join(dir, PlacementFile), tc.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if d := cmp.Diff(tc.want, ReadPlacement(dir)); d != "" {
				t.Errorf("ReadPlacement (-want +got):\n%s", d)
			}
		})
	}
}

const (
	hostsAB = `hosts:
  - {name: a, endpoint: unix:///var/run/docker.sock, address: 10.9.0.1}
  - {name: b, endpoint: ssh://b, address: 10.9.0.2}
`
	hostsABC = hostsAB + `  - {name: c, endpoint: ssh://c, address: 10.9.0.3}
`
)

// TestParseReadsRecordedPlacement: Parse of a lab on several hosts takes
// the placement an earlier up recorded in <state root>/<name>/hosts.json
// (recorded clusters keep their host while it is listed; the rest are
// dealt out), and never for a lab on one host or when the caller gave one.
func TestParseReadsRecordedPlacement(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		yaml   string // after hostsTopology's
		record []byte // written under <root>/lab (nil: none)
		env    func(*Environment)
		want   map[string][]string
	}{
		{name: "no record: round-robin", n: 3, yaml: hostsAB,
			want: map[string][]string{"a": {"node-01", "node-03"}, "b": {"node-02"}}},
		{name: "the record wins over round-robin", n: 3, yaml: hostsAB,
			record: recordJSON(t, "lab", map[string][]string{"a": {"node-01", "node-02"}, "b": {"node-03"}}, "a", "b"),
			want:   map[string][]string{"a": {"node-01", "node-02"}, "b": {"node-03"}}},
		{name: "a new host leaves recorded clusters where they are", n: 3, yaml: hostsABC,
			record: recordJSON(t, "lab", map[string][]string{"a": {"node-01", "node-03"}, "b": {"node-02"}}, "a", "b"),
			want:   map[string][]string{"a": {"node-01", "node-03"}, "b": {"node-02"}, "c": {}}},
		{name: "a host no longer listed is ignored", n: 3, yaml: hostsAB,
			record: recordJSON(t, "lab", map[string][]string{"a": {"node-01"}, "gone": {"node-02", "node-03"}}, "a", "gone"),
			want:   map[string][]string{"a": {"node-01", "node-02"}, "b": {"node-03"}}},
		{name: "an explicit host wins over the record", n: 2, yaml: `hosts:
  - {name: a, endpoint: unix:///var/run/docker.sock, address: 10.9.0.1}
  - {name: b, endpoint: ssh://b, address: 10.9.0.2, clusters: [node-01]}
`, record: recordJSON(t, "lab", map[string][]string{"a": {"node-01"}, "b": {"node-02"}}, "a", "b"),
			want: map[string][]string{"a": {}, "b": {"node-01", "node-02"}}},
		{name: "a corrupt record is ignored", n: 3, yaml: hostsAB, record: []byte(`{"hosts":[{"name":"b","clusters":["node-01"`),
			want: map[string][]string{"a": {"node-01", "node-03"}, "b": {"node-02"}}},
		{name: "the caller's placement wins over the file", n: 2, yaml: hostsAB,
			record: recordJSON(t, "lab", map[string][]string{"a": {"node-01", "node-02"}}, "a", "b"),
			env:    func(e *Environment) { e.Placement = map[string]string{"node-01": "b"} },
			want:   map[string][]string{"a": {"node-02"}, "b": {"node-01"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.record != nil {
				writeRecord(t, filepath.Join(root, "lab"), tc.record)
			}
			env := Environment{StateRoot: root, CPUs: 4}
			if tc.env != nil {
				tc.env(&env)
			}
			if d := cmp.Diff(tc.want, placementOf(t, hostsTopology(tc.n, tc.yaml), env)); d != "" {
				t.Errorf("placement (-want +got):\n%s", d)
			}
		})
	}
}

func writeRecord(t *testing.T, dir string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, PlacementFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// placementOf parses and plans doc and returns every host's clusters.
func placementOf(t *testing.T, doc string, env Environment) map[string][]string {
	t.Helper()
	top, err := Parse("lab.yaml", []byte(doc), WithEnvironment(env))
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
	return got
}

// TestParseRecordedPlacementLocation: the record is read from the lab's
// state directory, under stateDir when the topology sets one, and not at
// all for a lab on one host.
func TestParseRecordedPlacementLocation(t *testing.T) {
	envRoot, ownRoot := t.TempDir(), t.TempDir()
	rec := recordJSON(t, "lab", map[string][]string{"b": {"node-01"}}, "a", "b")
	writeRecord(t, filepath.Join(envRoot, "lab"), rec)
	writeRecord(t, filepath.Join(ownRoot, "lab"), recordJSON(t, "lab", map[string][]string{"a": {"node-02"}, "b": {"node-01"}}, "a", "b"))
	env := Environment{StateRoot: envRoot, CPUs: 4}

	top, err := Parse("lab.yaml", []byte(hostsTopology(2, hostsAB)), WithEnvironment(env))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"node-01": "b"}, top.Environment().Placement); d != "" {
		t.Errorf("placement from the environment's state root (-want +got):\n%s", d)
	}
	own := hostsTopology(2, "stateDir: "+ownRoot+"\n"+hostsAB)
	if d := cmp.Diff(map[string][]string{"a": {"node-02"}, "b": {"node-01"}}, placementOf(t, own, env)); d != "" {
		t.Errorf("placement under the topology's stateDir (-want +got):\n%s", d)
	}
	one, err := Parse("lab.yaml", []byte(hostsTopology(2, "")), WithEnvironment(env))
	if err != nil {
		t.Fatal(err)
	}
	if p := one.Environment().Placement; p != nil {
		t.Errorf("a lab on one host read a placement: %v", p)
	}
}
