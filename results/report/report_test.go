package report

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/internal/svgtest"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

func benchCampaign(runs int) *store.Campaign {
	return stats.Synthesize(stats.SynthOptions{Seed: 11, Peers: 23, Runs: runs, Warmup: 2, LossPcts: []float64{0, 10, 25, 40},
		IntervalMS: 5000, StartupMS: 900, StartupJitterMS: 300, AgentInitMS: 150, TimeoutMS: 60000, FlapProb: 0.02})
}

func TestWriteReport(t *testing.T) {
	c := stats.Synthesize(stats.SynthOptions{Seed: 3, Peers: 4, Runs: 30, Warmup: 1, LossPcts: []float64{0, 25},
		IntervalMS: 5000, StartupMS: 900, StartupJitterMS: 200, TimeoutMS: 40000, FlapProb: 0.1})
	dir := t.TempDir()
	c.Dir = dir
	files, err := Write(context.Background(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(files.HTML)
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	for _, want := range []string{"Summary per condition", "Model comparison", "Condition loss-0", "Condition loss-25",
		"random phase", "nftables", "flaps per peer-min", "Manifest", "synthetic.yaml", "container start", "Per individual peer"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Results first, provenance folded at the end.
	if i, j := strings.Index(page, "Summary per condition"), strings.Index(page, `<h2 id="manifest">`); i < 0 || j < i || !strings.Contains(page, "Reading guide") {
		t.Errorf("summary at %d, manifest at %d, reading guide %v: want the guide, the summary, then the manifest", i, j, strings.Contains(page, "Reading guide"))
	}
	// 2 global figures + 3 per condition, all inline.
	if n := strings.Count(page, "<svg"); n != 2+3*2 {
		t.Errorf("report has %d inline SVGs, want 8", n)
	}
	// Self-contained: no external references.
	for _, bad := range []string{"<script", "<link", "src=\"http", "href=\"http", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
	var s stats.Summary
	sb, _ := os.ReadFile(files.Summary)
	if err := json.Unmarshal(sb, &s); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if len(s.Conditions) != 2 || s.Conditions[1].Runs != 30 || s.Conditions[1].Model == nil {
		t.Fatalf("summary.json content: %+v", s.Conditions)
	}
	if len(files.Plots) != 16 {
		t.Errorf("wrote %d plot files, want 16", len(files.Plots))
	}
	for _, p := range files.Plots {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(p) {
		case ".svg":
			svgtest.Check(t, p, b)
		case ".png":
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
	}
}

func BenchmarkReport(b *testing.B) {
	c := benchCampaign(100)
	c.Dir = b.TempDir()
	samples := 0
	for _, r := range c.Runs {
		if !r.Warmup {
			samples += len(r.Peers) + len(r.Missing)
		}
	}
	if samples != 9200 {
		b.Fatalf("benchmark campaign has %d samples, want 9200", samples)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Write(context.Background(), c, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWriteReportDegenerate(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		c    *store.Campaign
	}{
		{"empty campaign", &store.Campaign{Manifest: results.Manifest{Campaign: "empty"}}},
		{"only warm-up and aborted runs", &store.Campaign{
			Manifest: results.Manifest{Campaign: "w", AnnounceIntervalMS: 5000, Peers: []string{"b"},
				Conditions: []results.Condition{{Name: "loss-0"}, {Name: "never-ran"}}},
			Runs: []results.Run{{Condition: "loss-0", Warmup: true, Peers: []results.PeerTiming{{Peer: "b", DiscoveredMS: f(10)}}},
				{Condition: "loss-0", Index: 1, Aborted: true}}}},
		{"nothing discovered", &store.Campaign{
			Manifest: results.Manifest{Campaign: "n", AnnounceIntervalMS: 5000, Peers: []string{"b", "c"}},
			Runs:     []results.Run{{Condition: "loss-90", TimedOut: true, Missing: []string{"b", "c"}}}}},
		{"single sample", &store.Campaign{
			Manifest: results.Manifest{Campaign: "s", AnnounceIntervalMS: 5000},
			Runs:     []results.Run{{Condition: "c", Peers: []results.PeerTiming{{Peer: "b", DiscoveredMS: f(1200)}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Write(context.Background(), tc.c, Options{OutDir: t.TempDir(), NoPNG: true})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(files.HTML)
			if err != nil || !bytes.Contains(b, []byte("Summary per condition")) {
				t.Fatalf("report: %v", err)
			}
		})
	}
}

// TestWriteReportPhase: an aligned campaign whose runs record their phase
// gets the phase histogram per condition and the spread in words.
func TestWriteReportPhase(t *testing.T) {
	c := stats.Synthesize(stats.SynthOptions{Seed: 3, Peers: 2, Runs: 10, Warmup: 1, LossPcts: []float64{0},
		IntervalMS: 5000, StartupMS: 900, TimeoutMS: 40000})
	c.Manifest.Phase = "aligned"
	c.Manifest.Reference = &results.Reference{Source: "thesis §6.2, fig. 6.1", FirstPeerMS: 2968, Note: "peak of the histogram"}
	for i := range c.Runs {
		v := 1234.0
		c.Runs[i].Phase, c.Runs[i].PhaseMS = "aligned", &v
		c.Runs[i].Cycle = &results.Cycle{CycleMS: 6000, OffCycle: i == 3, SincePreviousEndMS: 6000}
	}
	c.Dir = t.TempDir()
	files, err := Write(context.Background(), c, Options{NoPNG: true})
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(files.HTML)
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	for _, want := range []string{"Start phase, ", "Start phase: 10 of 10 runs in the fullest 250 ms bin, 1 of 20 bins used", "1 run(s) off cycle",
		"<b>Published figure</b> (thesis §6.2, fig. 6.1): node A's first peer at 2968 ms (peak of the histogram). Measured here: first-peer median"} {
		if !strings.Contains(page, want) {
			i := strings.Index(page, "Start phase:")
			t.Errorf("report lacks %q: %s", want, page[max(0, i):min(len(page), max(0, i)+200)])
		}
	}
	if n := strings.Count(page, "<svg"); n != 2+4 {
		t.Errorf("report has %d inline SVGs, want 6 (2 global, 3 per condition and the phase histogram)", n)
	}
}

func TestWriteReportWire(t *testing.T) {
	o := stats.SynthOptions{Seed: 4, Peers: 3, Runs: 10, LossPcts: []float64{0, 25}, IntervalMS: 5000, StartupMS: 900, TimeoutMS: 40000, Wire: true}
	for _, wire := range []bool{false, true} {
		o.Wire = wire
		c := stats.Synthesize(o)
		c.Dir = t.TempDir()
		files, err := Write(context.Background(), c, Options{NoPNG: true})
		if err != nil {
			t.Fatal(err)
		}
		html, err := os.ReadFile(files.HTML)
		if err != nil {
			t.Fatal(err)
		}
		page := string(html)
		has := strings.Contains(page, `id="wire"`) && strings.Contains(page, "Where the discovery time goes") && strings.Contains(page, "processing+API")
		if has != wire {
			t.Errorf("wire %v: the report's wire section and stacked plot present = %v", wire, has)
		}
		if n, want := strings.Count(page, "<svg"), 2+3*2+map[bool]int{true: 1}[wire]; n != want {
			t.Errorf("wire %v: %d inline SVGs, want %d", wire, n, want)
		}
	}
}

// A campaign on several Docker hosts lists them with their clocks' offset
// and uncertainty; a campaign on one host shows no such section.
func TestWriteReportHosts(t *testing.T) {
	o := stats.SynthOptions{Seed: 4, Peers: 3, Runs: 6, LossPcts: []float64{0}, IntervalMS: 5000, StartupMS: 900, TimeoutMS: 40000}
	for _, hosts := range [][]results.EngineHost{nil, {
		{Name: "a", Endpoint: "unix:///var/run/docker.sock", Address: "10.0.0.1", Clusters: []string{"n-01"}, ClockMethod: "same machine"},
		{Name: "b", Endpoint: "ssh://lab@10.0.0.2", Address: "10.0.0.2", Clusters: []string{"n-02", "n-03"}, ClockOffsetNS: -1234567, ClockUncertaintyNS: 456789, ClockSamples: 16, ClockMethod: "engine /info"},
	}} {
		c := stats.Synthesize(o)
		c.Dir = t.TempDir()
		c.Manifest.Hosts = hosts
		files, err := Write(context.Background(), c, Options{NoPNG: true})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(files.HTML)
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		if got := strings.Contains(page, `id="hosts"`); got != (hosts != nil) {
			t.Errorf("%d hosts: hosts section present = %v", len(hosts), got)
		}
		if hosts != nil {
			for _, want := range []string{"ssh://lab@10.0.0.2", "n-02, n-03", "<td>-1.23</td><td>0.46</td>", "engine /info"} {
				if !strings.Contains(page, want) {
					t.Errorf("hosts section lacks %q", want)
				}
			}
		}
	}
}
