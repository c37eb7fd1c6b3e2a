package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results/stats"
)

func TestFileStem(t *testing.T) {
	long := strings.Repeat("a", 247)
	tests := []struct {
		name, want string // want "" : changed (a '~' and the hash)
	}{
		{"hist-loss-25", "hist-loss-25"},
		{"box-a.b_c", "box-a.b_c"},
		{strings.Repeat("x", MaxStem), strings.Repeat("x", MaxStem)},
		{strings.Repeat("x", MaxStem+1), ""},
		{long, ""},
		{"hist-" + long, ""},
		{"hist-x/../y", ""},
		{"..", ""},
		{".hidden", ""},
		{"", ""},
		{"hist-é", ""},
		{"hist-x\x00y", ""},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := fileStem(tt.name)
		if tt.want != "" && got != tt.want {
			t.Errorf("fileStem(%q) = %q, want it kept", tt.name, got)
		}
		if tt.want == "" && (!strings.Contains(got, "~") || len(got) != min(len(tt.name), MaxStem)+1+stemHashLen) {
			t.Errorf("fileStem(%q) = %q, want its first %d bytes, '~' and %d hex digits", tt.name, got, MaxStem, stemHashLen)
		}
		if !filepath.IsLocal(got) || filepath.Base(got) != got || strings.HasPrefix(got, ".") || len(got)+len(".svg") > 255 {
			t.Errorf("fileStem(%q) = %q is not a plain, visible, bounded file name", tt.name, got)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("fileStem(%q) = fileStem(%q) = %q", tt.name, prev, got)
		}
		seen[got] = tt.name
	}
	// Names that were equal after the old mapping ('/' and '_' both gave
	// '_'), or share their first MaxStem bytes, keep distinct stems; a name
	// written like a changed stem is not taken for one.
	for _, pair := range [][2]string{
		{"hist-a/b", "hist-a_b"},
		{"hist-" + long + "1", "hist-" + long + "2"},
		{"hist-a/b", "hist-a_b~" + fileStem("hist-a/b")[len("hist-a_b~"):]},
	} {
		if a, b := fileStem(pair[0]), fileStem(pair[1]); a == b {
			t.Errorf("fileStem(%q) = fileStem(%q) = %q", pair[0], pair[1], a)
		}
	}
}

// TestWriteReportOfHostileConditionNames: a campaign written before
// condition names were limited (or edited by hand) with a 247-character
// name, two names alike but for their 248th character, and a name with
// '/' and '..' gets its report, every plot in plots/ under a distinct,
// bounded name (the 247-character name made report fail on its file name).
func TestWriteReportOfHostileConditionNames(t *testing.T) {
	long := strings.Repeat("c", 247)
	names := []string{long + "1", long + "2", "x/../../y"}
	c := stats.Synthesize(stats.SynthOptions{Seed: 5, Peers: 2, Runs: 4, LossPcts: []float64{0, 10, 25},
		IntervalMS: 5000, StartupMS: 900, TimeoutMS: 40000})
	old := map[string]string{}
	for i := range c.Manifest.Conditions {
		old[c.Manifest.Conditions[i].Name] = names[i]
		c.Manifest.Conditions[i].Name = names[i]
	}
	for i := range c.Runs {
		c.Runs[i].Condition = old[c.Runs[i].Condition]
	}
	out := t.TempDir()
	files, err := Write(context.Background(), c, Options{OutDir: out, NoPNG: true})
	if err != nil {
		t.Fatal(err)
	}
	plots := filepath.Join(out, DirPlots)
	entries, err := os.ReadDir(plots)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(files.Plots) || len(files.Plots) != 2+3*len(names) {
		t.Fatalf("%d files in plots/, %d plots reported, want %d", len(entries), len(files.Plots), 2+3*len(names))
	}
	for _, p := range files.Plots {
		if filepath.Dir(p) != plots || len(filepath.Base(p)) > MaxStem+1+stemHashLen+len(".svg") {
			t.Errorf("plot %s is outside %s or its name is too long", p, plots)
		}
	}
}

// TestWriteReportRefusesLinkOutOfPlots: a symbolic link planted in plots/
// under a plot's name is not followed out of the directory; the report
// fails naming the plot and the file it pointed at is left alone.
func TestWriteReportRefusesLinkOutOfPlots(t *testing.T) {
	c := stats.Synthesize(stats.SynthOptions{Seed: 5, Peers: 2, Runs: 4, LossPcts: []float64{0}, IntervalMS: 5000, StartupMS: 900, TimeoutMS: 40000})
	out, elsewhere := t.TempDir(), filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(elsewhere, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(out, DirPlots), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(out, DirPlots, "cdf.svg")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	_, err := Write(context.Background(), c, Options{OutDir: out, NoPNG: true})
	if err == nil || !strings.Contains(err.Error(), "writing plot "+link) || !strings.Contains(err.Error(), "(fix: it is a symbolic link, and a report writes only inside") {
		t.Fatalf("err = %v, want an error naming %s and the fix", err, link)
	}
	if b, rerr := os.ReadFile(elsewhere); rerr != nil || string(b) != "keep me" {
		t.Errorf("the linked file became %q (%v)", b, rerr)
	}
}
