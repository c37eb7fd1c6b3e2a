package results

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func benchCampaign(runs int) *Campaign {
	return Synthesize(SynthOptions{Seed: 11, Peers: 23, Runs: runs, Warmup: 2, LossPcts: []float64{0, 10, 25, 40},
		IntervalMS: 5000, StartupMS: 900, StartupJitterMS: 300, AgentInitMS: 150, TimeoutMS: 60000, FlapProb: 0.02})
}

func TestWriteReport(t *testing.T) {
	c := Synthesize(SynthOptions{Seed: 3, Peers: 4, Runs: 30, Warmup: 1, LossPcts: []float64{0, 25},
		IntervalMS: 5000, StartupMS: 900, StartupJitterMS: 200, TimeoutMS: 40000, FlapProb: 0.1})
	dir := t.TempDir()
	c.Dir = dir
	files, err := WriteReport(context.Background(), c, ReportOptions{})
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
	var s Summary
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
			checkSVG(t, p, b)
		case ".png":
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
	}
}

// checkSVG parses b as XML and checks the root is <svg>.
func checkSVG(t *testing.T, name string, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("%s: invalid XML: %v", name, err)
			return
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q, want svg", name, root)
	}
}

func TestFigures(t *testing.T) {
	c := Synthesize(SynthOptions{Seed: 5, Peers: 6, Runs: 40, LossPcts: []float64{0, 10, 30},
		IntervalMS: 5000, StartupMS: 900, TimeoutMS: 30000})
	s := Analyze(c)
	cs := &s.Conditions[2]
	kWithData := 0
	for _, k := range cs.ByK {
		if k.N > 0 {
			kWithData++
		}
	}
	mk := func(f *Figure, err error) *Figure {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	sweep := []SweepPoint{
		{Clusters: 3, LossPct: 0, Stats: Dist{N: 5, Median: 3000, P90: 5000}},
		{Clusters: 6, LossPct: 0, Stats: Dist{N: 5, Median: 3500, P90: 5500}},
		{Clusters: 3, LossPct: 10, Stats: Dist{N: 5, Median: 4000, P90: 9000}},
		{Clusters: 6, LossPct: 10, Stats: Dist{N: 5, Median: 4500, P90: 9500}},
		{Clusters: 12, LossPct: 10, Stats: Dist{N: 0}},
	}
	tests := []struct {
		fig           *Figure
		curves, boxes int
	}{
		{mk(CDFFigure(s.Conditions)), 6, 0},            // measured + model per condition
		{mk(ResponsivenessFigure(s.Conditions)), 6, 0}, // one peer + all peers per condition
		{mk(RunCurvesFigure(cs, 10)), 10, 0},
		{mk(RunCurvesFigure(cs, 100)), 40, 0},
		{mk(BoxFigure(cs)), 1, kWithData}, // boxes + model median line
		{mk(SweepFigure("all-peers time", sweep)), 4, 0},
	}
	for _, tc := range tests {
		if tc.fig.Curves != tc.curves || tc.fig.Boxes != tc.boxes {
			t.Errorf("%s: curves=%d boxes=%d, want %d, %d", tc.fig.Name, tc.fig.Curves, tc.fig.Boxes, tc.curves, tc.boxes)
		}
		svg, err := tc.fig.SVG()
		if err != nil {
			t.Fatal(err)
		}
		checkSVG(t, tc.fig.Name, svg)
		pb, err := tc.fig.PNG()
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(pb))
		if err != nil {
			t.Fatalf("%s: PNG: %v", tc.fig.Name, err)
		}
		if img.Bounds().Dx() < 500 {
			t.Errorf("%s: PNG only %d px wide", tc.fig.Name, img.Bounds().Dx())
		}
	}
	if kWithData != 6 {
		t.Errorf("box test data has %d k values with data, want 6", kWithData)
	}
	h := mk(HistogramFigure(cs))
	if h.Boxes < 5 {
		t.Errorf("histogram has %d bins", h.Boxes)
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
		if _, err := WriteReport(context.Background(), c, ReportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWriteReportDegenerate(t *testing.T) {
	f := ptr
	tests := []struct {
		name string
		c    *Campaign
	}{
		{"empty campaign", &Campaign{Manifest: Manifest{Campaign: "empty"}}},
		{"only warm-up and aborted runs", &Campaign{
			Manifest: Manifest{Campaign: "w", AnnounceIntervalMS: 5000, Peers: []string{"b"},
				Conditions: []Condition{{Name: "loss-0"}, {Name: "never-ran"}}},
			Runs: []Run{{Condition: "loss-0", Warmup: true, Peers: []PeerTiming{{Peer: "b", DiscoveredMS: f(10)}}},
				{Condition: "loss-0", Index: 1, Aborted: true}}}},
		{"nothing discovered", &Campaign{
			Manifest: Manifest{Campaign: "n", AnnounceIntervalMS: 5000, Peers: []string{"b", "c"}},
			Runs:     []Run{{Condition: "loss-90", TimedOut: true, Missing: []string{"b", "c"}}}}},
		{"single sample", &Campaign{
			Manifest: Manifest{Campaign: "s", AnnounceIntervalMS: 5000},
			Runs:     []Run{{Condition: "c", Peers: []PeerTiming{{Peer: "b", DiscoveredMS: f(1200)}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, err := WriteReport(context.Background(), tc.c, ReportOptions{OutDir: t.TempDir(), NoPNG: true})
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
