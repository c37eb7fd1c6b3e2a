package scenarios

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/internal/yamlfile/fuzzseed"
)

func TestLoadSelftest(t *testing.T) {
	s, err := Load("selftest.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if s.Protocol.Name != PresetReferenceAgent || !s.Protocol.GroundTruth {
		t.Errorf("protocol = %+v", s.Protocol)
	}
	if s.TopologyFile != filepath.Join("..", "topology", "ci-3-nodes.yaml") {
		t.Errorf("topology = %q", s.TopologyFile)
	}
	if len(s.Conditions) != 2 || s.Conditions[1].Impairment.LossPct != 25 || s.Conditions[1].Runs != 10 || s.Conditions[1].Warmup != 1 {
		t.Errorf("conditions = %+v", s.Conditions)
	}
	if s.Phase != PhaseRandom || s.PhaseMax != 5*time.Second || s.Seed != 20260101 || !s.SeedGiven {
		t.Errorf("phase %s max %s seed %d", s.Phase, s.PhaseMax, s.Seed)
	}
	if !s.Measures(MeasureReverse) || s.Measures(MeasureFailureDetection) {
		t.Errorf("measurements = %v", s.Measurements)
	}
	if !s.Conditions[0].Impairment.IsZero() || !s.Conditions[1].Impairment.LossOnly() || s.Conditions[1].Impairment.IsZero() {
		t.Errorf("None/LossOnly wrong")
	}
}

const minimal = `apiVersion: testbed.dev/v1alpha1
kind: Scenario
metadata:
  name: m
topology: t.yaml
protocol:
  preset: network-manager
nodeA: a
conditions:
  - name: c
    impairment: {}
`

func TestLoadDefaults(t *testing.T) {
	s, err := LoadBytes("dir/m.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Conditions[0]
	if c.Runs != DefaultRuns || c.Warmup != DefaultWarmup || c.Target != TargetPeers {
		t.Errorf("condition defaults %+v", c)
	}
	if s.DelayBetweenRuns != 2*time.Second || s.RunTimeout != DefaultRunTimeout || s.Phase != PhaseRandom || s.PhaseMax != 5*time.Second {
		t.Errorf("defaults %+v", s)
	}
	if s.SeedGiven || s.Seed < 0 {
		t.Errorf("seed %d given %v", s.Seed, s.SeedGiven)
	}
	if s.TopologyFile != filepath.Join("dir", "t.yaml") || s.Protocol.IdentityMatch != MatchNodeAddress {
		t.Errorf("topology %q protocol %+v", s.TopologyFile, s.Protocol)
	}
	if len(s.Measurements) != 1 || s.Measurements[0] != MeasureDiscovery {
		t.Errorf("measurements %v", s.Measurements)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string // substrings, each must appear in the error
	}{
		{"wrong kind", strings.Replace(minimal, "kind: Scenario", "kind: Topology", 1), []string{"m.yaml:2:7: kind: kind is \"Topology\""}},
		{"unknown field", minimal + "bogus: 1\n", []string{"m.yaml:12:1", "unknown field \"bogus\""}},
		{"type error", strings.Replace(minimal, "nodeA: a", "nodeA: [a]", 1), []string{"m.yaml:8:"}},
		{"bad duration", minimal + "runTimeout: fast\n", []string{`m.yaml:12:13: runTimeout: invalid duration "fast" (fix: write a duration such as "5s"`}},
		{"syntax", "apiVersion: [\n", []string{"m.yaml:"}},
		{"two docs", minimal + "---\n" + minimal, []string{"more than one YAML document"}},
		{"empty", "", []string{"the file is empty (fix: start from an example such as scenarios/selftest.yaml)"}},
		{"all semantic errors together", `apiVersion: testbed.dev/v1alpha1
kind: Scenario
metadata:
  name: Bad_Name
protocol:
  preset: quic
runs: 0
phase:
  mode: sideways
measurements: [discovery, teleport, groupIsolation]
conditions:
  - name: x
    target: everyone
    impairment:
      loss: 120
      jitter: 5ms
      rate: fast
  - name: x
    impairment: {}
`, []string{
			"m.yaml:4:3: metadata.name",
			"m.yaml:6:3: protocol.preset: unknown protocol preset \"quic\"",
			"topology is required",
			"nodeA is required",
			"m.yaml:7:1: runs: runs is 0",
			"m.yaml:9:3: phase.mode",
			"m.yaml:10:27: measurements[1]: unknown measurement \"teleport\"",
			"groupIsolation is not implemented",
			"m.yaml:13:5: conditions[0].target",
			"m.yaml:15:7: conditions[0].impairment.loss",
			"jitter needs a delay",
			"conditions[0].impairment.rate",
			"conditions[1].name: condition name \"x\" is used twice",
		}},
		{"custom protocol incomplete", strings.Replace(minimal, "preset: network-manager", "preset: custom\n  custom:\n    workload: {kind: StatefulSet, name: a, namespace: b}\n    peerResource: {resource: peers}\n    identityField: \"spec..x\"\n    identityMatch: guess", 1),
			[]string{"workload kind \"StatefulSet\"", "peerResource.version is required", "identityField", "identityMatch \"guess\""}},
		{"custom on preset", strings.Replace(minimal, "preset: network-manager", "preset: network-manager\n  custom: {identityField: a}", 1), []string{"protocol.custom applies only to preset custom"}},
		{"timeout below interval", minimal + "runTimeout: 1s\n", []string{"shorter than the announce interval"}},
		{"aligned with max", minimal + "phase: {mode: aligned, max: 1s}\n", []string{"phase.max applies only"}},
		{"random with cycle", minimal + "phase: {mode: random, cycle: 7s}\n", []string{"phase.cycle applies only to phase.mode aligned"}},
		{"aligned with zero cycle", minimal + "phase: {mode: fixed-cycle, cycle: 0s}\n", []string{"phase.cycle must be positive"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBytes("m.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			if _, ok := yamlfile.AsErrorList(err); !ok {
				t.Errorf("error %T is not a yamlfile.ErrorList", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadPhase(t *testing.T) {
	cases := []struct {
		name, phase string
		mode        string
		cycle, max  time.Duration
	}{
		{"default", "", PhaseRandom, 0, 5 * time.Second},
		{"random max", "phase: {mode: random, max: 2s}\n", PhaseRandom, 0, 2 * time.Second},
		{"aligned derived cycle", "phase: {mode: aligned}\n", PhaseAligned, 0, 0},
		{"aligned cycle", "phase: {mode: aligned, cycle: 7s}\n", PhaseAligned, 7 * time.Second, 0},
		{"fixed-cycle alias", "phase: {mode: fixed-cycle, cycle: 6500ms}\n", PhaseAligned, 6500 * time.Millisecond, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadBytes("m.yaml", []byte(minimal+tc.phase))
			if err != nil {
				t.Fatal(err)
			}
			if s.Phase != tc.mode || s.PhaseCycle != tc.cycle || s.PhaseMax != tc.max {
				t.Errorf("phase %q cycle %s max %s, want %q %s %s", s.Phase, s.PhaseCycle, s.PhaseMax, tc.mode, tc.cycle, tc.max)
			}
		})
	}
}

func TestLoadCustomProtocol(t *testing.T) {
	doc := strings.Replace(minimal, "preset: network-manager", `preset: custom
  announceInterval: 2s
  custom:
    workload: {kind: Deployment, name: disc, namespace: lab}
    peerResource: {group: example.dev, version: v1, resource: neighbours}
    identityField: status.peer.name
    identityMatch: clusterName`, 1)
	s, err := LoadBytes("m.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Protocol
	if p.WorkloadKind != WorkloadDeployment || p.PeerNamespace != "lab" || strings.Join(p.IdentityPath, "/") != "status/peer/name" || p.AnnounceInterval != 2*time.Second || s.PhaseMax != 2*time.Second {
		t.Errorf("protocol %+v", p)
	}
}

func FuzzLoadScenario(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("apiVersion: testbed.dev/v1alpha1\nkind: Scenario\nconditions: [{name: a, impairment: {loss: 5}}]\n"))
	f.Add([]byte("a: [1, {b: &x c}, *x]\n"))
	for _, s := range fuzzseed.Seeds(minimal) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := LoadBytes("f.yaml", data)
		if err == nil && (s == nil || len(s.Conditions) == 0) {
			t.Fatalf("nil error but scenario %+v", s)
		}
		if err != nil {
			if _, ok := yamlfile.AsErrorList(err); !ok {
				t.Fatalf("error %T not located: %v", err, err)
			}
		}
	})
}

// TestLoadStudyScenarios: the shipped reproduction of the reference
// study's 2-node experiment, fixed cycle and random, on one lab.
func TestLoadStudyScenarios(t *testing.T) {
	for _, tc := range []struct{ file, phase string }{{"study-2-nodes.yaml", PhaseAligned}, {"study-2-nodes-random.yaml", PhaseRandom}} {
		s, err := Load(tc.file)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if s.Phase != tc.phase || s.Reference == nil || s.Reference.FirstPeer != 2968*time.Millisecond || s.Conditions[0].Runs != 100 ||
			s.Protocol.Name != PresetNetworkManager || s.TopologyFile != filepath.Join("..", "topology", "2-nodes.yaml") {
			t.Errorf("%s: phase %q reference %+v runs %d protocol %s topology %s", tc.file, s.Phase, s.Reference, s.Conditions[0].Runs, s.Protocol.Name, s.TopologyFile)
		}
	}
	doc := minimal + "reference: {source: \"\", firstPeer: 0s}\n"
	_, err := LoadBytes("m.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "reference.source must name") || !strings.Contains(err.Error(), "reference.firstPeer must be a positive") {
		t.Errorf("bad reference: %v", err)
	}
}

func TestLoadAnnounceGroup(t *testing.T) {
	cases := []struct {
		name, line string
		want       string // "" with wantErr: an error naming the key
		wantErr    bool
	}{
		{"preset default", "", "239.11.11.1:4000", false},
		{"override", "  announceGroup: 239.1.2.3:5000\n", "239.1.2.3:5000", false},
		{"none turns capture off", "  announceGroup: none\n", "invalid AddrPort", false},
		{"unicast", "  announceGroup: 10.0.0.1:4000\n", "", true},
		{"link-local multicast", "  announceGroup: 224.0.0.251:5353\n", "", true},
		{"no port", "  announceGroup: 239.1.2.3\n", "", true},
		{"port zero", "  announceGroup: 239.1.2.3:0\n", "", true},
		{"IPv6", "  announceGroup: \"[ff02::1]:4000\"\n", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(minimal, "preset: network-manager\n", "preset: network-manager\n"+tc.line, 1)
			s, err := LoadBytes("m.yaml", []byte(doc))
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "announceGroup") || !strings.Contains(err.Error(), "m.yaml:") {
					t.Fatalf("error %v, want a located announceGroup error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Protocol.AnnounceGroup.String(); got != tc.want {
				t.Errorf("group %s, want %s", got, tc.want)
			}
		})
	}
}

// TestLoadRunCounts: a run count is refused once, at the field that has it,
// with the limit: a condition that inherits the scenario's runs does not
// repeat its error, and a condition's own count in exponent form says so.
func TestLoadRunCounts(t *testing.T) {
	tests := []struct {
		name, extra, conds string
		want               []string // every error, in order
	}{
		{"scenario runs, inherited", "runs: 1000000000\n", "  - name: c\n    impairment: {}\n",
			[]string{"m.yaml:12:1: runs: runs is 1000000000, must be between 1 and 100000 (fix: e.g. runs: 100 (the reference study's count))"}},
		{"condition runs in exponent form", "", "  - name: c\n    runs: 2e5\n    impairment: {}\n",
			[]string{"m.yaml:11:5: conditions[0].runs: runs is 2e5, a number in exponent form (200000), not an integer written in digits; it must be between 1 and 100000 (fix: e.g. runs: 100 (the reference study's count))"}},
		{"condition runs too large", "", "  - name: c\n    runs: 100001\n    impairment: {}\n",
			[]string{"m.yaml:11:5: conditions[0].runs: runs is 100001, must be between 1 and 100000 (fix: e.g. runs: 100 (the reference study's count))"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(minimal, "  - name: c\n    impairment: {}\n", tt.conds, 1) + tt.extra
			_, err := LoadBytes("m.yaml", []byte(doc))
			l, _ := yamlfile.AsErrorList(err)
			var got []string
			for _, e := range l {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
