package sweep

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/internal/yamlfile/fuzzseed"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/topology"
)

func TestParseValid(t *testing.T) {
	s, err := Load("testdata/sweep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "mini" || s.Strategy != StrategySubset || s.Teardown {
		t.Errorf("name/strategy/teardown = %q %q %v", s.Name, s.Strategy, s.Teardown)
	}
	if !reflect.DeepEqual(s.Clusters, []int{2, 3}) {
		t.Errorf("clusters = %v, want sorted [2 3]", s.Clusters)
	}
	if len(s.Conditions) != 2 || s.Conditions[0].Name != "loss-0" || s.Conditions[1].Name != "loss-20" ||
		s.Conditions[1].Target != "peers" || *s.Conditions[1].Seed != 7 {
		t.Errorf("conditions = %+v", s.Conditions)
	}
	if s.ScenarioFile != filepath.Join("testdata", "template.yaml") || s.Output != filepath.Join("testdata", "results", "sweep-mini") {
		t.Errorf("paths: scenario %q output %q", s.ScenarioFile, s.Output)
	}
	if *s.Runs != 5 || *s.Warmup != 0 || *s.Seed != 42 || s.Max() != 3 {
		t.Errorf("runs/warmup/seed/max = %d %d %d %d", *s.Runs, *s.Warmup, *s.Seed, s.Max())
	}
}

func TestParseInvalid(t *testing.T) {
	const head = "apiVersion: testbed.dev/v1alpha1\nkind: Sweep\n"
	tests := []struct {
		name string
		doc  string
		want []string // substrings, each with its line:col
	}{
		{"empty", "", []string{"x.yaml:1:1", "empty"}},
		{"wrong kind", "apiVersion: testbed.dev/v1alpha1\nkind: Scenario\n", []string{"x.yaml:2:", "Sweep"}},
		{"unknown field and typo", head + "metadata: {name: a}\nscenario: s.yaml\nclusters: [2]\nconditions: [{loss: 1}]\nstrategyy: subset\n",
			[]string{"x.yaml:7:1", `unknown field "strategyy"`}},
		{"everything wrong at once", head + "metadata: {name: Bad_Name}\nclusters: [1, 3, 3]\nconditions:\n  - loss: 120\n  - {loss: 5, target: all}\n  - {name: loss-5, loss: 5}\nprotocols: [nm, reference-agent, reference-agent]\nruns: 0\nwarmup: -1\nstrategy: fast\n",
			[]string{
				"x.yaml:3:12: metadata.name",
				"x.yaml:1:1: scenario: scenario (the template scenario file) is required",
				"x.yaml:4:12: clusters[0]: cluster count is 1, must be between 2 and 256 (fix: use 2..256",
				"x.yaml:4:18: clusters[2]: cluster count 3 is listed twice",
				"x.yaml:6:5: conditions[0].loss: loss 120 % is out of range",
				"conditions[1].target: unknown target \"all\"",
				"conditions[2]: condition name \"loss-5\" is used twice",
				"protocols[0]: unknown protocol preset \"nm\"",
				"protocols[2]: protocol \"reference-agent\" is listed twice",
				"x.yaml:10:1: runs: runs is 0, must be between 1 and 100000",
				"x.yaml:11:1: warmup",
				"x.yaml:12:1: strategy: unknown strategy \"fast\"",
			}},
		{"wrong types", head + "metadata: {name: a}\nscenario: s.yaml\nclusters: 3\nconditions: [{loss: high}]\nteardown: yes please\n",
			[]string{"x.yaml:5:11: clusters: expected a list", "conditions[0].loss: expected a number", "teardown: expected true or false"}},
		{"runs and warm-up 1e9", head + "metadata: {name: a}\nscenario: s.yaml\nclusters: [2]\nconditions: [{loss: 1}]\nruns: 1000000000\nwarmup: 1000000000\n",
			[]string{"x.yaml:7:1: runs: runs is 1000000000, must be between 1 and 100000", "x.yaml:8:1: warmup: warmup is 1000000000, must be between 0 and 100000"}},
		{"missing lists", head + "metadata: {name: a}\nscenario: s.yaml\n",
			[]string{"clusters: clusters (the cluster counts) is required", "conditions: conditions is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if _, ok := topology.AsErrorList(err); !ok {
				t.Fatalf("not an ErrorList: %T %v", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// FuzzParse: no input panics the loader, and every rejection is a located
// ErrorList.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/sweep.yaml"); err == nil {
		f.Add(b)
		for _, s := range fuzzseed.Seeds(string(b)) {
			f.Add(s)
		}
	}
	f.Add([]byte("apiVersion: testbed.dev/v1alpha1\nkind: Sweep\nmetadata: &a {name: x}\nclusters: *a\n"))
	f.Add([]byte("apiVersion: testbed.dev/v1alpha1\nkind: Sweep\nmetadata: {name: x}\nscenario: s\nclusters: [2]\nconditions: [{loss: .nan}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			list, ok := topology.AsErrorList(err)
			if !ok || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
			}
			for _, e := range list {
				if e.Line < 1 || e.Column < 1 {
					t.Fatalf("unlocated error: %#v", e)
				}
			}
			return
		}
		if len(s.Clusters) == 0 || len(s.Conditions) == 0 || s.Max() < 2 {
			t.Fatalf("accepted sweep without a matrix: %+v", s)
		}
	})
}

// TestShippedSweeps: every shipped sweep loads and every one of its cells
// derives a valid scenario on its topology.
func TestShippedSweeps(t *testing.T) {
	for _, f := range []string{"ci-2x2.yaml", "nightly-24.yaml"} {
		t.Run(f, func(t *testing.T) {
			s, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			tmpl, err := loadTemplate(s)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := LoadPlan(tmpl.topology)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Clusters) < s.Max() {
				t.Fatalf("topology %s has %d clusters, sweep needs %d", tmpl.topology, len(plan.Clusters), s.Max())
			}
			for _, c := range Matrix(s, tmpl.protocol) {
				cl := CellClusters(plan, c.Clusters)
				_, sc, err := CellScenario(s, tmpl.file, tmpl.raw, c, cl, tmpl.topology, filepath.Join(t.TempDir(), "s.yaml"), 1)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(cl, sc.NodeA) || sc.Protocol.Name != c.Protocol || len(sc.Conditions) != len(s.Conditions) {
					t.Errorf("cell %s: node A %s protocol %s", c, sc.NodeA, sc.Protocol.Name)
				}
			}
		})
	}
}

// TestRunCountsAsAScenario: runs and warmup too large, in exponent form or
// beyond any integer are refused at their line with the limit, and a sweep
// says it exactly as a scenario does (runs: 1e9 read "expected an integer,
// got a string", and the two loaders worded the range apart).
func TestRunCountsAsAScenario(t *testing.T) {
	const head = "apiVersion: testbed.dev/v1alpha1\n"
	sweepDoc := head + "kind: Sweep\nmetadata: {name: a}\nscenario: s.yaml\nclusters: [2]\nconditions: [{loss: 1}]\nteardown: false\n"
	scenarioDoc := head + "kind: Scenario\nmetadata: {name: a}\ntopology: t.yaml\nprotocol: {preset: reference-agent}\nnodeA: a\nconditions: [{name: c}]\n"
	tests := []struct {
		field, value, want string
	}{
		{"runs", "1e9", "runs is 1e9, a number in exponent form (1000000000), not an integer written in digits; it must be between 1 and 100000"},
		{"runs", "1000000000", "runs is 1000000000, must be between 1 and 100000"},
		{"runs", "99999999999999999999", "runs is 99999999999999999999, must be between 1 and 100000"},
		{"runs", "0", "runs is 0, must be between 1 and 100000"},
		{"warmup", "1e9", "warmup is 1e9, a number in exponent form (1000000000), not an integer written in digits; it must be between 0 and 100000"},
		{"warmup", "-1", "warmup is -1, must be between 0 and 100000"},
	}
	for _, tc := range tests {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			line := tc.field + ": " + tc.value + "\n"
			_, serr := scenarios.LoadBytes("x.yaml", []byte(scenarioDoc+line))
			_, werr := Parse("x.yaml", []byte(sweepDoc+line))
			want := "x.yaml:8:1: " + tc.field + ": " + tc.want + " (fix: e.g. " + tc.field + ": "
			for kind, err := range map[string]error{"scenario": serr, "sweep": werr} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %v\nwant %s…", kind, err, want)
				}
			}
			if se, we := fieldError(serr, tc.field), fieldError(werr, tc.field); se == nil || we == nil || se.Message != we.Message || se.Fix != we.Fix {
				t.Errorf("the two kinds disagree:\nscenario %v\nsweep    %v", se, we)
			}
		})
	}
}

// fieldError is err's error at path, nil when there is none.
func fieldError(err error, path string) *yamlfile.FieldError {
	l, _ := yamlfile.AsErrorList(err)
	for _, e := range l {
		if e.Path == path {
			return e
		}
	}
	return nil
}
