package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios/sweep"
)

// aliasBomb is a "billion laughs" under key at indent: 10^9 nodes once
// expanded, from a few hundred bytes.
func aliasBomb(key, indent string) string {
	s := indent + key + ":\n" + indent + "  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		s += indent + "  " + n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	return s
}

// hostileFiles are a valid file of every input kind (each validate-able
// on its own; thresholds through compare) and, per kind, where a free-form
// map takes an alias bomb.
type hostileKind struct {
	kind  string
	valid string
	bombs map[string]string // case name -> the valid file with a bomb inside
}

func hostileKinds(t *testing.T, dir string) []hostileKind {
	t.Helper()
	topo, err := filepath.Abs(filepath.Join(topologyDir, "ci-3-nodes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const head = "apiVersion: testbed.dev/v1alpha1\n"
	topology := head + "kind: Topology\nmetadata:\n  name: lab\nclusters:\n  count: 2\n"
	withFluidos := topology + "fluidos:\n  enabled: true\n"
	scenario := head + "kind: Scenario\nmetadata:\n  name: s\ntopology: " + topo +
		"\nprotocol:\n  preset: reference-agent\nnodeA: ci-01\nconditions:\n  - name: loss-0\n    impairment: {loss: 0}\n"
	tmpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tmpl, []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	sweep := head + "kind: Sweep\nmetadata:\n  name: w\nscenario: " + tmpl + "\nclusters: [2, 3]\nconditions:\n  - {name: loss-0, loss: 0}\n"
	thresholds := head + "kind: Thresholds\nrules:\n  - metric: median\n    maxRegressionPct: 5\n"
	return []hostileKind{
		{"topology", topology, map[string]string{
			"fluidos.values":            withFluidos + aliasBomb("values", "  "),
			"fluidos.clusterValues":     withFluidos + "  clusterValues:\n" + aliasBomb("lab-01", "    "),
			"extraCharts[0].values":     topology + "extraCharts:\n  - name: extra\n    chart: charts/reference-agent\n" + aliasBomb("values", "    "),
			"clusters.overrides.values": topology + "  overrides:\n    lab-01:\n      values:\n" + aliasBomb("fluidos", "        "),
		}},
		{"scenario", scenario, map[string]string{"an unknown key": scenario + aliasBomb("x", "")}},
		{"sweep", sweep, map[string]string{"an unknown key": sweep + aliasBomb("x", "")}},
		{"thresholds", thresholds, map[string]string{"an unknown key": thresholds + aliasBomb("x", "")}},
	}
}

// checkHostile runs the command that reads a file of kind k (validate; for
// thresholds also compare --thresholds) and returns its exit code and error
// output.
func checkHostile(t *testing.T, kind, file, campaign string) (int, string) {
	t.Helper()
	if kind == "thresholds" {
		// validate and compare --thresholds refuse it alike.
		_, vErr, vCode := runCLI(t, "validate", file)
		_, errOut, code, err := runResultsCLI(t, "compare", campaign, campaign, "--thresholds", file)
		if err != nil {
			errOut += err.Error()
		}
		if vCode != code {
			t.Errorf("validate exits %d, compare --thresholds %d:\n%s\n%s", vCode, code, vErr, errOut)
		}
		return code, errOut + "\n" + vErr
	}
	_, errOut, code := runCLI(t, "validate", file)
	return code, errOut
}

// TestHostileInputEveryKind: every input file kind refuses the same hostile
// inputs the same way (exit 2, an error naming the file, the position and
// the limit or the problem), quickly and in bounded memory: a 50 MB file,
// an alias bomb in each free-form values map, a second YAML document, an
// empty file, deep nesting and an over-long line.
func TestHostileInputEveryKind(t *testing.T) {
	t.Setenv("TESTBED_STATE_DIR", t.TempDir())
	dir := t.TempDir()
	campaign := writeSynthCampaign(t, "base", 0, 1)
	for _, k := range hostileKinds(t, dir) {
		write := func(name, body string) string {
			p := filepath.Join(dir, k.kind+"-"+name+".yaml")
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		t.Run(k.kind+"/valid", func(t *testing.T) {
			if code, errOut := checkHostile(t, k.kind, write("valid", k.valid), campaign); code != 0 {
				t.Fatalf("the valid %s is refused (exit %d):\n%s", k.kind, code, errOut)
			}
		})
		huge := write("50MB", k.valid)
		if err := os.Truncate(huge, 50<<20); err != nil {
			t.Fatal(err)
		}
		cases := []struct{ name, file, want string }{
			{"50 MB", huge, huge + ":1:1: the file is larger than the limit of 1048576 bytes (fix: check that this is the right file: a " + k.kind + " file is a few KiB"},
			{"second document", write("two-docs", k.valid+"---\n"+k.valid), ": the file holds more than one YAML document (fix: keep one "},
			{"empty", write("empty", "# nothing here\n"), ":1:1: the file is empty"},
			{"deep nesting", write("deep", k.valid+"x: "+strings.Repeat("[", 100)+strings.Repeat("]", 100)+"\n"), "nest deeper than the limit of 64 levels"},
			{"long line", write("long-line", k.valid+"x: "+strings.Repeat("a", 20<<10)+"\n"), "is longer than the limit of 16384 bytes"},
		}
		for name, body := range k.bombs {
			cases = append(cases, struct{ name, file, want string }{"alias bomb in " + name, write("bomb", body),
				"the document expands to more than 200000 YAML nodes (aliases included) (fix: write the values out"})
		}
		for _, tc := range cases {
			t.Run(k.kind+"/"+tc.name, func(t *testing.T) {
				code, errOut := checkHostile(t, k.kind, tc.file, campaign)
				if code != exitBadInput || !strings.Contains(errOut, tc.file+":") || !strings.Contains(errOut, tc.want) {
					t.Fatalf("exit %d, want %d and an error naming %s with %q:\n%s", code, exitBadInput, tc.file, tc.want, errOut)
				}
			})
		}
	}
}

// TestValidateKindOfOversizedFile: a file beyond the size limit is refused
// by the loader of the kind it declares, not taken for a topology.
func TestValidateKindOfOversizedFile(t *testing.T) {
	dir := t.TempDir()
	for _, kind := range []string{kindTopology, kindScenario, kindSweep} {
		p := filepath.Join(dir, kind+".yaml")
		if err := os.WriteFile(p, []byte("apiVersion: testbed.dev/v1alpha1\nkind: "+kind+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, 50<<20); err != nil {
			t.Fatal(err)
		}
		out, _, code := runCLI(t, "validate", p, "-o", "json")
		var got []validateResult
		if err := json.Unmarshal([]byte(out), &got); err != nil || code != exitBadInput || len(got) != 1 {
			t.Fatalf("%s: exit %d, %v:\n%s", kind, code, err, out)
		}
		if got[0].Kind != kind || got[0].Valid || len(got[0].Errors) != 1 || !strings.Contains(got[0].Errors[0].Message, "larger than the limit") {
			t.Errorf("%s: %+v", kind, got[0])
		}
	}
}

// appendRuns appends raw lines to a campaign's runs.jsonl.
func appendRuns(t *testing.T, dir, lines string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, store.FileRuns), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(lines); err != nil {
		t.Fatal(err)
	}
}

// warningLines are the "warning: " lines of a command's error output.
func warningLines(errOut string) []string {
	var out []string
	for _, l := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(l, "warning: ") {
			out = append(out, l)
		}
	}
	return out
}

// TestEveryCommandPrintsTheReadersWarnings: a campaign with a run whose
// time is negative and a truncated last line reads with two warnings; every
// command that reads it prints them on stderr, the same lines as report
// (compare printed none, so a comparison of a damaged campaign looked clean).
func TestEveryCommandPrintsTheReadersWarnings(t *testing.T) {
	damage := `{"condition":"loss-0","index":3,"peers":[{"peer":"p","discoveredMS":-4}]}` + "\n" + `{"condition":"loss-0","ind`
	camp := writeSynthCampaign(t, "base", 0, 1)
	appendRuns(t, camp, damage)
	sw := writeSweepDir(t, 2)
	cell := filepath.Join(sw, sweep.Cell{Protocol: "reference-agent", Clusters: 2}.Dir(""))
	appendRuns(t, cell, damage)

	_, errOut, code, err := runResultsCLI(t, "report", camp, "--no-png")
	want := warningLines(errOut)
	if code != 0 || len(want) != 2 || !strings.Contains(want[0], "discoveredMS = -4 is negative") || !strings.Contains(want[1], "truncated last line") {
		t.Fatalf("report: exit %d (%v), warnings %q", code, err, want)
	}
	_, errOut, _, _ = runResultsCLI(t, "report", cell, "--no-png")
	wantCell := warningLines(errOut)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"compare (baseline and candidate)", []string{"compare", camp, camp}, append(slices.Clone(want), want...)},
		{"compare -o json", []string{"compare", camp, camp, "-o", "json"}, append(slices.Clone(want), want...)},
		{"export", []string{"export", camp}, want},
		{"sweep report", []string{"sweep", "report", sw}, wantCell},
		{"sweep compare", []string{"sweep", "compare", sw, sw}, append(slices.Clone(wantCell), wantCell...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code, err := runResultsCLI(t, tc.args...)
			if got := warningLines(errOut); code != 0 || !slices.Equal(got, tc.want) {
				t.Errorf("exit %d (%v), warnings\n%q\nwant\n%q", code, err, got, tc.want)
			}
		})
	}
}

// TestRerunRefusesBadAlpha: rerun's --alpha is judged before Docker is
// touched or anything runs (it was only checked by the comparison after the
// whole campaign, and 0 silently became 0.05).
func TestRerunRefusesBadAlpha(t *testing.T) {
	for _, alpha := range []string{"NaN", "+Inf", "0", "1", "-0.5", "7"} {
		_, errOut, code := runCLI(t, "rerun", t.TempDir(), "--alpha", alpha)
		if code != exitBadInput || !strings.Contains(errOut, "--alpha: alpha") || !strings.Contains(errOut, "strictly between 0 and 1") {
			t.Errorf("rerun --alpha %s: exit %d:\n%s", alpha, code, errOut)
		}
	}
}

// TestNameLengthsAgreeAcrossKinds: every name a topology, scenario or
// sweep gives is a DNS label of at most 63 characters: 63 is accepted, 64
// is refused at the field with an error naming the limit (a sweep's
// condition names did not say it, and a scenario's nodeA was only refused
// as "not a cluster" by the cross-check).
func TestNameLengthsAgreeAcrossKinds(t *testing.T) {
	t.Setenv("TESTBED_STATE_DIR", t.TempDir())
	dir := t.TempDir()
	topo, err := filepath.Abs(filepath.Join(topologyDir, "ci-3-nodes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := filepath.Abs("../../scenarios/selftest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const head = "apiVersion: testbed.dev/v1alpha1\n"
	topology := func(name, chart string) string {
		return head + "kind: Topology\nmetadata:\n  name: " + name + "\nclusters:\n  count: 2\nfluidos: {enabled: false}\nextraCharts:\n  - name: " + chart + "\n    chart: charts/x\n"
	}
	scenario := func(name, nodeA, cond string) string {
		return head + "kind: Scenario\nmetadata:\n  name: " + name + "\ntopology: " + topo + "\nprotocol:\n  preset: reference-agent\nnodeA: " + nodeA +
			"\nconditions:\n  - name: " + cond + "\n    impairment: {loss: 0}\n"
	}
	sweepFile := func(name, cond string) string {
		return head + "kind: Sweep\nmetadata:\n  name: " + name + "\nscenario: " + tmpl + "\nclusters: [2]\nconditions:\n  - {name: " + cond + ", loss: 0}\n"
	}
	tests := []struct {
		field     string
		file      func(n string) string
		accepts63 bool // false: 63 characters fail elsewhere (nodeA is not a cluster of the topology)
	}{
		{"metadata.name", func(n string) string { return topology(n, "c") }, true},
		{"extraCharts[0].name", func(n string) string { return topology("lab", n) }, true},
		{"metadata.name", func(n string) string { return scenario(n, "ci-01", "c") }, true},
		{"conditions[0].name", func(n string) string { return scenario("s", "ci-01", n) }, true},
		{"nodeA", func(n string) string { return scenario("s", n, "c") }, false},
		{"metadata.name", func(n string) string { return sweepFile(n, "c") }, true},
		{"conditions[0].name", func(n string) string { return sweepFile("w", n) }, true},
	}
	for i, tc := range tests {
		kind := strings.Fields(strings.SplitN(tc.file("x"), "kind: ", 2)[1])[0]
		t.Run(kind+"/"+tc.field, func(t *testing.T) {
			for _, n := range []int{63, 64} {
				p := filepath.Join(dir, fmt.Sprintf("%d-%d.yaml", i, n))
				if err := os.WriteFile(p, []byte(tc.file(strings.Repeat("a", n))), 0o644); err != nil {
					t.Fatal(err)
				}
				_, errOut, code := runCLI(t, "validate", p)
				refused := strings.Contains(errOut, tc.field+": ")
				switch {
				case n == 63 && tc.accepts63 && (code != 0 || refused):
					t.Errorf("a 63-character %s is refused (exit %d):\n%s", tc.field, code, errOut)
				case n == 64 && (code != exitBadInput || !refused || !strings.Contains(errOut, "63 characters")):
					t.Errorf("a 64-character %s: exit %d, want 2 and an error at %s naming the limit of 63 characters:\n%s", tc.field, code, tc.field, errOut)
				}
			}
		})
	}
}
