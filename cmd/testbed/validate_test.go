package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCLI runs the root command in-process and returns stdout, stderr and
// the exit code main would use.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCLIWith(t, nil, args...)
}

// runCLIWith lets a test adjust the command tree (e.g. inject fakes) first.
func runCLIWith(t *testing.T, adjust func(*cobra.Command, IOStreams), args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := NewRootCommand(streams)
	if adjust != nil {
		adjust(cmd, streams)
	}
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err != nil && !errors.Is(err, errSilent) {
		errOut.WriteString("testbed: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), exitCodeOf(err, false)
}

// topologyDir is the repository's topology directory, seen from cmd/testbed.
const topologyDir = "../../topology"

func TestValidateCommand(t *testing.T) {
	t.Setenv("TESTBED_STATE_DIR", t.TempDir())
	td := filepath.Join(topologyDir, "testdata")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"shipped files", []string{"validate", topologyDir + "/2-nodes.yaml", topologyDir + "/24-nodes.yaml", topologyDir + "/ci-3-nodes.yaml"}, 0,
			[]string{"2-nodes.yaml: valid topology (2 clusters)", "24-nodes.yaml: valid topology (24 clusters)", "ci-3-nodes.yaml: valid topology (3 clusters)"}, nil},
		{"unknown keys", []string{"validate", td + "/invalid-unknown-fields.yaml"}, 2, nil,
			[]string{`invalid-unknown-fields.yaml:7:3: clusters.cuont: unknown field "cuont" (fix: did you mean "count"?`,
				`invalid-unknown-fields.yaml:9:1: netwrok: unknown field "netwrok" (fix: did you mean "network"?`}},
		{"bad CIDRs", []string{"validate", td + "/invalid-bad-cidrs.yaml"}, 2, nil,
			[]string{`invalid-bad-cidrs.yaml:9:3: network.subnet: network.subnet "172.30.0.0/33" is not an IPv4 CIDR (fix: write it like 172.30.0.0/16)`,
				`invalid-bad-cidrs.yaml:12:3: macvlan.subnet: macvlan.subnet "10.100.0.1/16" has host bits set (fix: use the network address 10.100.0.0/16)`}},
		{"duplicates", []string{"validate", td + "/invalid-duplicates.yaml"}, 2, nil,
			[]string{`invalid-duplicates.yaml:9:7: clusters.list[2]: duplicate cluster name "node-01"`}},
		{"300 clusters in a /24", []string{"validate", td + "/invalid-300-clusters-slash24.yaml"}, 2, nil,
			[]string{"clusters.count: count 300 is out of range (fix: use 1..256 clusters)",
				"network.subnet: subnet 172.30.0.0/24 has 253 usable addresses, fewer than the 300 nodes plus the gateway (fix: use a larger subnet, e.g. 172.30.0.0/23)",
				"macvlan.subnet: macvlan pool 10.100.0.0/24 holds 1 /24 subnets, fewer than the 300 clusters"}},
		{"tabs", []string{"validate", td + "/invalid-tabs.yaml"}, 2, nil,
			[]string{`invalid-tabs.yaml:6:1: found character '\t' that cannot start any token (fix: indent with spaces`}},
		{"truncated", []string{"validate", td + "/invalid-truncated.yaml"}, 2, nil,
			[]string{"invalid-truncated.yaml:7:45: could not find end character of double-quoted text (fix: the file looks truncated"}},
		{"binary garbage", []string{"validate", td + "/invalid-binary.yaml"}, 2, nil,
			[]string{"invalid-binary.yaml:1:1: binary data (byte 0x1f at offset 0): this is not a YAML text file"}},
		{"empty", []string{"validate", td + "/invalid-empty.yaml"}, 2, nil,
			[]string{"invalid-empty.yaml:1:1: the file is empty"}},
		{"missing file", []string{"validate", "no/such.yaml"}, 2, nil,
			[]string{"no/such.yaml: cannot read the topology file"}},
		{"mixed: every file reported", []string{"validate", topologyDir + "/2-nodes.yaml", td + "/invalid-empty.yaml", td + "/invalid-tabs.yaml"}, 2,
			[]string{"2-nodes.yaml: valid"}, []string{"invalid-empty.yaml:1:1", "invalid-tabs.yaml:6:1", "2 of 3 files are invalid"}},
		{"shipped scenarios and sweeps", []string{"validate", "../../scenarios/selftest.yaml", "../../scenarios/24-nodes-loss.yaml", "../../scenarios/sweep/ci-2x2.yaml", "../../scenarios/sweep/nightly-24.yaml"}, 0,
			[]string{"selftest.yaml: valid scenario", "24-nodes-loss.yaml: valid scenario", "ci-2x2.yaml: valid sweep", "nightly-24.yaml: valid sweep"}, nil},
		{"scenario errors are located", []string{"validate", "testdata/invalid-scenario.yaml"}, 2, nil,
			[]string{"invalid-scenario.yaml:9:1: ", `"runz"`, "1 of 1 files are invalid"}},
		{"no args", []string{"validate"}, 2, nil, []string{"requires at least 1 arg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	stdout, _, code := runCLI(t, "validate", "-o", "json", topologyDir+"/ci-3-nodes.yaml", topologyDir+"/testdata/invalid-names.yaml")
	if code != exitBadInput {
		t.Fatalf("exit code %d", code)
	}
	var res []validateResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if len(res) != 2 || !res[0].Valid || res[0].Clusters != 3 || res[1].Valid || len(res[1].Errors) != 4 {
		t.Fatalf("results %+v", res)
	}
	if e := res[1].Errors[0]; e.Line != 4 || e.Column != 3 || e.Path != "metadata.name" || e.Fix == "" {
		t.Errorf("first error %+v", e)
	}
}

func TestValidateUserFile(t *testing.T) {
	// A new user's file with several mistakes at once: all are reported.
	f := filepath.Join(t.TempDir(), "lab.yaml")
	src := "apiVersion: testbed.dev/v1alpha1\nkind: Topology\nmetadata:\n  name: Lab\nclusters:\n  count: 3\n  nodeImage: kindest/node:latest\nnetwork:\n  subnet: 10.244.0.0/16\n"
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, "validate", f)
	if code != exitBadInput {
		t.Fatalf("exit %d", code)
	}
	for _, w := range []string{":4:3: metadata.name:", ":7:3: clusters.nodeImage: image \"kindest/node:latest\" is not pinned", ":9:3: network.subnet: the Docker network 10.244.0.0/16 overlaps"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
}

// TestValidateReferences: validate follows a scenario to its topology and
// a sweep to its template; what they point at must exist and agree, and
// every error is located in the file that has it.
func TestValidateReferences(t *testing.T) {
	dir := t.TempDir()
	topo, err := filepath.Abs(filepath.Join(topologyDir, "ci-3-nodes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	scenario := func(topology, nodeA, extra string) string {
		return "apiVersion: testbed.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: s\ntopology: " + topology +
			"\nprotocol:\n  preset: reference-agent\nnodeA: " + nodeA + "\n" + extra +
			"conditions:\n  - name: loss-0\n    impairment: {loss: 0}\n"
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("bad-topology.yaml", "apiVersion: testbed.dev/v1alpha1\nkind: Topology\nmetadata:\n  name: Bad_Name\n")
	sweepOf := func(template string) string {
		return "apiVersion: testbed.dev/v1alpha1\nkind: Sweep\nmetadata:\n  name: w\nscenario: " + template +
			"\nclusters: [2, 3]\nconditions:\n  - {name: loss-0, loss: 0}\n"
	}
	cases := []struct {
		name, file string
		want       []string
	}{
		{"good", write("good.yaml", scenario(topo, "ci-01", "")), nil},
		{"nodeA not in topology", write("node.yaml", scenario(topo, "node-07", "")),
			[]string{"node.yaml:8:1: nodeA: nodeA \"node-07\" is not a cluster of topology", "use one of its clusters: ci-01, ci-02, ci-03"}},
		{"missing topology", write("missing.yaml", scenario("nowhere.yaml", "ci-01", "")),
			[]string{"missing.yaml:5:1: topology: topology " + filepath.Join(dir, "nowhere.yaml") + " is not usable", "cannot read"}},
		{"invalid topology", write("invalid.yaml", scenario("bad-topology.yaml", "ci-01", "")),
			[]string{"invalid.yaml:5:1: topology: topology", "bad-topology.yaml:4:3: metadata.name"}},
		{"runs 10^9", write("runs.yaml", scenario(topo, "ci-01", "runs: 1000000000\n")), []string{"runs.yaml:9:1: runs: runs is 1000000000, must be between 1 and 100000"}},
		{"runs 1e9", write("runs-exp.yaml", scenario(topo, "ci-01", "runs: 1e9\n")),
			[]string{"runs-exp.yaml:9:1: runs: runs is 1e9, a number in exponent form (1000000000), not an integer written in digits; it must be between 1 and 100000"}},
		{"long condition name", write("long.yaml", strings.Replace(scenario(topo, "ci-01", ""), "name: loss-0", "name: "+strings.Repeat("a", 247), 1)),
			[]string{"is not a DNS label of at most 63 characters"}},
		{"sweep template missing", write("sweep.yaml", sweepOf("gone.yaml")), []string{"sweep.yaml:5:1: scenario: template scenario " + filepath.Join(dir, "gone.yaml") + " is not usable"}},
		{"sweep template nodeA wrong", write("sweep2.yaml", sweepOf("node.yaml")), []string{"node.yaml:8:1: nodeA: nodeA \"node-07\""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "validate", tc.file)
			if (code != 0) != (tc.want != nil) || (tc.want != nil && code != exitBadInput) {
				t.Fatalf("exit %d:\n%s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("output lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// TestValidateUnboundedFile: a file that never ends (/dev/zero) is refused
// at the size limit, not read into memory.
func TestValidateUnboundedFile(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero on this system")
	}
	_, errOut, code := runCLI(t, "validate", "/dev/zero")
	if code != exitBadInput || !strings.Contains(errOut, "/dev/zero:1:1: the file is larger than the limit of 1048576 bytes") {
		t.Errorf("exit %d:\n%s", code, errOut)
	}
}

// TestValidateDeepChartPaths: --deep checks every local chart of the
// topology a file is or uses, resolved as up resolves it (against the
// current directory), located at the chart's field in the topology.
func TestValidateDeepChartPaths(t *testing.T) {
	t.Setenv("TESTBED_STATE_DIR", t.TempDir())
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	agent, err := filepath.Abs("../../charts/reference-agent")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty-chart"), 0o755); err != nil {
		t.Fatal(err)
	}
	topo := func(name, fluidos, chart string) string {
		return write(name, "apiVersion: testbed.dev/v1alpha1\nkind: Topology\nmetadata:\n  name: lab\nclusters:\n  count: 2\n  namePattern: ci-%02d\nfluidos:\n"+
			fluidos+"extraCharts:\n  - name: extra\n    chart: "+chart+"\n")
	}
	scenario := func(name, topology string) string {
		return write(name, "apiVersion: testbed.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: s\ntopology: "+topology+
			"\nprotocol:\n  preset: reference-agent\nnodeA: ci-01\nconditions:\n  - name: loss-0\n    impairment: {loss: 0}\n")
	}
	good := topo("good.yaml", "  enabled: false\n", agent)
	missing := topo("missing.yaml", "  enabled: false\n", "charts/nowhere")
	missingAt := missing + ":12:5: extraCharts[0].chart: local chart charts/nowhere does not exist (resolved to "
	sweepOf := func(name, template string) string {
		return write(name, "apiVersion: testbed.dev/v1alpha1\nkind: Sweep\nmetadata:\n  name: w\nscenario: "+template+
			"\nclusters: [2]\nconditions:\n  - {name: loss-0, loss: 0}\n")
	}
	tests := []struct {
		name string
		args []string
		want string // "" valid
	}{
		{"a real chart directory", []string{good}, ""},
		{"missing chart, without --deep", []string{missing}, "-"},
		{"missing extra chart", []string{missing}, missingAt},
		{"missing local FLUIDOS chart", []string{topo("fluidos.yaml", "  chart: ./no-fluidos\n", agent)},
			"fluidos.yaml:9:3: fluidos.chart: local chart ./no-fluidos does not exist"},
		{"a directory without Chart.yaml", []string{topo("empty.yaml", "  enabled: false\n", filepath.Join(dir, "empty-chart"))}, "is a directory without a Chart.yaml"},
		{"remote charts are not paths", []string{topo("remote.yaml", "  enabled: true\n", "oci://ghcr.io/org/charts/metrics\n    version: 1.0.0")}, ""},
		{"a scenario's topology", []string{scenario("scenario.yaml", missing)}, missingAt},
		{"a sweep's template's topology", []string{sweepOf("sweep.yaml", scenario("template.yaml", missing))}, missingAt},
		{"a scenario on a good topology", []string{scenario("fine.yaml", good)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"validate", "--deep"}, tc.args...)
			if tc.want == "-" {
				args = append([]string{"validate"}, tc.args...)
			}
			_, errOut, code := runCLI(t, args...)
			if tc.want == "" || tc.want == "-" {
				if code != 0 {
					t.Fatalf("exit %d:\n%s", code, errOut)
				}
				return
			}
			if code != exitBadInput || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want 2 and %q:\n%s", code, tc.want, errOut)
			}
		})
	}
	// The shipped CI lab's charts/… path is relative to the repository root.
	if _, errOut, code := runCLI(t, "validate", "--deep", filepath.Join(topologyDir, "ci-3-nodes.yaml")); code != exitBadInput ||
		!strings.Contains(errOut, "local chart charts/reference-agent does not exist") {
		t.Errorf("from cmd/testbed: exit %d:\n%s", code, errOut)
	}
	t.Chdir("../..")
	if _, errOut, code := runCLI(t, "validate", "--deep", "topology/ci-3-nodes.yaml", "scenarios/selftest.yaml", "scenarios/sweep/ci-2x2.yaml"); code != 0 {
		t.Errorf("from the repository root: exit %d:\n%s", code, errOut)
	}
}
