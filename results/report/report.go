package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/plot"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

// Derived files written by Write into a campaign directory.
const (
	FileSummary = "summary.json"
	FileHTML    = "report.html"
	DirPlots    = "plots"
)

// Options tune Write.
type Options struct {
	// OutDir receives report.html, summary.json and plots/; default the
	// campaign directory.
	OutDir string
	// RunsShown is how many runs the per-run curve plots show (default 10).
	RunsShown int
	// NoPNG skips the PNG copies of the plots.
	NoPNG bool
}

// Files are the paths Write wrote.
type Files struct {
	HTML    string   `json:"html"`
	Summary string   `json:"summary"`
	Plots   []string `json:"plots"`
	// Stats is the analysis the report shows (the content of summary.json).
	Stats *stats.Summary `json:"-"`
}

// Write analyses c and writes summary.json, plots/*.svg and *.png and
// a self-contained report.html (inline SVG, inline CSS, no scripts or links).
func Write(ctx context.Context, c *store.Campaign, o Options) (*Files, error) {
	return write(ctx, &c.Manifest, c.Dir, stats.Analyze(c), o)
}

// WriteDir is Write for the campaign in dir, streamed from disk (see
// stats.AnalyzeDir): memory grows with conditions and peers, not with runs.
// It stops with ctx's error when ctx ends, the reading included.
func WriteDir(ctx context.Context, dir string, o Options) (*Files, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, c, err := stats.AnalyzeDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	return write(ctx, &c.Manifest, dir, s, o)
}

// write plots the summary s of the campaign in dir (manifest m) and writes
// the report files.
func write(ctx context.Context, m *results.Manifest, dir string, s *stats.Summary, o Options) (*Files, error) {
	if o.OutDir == "" {
		o.OutDir = dir
	}
	if o.RunsShown <= 0 {
		o.RunsShown = 10
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	figs, err := plot.Figures(s, o.RunsShown)
	if err != nil {
		return nil, fmt.Errorf("campaign %s: plotting: %w", s.Campaign, err)
	}
	files := &Files{HTML: filepath.Join(o.OutDir, FileHTML), Summary: filepath.Join(o.OutDir, FileSummary), Stats: s}
	svgs, plots, err := writePlots(ctx, filepath.Join(o.OutDir, DirPlots), figs, o.NoPNG)
	if err != nil {
		return nil, fmt.Errorf("campaign %s: %w", s.Campaign, err)
	}
	files.Plots = plots
	sj, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("campaign %s: encoding summary: %w", s.Campaign, err)
	}
	if err := store.WriteFileAtomic(files.Summary, append(sj, '\n')); err != nil {
		return nil, err
	}
	html, err := RenderHTML(m, s, figs, svgs)
	if err != nil {
		return nil, fmt.Errorf("campaign %s: %w", s.Campaign, err)
	}
	if err := store.WriteFileAtomic(files.HTML, html); err != nil {
		return nil, err
	}
	return files, nil
}

// MaxStem bounds the stem of a plot's file name, in bytes: with the
// hash fileStem may add and ".svg" the name stays far below the 255 bytes
// file systems allow (a campaign written before condition names were
// limited may have a name of any length).
const MaxStem = 100

// stemHashLen is the hex digits of the name's hash a changed stem ends with.
const stemHashLen = 16

// writePlots writes every figure as SVG (and PNG unless noPNG) into
// plotDir, created if needed, named by fileStem, in parallel. Every file is
// written through an os.Root of plotDir, so that a symbolic link planted
// in it cannot send a plot outside. It returns the SVGs, in figs' order,
// and the paths written.
func writePlots(ctx context.Context, plotDir string, figs []*plot.Figure, noPNG bool) ([][]byte, []string, error) {
	if err := os.MkdirAll(plotDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("creating %s: %w", plotDir, err)
	}
	root, err := os.OpenRoot(plotDir)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", plotDir, err)
	}
	defer root.Close()
	svgs := make([][]byte, len(figs))
	paths := make([][]string, len(figs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, f := range figs {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			stem := fileStem(f.Name)
			svg, err := f.SVG()
			if err != nil {
				return err
			}
			svgs[i] = svg
			if err := writeIn(root, plotDir, stem+".svg", svg); err != nil {
				return err
			}
			paths[i] = append(paths[i], filepath.Join(plotDir, stem+".svg"))
			if noPNG {
				return nil
			}
			png, err := f.PNG()
			if err != nil {
				return err
			}
			if err := writeIn(root, plotDir, stem+".png", png); err != nil {
				return err
			}
			paths[i] = append(paths[i], filepath.Join(plotDir, stem+".png"))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var out []string
	for _, p := range paths {
		out = append(out, p...)
	}
	return svgs, out, nil
}

// writeIn writes data to name in root (the directory dir); an error names
// the file, and a symbolic link that would lead out of dir and its fix.
func writeIn(root *os.Root, dir, name string, data []byte) error {
	err := root.WriteFile(name, data, 0o644)
	if err == nil {
		return nil
	}
	path := filepath.Join(dir, name)
	if fi, lerr := root.Lstat(name); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("writing plot %s: %w (fix: it is a symbolic link, and a report writes only inside %s: remove it)", path, err, dir)
	}
	return fmt.Errorf("writing plot %s: %w", path, err)
}

// fileStem makes a figure name a file name stem that is safe, bounded and
// unique: a name of at most MaxStem bytes of [A-Za-z0-9._-], not starting
// with '.', is its own stem; any other becomes its first MaxStem bytes with
// every other byte (and a leading '.') turned into '_', then '~' and
// stemHashLen hex digits of the name's SHA-256. '~' is in no name kept as
// it is, so a changed stem never equals a kept one, and two changed stems
// are equal only if their names' hashes are.
func fileStem(name string) string {
	safe := len(name) > 0 && len(name) <= MaxStem && name[0] != '.'
	for i := 0; safe && i < len(name); i++ {
		safe = stemByte(name[i])
	}
	if safe {
		return name
	}
	b := []byte(name[:min(len(name), MaxStem)])
	for i, c := range b {
		if !stemByte(c) || (i == 0 && c == '.') {
			b[i] = '_'
		}
	}
	sum := sha256.Sum256([]byte(name))
	return string(b) + "~" + hex.EncodeToString(sum[:])[:stemHashLen]
}

// stemByte reports whether c may be kept in a file name stem.
func stemByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		return true
	}
	return false
}

type htmlFigure struct {
	Title, Caption string
	SVG            template.HTML
}

type htmlData struct {
	M       *results.Manifest
	S       *stats.Summary
	Global  []htmlFigure
	PerCond map[string][]htmlFigure
}

// inlineSVG strips the XML prolog so the SVG can sit inside HTML.
func inlineSVG(b []byte) template.HTML {
	if i := bytes.Index(b, []byte("<svg")); i > 0 {
		b = b[i:]
	}
	return template.HTML(b) //nolint:gosec // produced by gonum/plot from numbers and escaped labels
}

// RenderHTML renders the report page from a summary and its figures
// (svgs[i] is figs[i] rendered as SVG).
func RenderHTML(m *results.Manifest, s *stats.Summary, figs []*plot.Figure, svgs [][]byte) ([]byte, error) {
	d := htmlData{M: m, S: s, PerCond: map[string][]htmlFigure{}}
	for i, f := range figs {
		hf := htmlFigure{Title: f.Title, Caption: f.Caption, SVG: inlineSVG(svgs[i])}
		cond := ""
		for _, cs := range s.Conditions {
			for _, pre := range []string{"hist-", "runs-", "box-", "phase-"} {
				if f.Name == pre+cs.Name {
					cond = cs.Name
				}
			}
		}
		if cond == "" {
			d.Global = append(d.Global, hf)
		} else {
			d.PerCond[cond] = append(d.PerCond[cond], hf)
		}
	}
	t, err := template.New("report").Funcs(template.FuncMap{
		"sec":         func(ms float64) string { return fmt.Sprintf("%.2f", ms/1000) },
		"ms":          func(ms float64) string { return fmt.Sprintf("%.0f", ms) },
		"nsms":        func(ns int64) string { return fmt.Sprintf("%.2f", float64(ns)/1e6) },
		"f3":          func(x float64) string { return fmt.Sprintf("%.3f", x) },
		"pct":         func(x float64) string { return fmt.Sprintf("%.1f %%", x*100) },
		"ptrpc":       optPct,
		"rows":        distRows,
		"join":        func(s []string) string { return strings.Join(s, ", ") },
		"phaseSpread": phaseSpread,
		"wired": func(s *stats.Summary) bool {
			for _, c := range s.Conditions {
				if c.Wire != nil {
					return true
				}
			}
			return false
		},
		"worstK": func(ks []stats.KSK) string {
			w := math.Inf(-1)
			k := 0
			for _, x := range ks {
				if x.D > w {
					w, k = x.D, x.K
				}
			}
			if k == 0 {
				return "–"
			}
			return fmt.Sprintf("%.3f (k=%d)", w, k)
		},
	}).Parse(reportTemplate)
	if err != nil {
		return nil, fmt.Errorf("parsing report template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("rendering report: %w", err)
	}
	return b.Bytes(), nil
}

// phaseSpread says how the runs' start phases fill the period: the
// fullest bin's share, and how many bins hold any run.
func phaseSpread(cs stats.Condition) string {
	n, top, used := 0, 0, 0
	for _, v := range cs.PhaseHist {
		n += v
		top = max(top, v)
		if v > 0 {
			used++
		}
	}
	if n == 0 {
		return "no run recorded its phase"
	}
	return fmt.Sprintf("%d of %d runs in the fullest %.0f ms bin, %d of %d bins used", top, n, cs.PhaseBinMS, used, len(cs.PhaseHist))
}

type distRow struct {
	Name string
	D    stats.Dist
}

// distRows lists a condition's distributions for the report table.
func distRows(cs stats.Condition) []distRow {
	rows := []distRow{
		{"first peer", cs.FirstPeer},
		{"all peers", cs.AllPeers},
		{"one peer (pooled)", cs.AnyPeer},
	}
	for _, k := range cs.ByK {
		rows = append(rows, distRow{fmt.Sprintf("k = %d peers", k.K), k.Dist})
	}
	rows = append(rows,
		distRow{"container start (start-up)", cs.ContainerStart},
		distRow{"protocol (discovery − container start)", cs.Protocol},
	)
	if cs.GoneAfterLeave.N > 0 {
		rows = append(rows, distRow{"peer dropped node A (gone − leave)", cs.GoneAfterLeave})
	}
	return rows
}

func optPct(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f\u00a0%%", *p)
}

const reportTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>testbed report: {{.S.Campaign}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}h3{margin-top:1.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.82em;display:block;max-width:100%;overflow-x:auto}
.scroll{overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right;vertical-align:top;overflow-wrap:anywhere}
.guide{background:#f6f8fa;border:1px solid #e1e4e8;padding:.6em .8em;font-size:.9em}
th{background:#f3f3f3;font-weight:600}td.l,th.l{text-align:left}
figure{margin:1em 0;border:1px solid #eee;padding:.5em;background:#fff}
figure svg{max-width:100%;height:auto;display:block}
figcaption{font-size:.85em;color:#555}
.note{font-size:.85em;color:#555}
.warn{color:#8a4b00}
pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:.8em;max-height:20em}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(520px,100%),1fr));gap:.6em}
.grid>*{min-width:0}
</style>
</head>
<body>
<h1>Discovery campaign {{.S.Campaign}}</h1>
<p>Protocol <b>{{.M.Protocol}}</b>, node A <b>{{.M.NodeA}}</b>, {{len .M.Peers}} peers, phase mode <b>{{.S.PhaseLabel}}</b>, announce interval T = {{ms .M.AnnounceIntervalMS}} ms. Times are seconds since node A's restart (t0) unless marked ms. Warm-up, aborted and faulted runs are excluded.</p>
<p class="guide"><b>Reading guide.</b> The <a href="#summary">summary</a> gives, per condition, how long node A took to find its first peer, any one peer and all of them. <i>Discovery time CDF</i> answers "how likely is a peer found within d"; <i>responsiveness</i> the same for all peers at once. Per condition, the <i>histogram</i> shows the spread of single discovery times, the <i>run curves</i> how the peers were found one after another in each run, the <i>box plot</i> the time to reach k peers, and the <i>start phase</i> histogram whether the runs sampled every phase of the announcements (spread) or one (locked). The <a href="#model">model</a> says whether the times are what a periodic announcer with this loss predicts. What ran, on what, from which inputs, is in the <a href="#manifest">manifest</a> at the end.</p>
{{if or .S.Warnings .M.Warnings}}<h2>Warnings</h2><ul>{{range .S.Warnings}}<li class="warn">{{.}}</li>{{end}}{{range .M.Warnings}}<li class="warn">{{.}}</li>{{end}}</ul>{{end}}

<h2 id="summary">Summary per condition</h2>
<div class="scroll"><table>
<tr><th class="l">condition</th><th class="l">backend</th><th>loss requested / achieved</th><th>runs</th><th>warm-up / aborted / faulted (excluded)</th><th>timed out</th><th>missing peers</th><th>first peer median</th><th>first peer p90</th><th>one peer median</th><th>all peers median</th><th>all peers p90</th><th>all peers max</th><th>start-up median</th><th>protocol median</th><th>flaps per peer-min</th><th>KS vs model</th></tr>
{{range .S.Conditions}}<tr><td class="l">{{.Name}}</td><td class="l">{{.Backend}}</td><td>{{.RequestedLossPct}}&nbsp;% / {{ptrpc .AchievedLossPct}}</td><td>{{.Runs}}</td><td>{{.WarmupRuns}} / {{.AbortedRuns}} / {{.FaultedRuns}}</td><td>{{.TimedOutRuns}}</td><td>{{.MissingPeers}}</td><td>{{sec .FirstPeer.Median}}</td><td>{{sec .FirstPeer.P90}}</td><td>{{sec .AnyPeer.Median}}</td><td>{{sec .AllPeers.Median}}</td><td>{{sec .AllPeers.P90}}</td><td>{{sec .AllPeers.Max}}</td><td>{{sec .ContainerStart.Median}}</td><td>{{sec .Protocol.Median}}</td><td>{{f3 .FlapRate}}</td><td>{{if .Model}}{{f3 .Model.KSPeer}}{{else}}–{{end}}</td></tr>
{{end}}</table></div>
<p class="note">Quantiles: {{.S.Quantiles}}. "One peer" pools every (run, peer) discovery time; "all peers" counts only runs that discovered every peer. Protocol time = discovery − node A's container start (from the container runtime).</p>

{{if wired .S}}<h2 id="wire">Where the time goes (wire capture)</h2>
<p>During every run the testbed captured the protocol's announcements and IGMP on the lab's bridge. Each discovery time of node A splits into <i>start-up</i> (t0 until A joined the group, else its first own announcement), <i>announcement wait</i> (until the peer's next announcement reached the wire), <i>lost periods</i> (announcements the peer should have sent meanwhile that never reached the wire, × its period) and <i>processing+API</i> (the protocol's handling, its write to the API and the runner's watch: the testbed's own error is inside this part). The means sum to the mean discovery time.</p>
<div class="scroll"><table>
<tr><th class="l">condition</th><th>explained / not</th><th>ready by IGMP join</th><th>start-up mean (s)</th><th>wait mean (s)</th><th>lost mean (s)</th><th>processing+API mean (ms)</th><th>processing+API p50 / p99 (ms)</th><th>lost announcements</th><th>loss in A's window</th><th>announcements/s per sender</th><th>B/s per sender</th><th>max clock step (µs)</th></tr>
{{range .S.Conditions}}{{$c := .}}{{with .Wire}}<tr><td class="l">{{$c.Name}}</td><td>{{.Samples}} / {{.Unexplained}}</td><td>{{.ReadyByJoin}}</td><td>{{sec .StartupMS}}</td><td>{{sec .WaitMS}}</td><td>{{sec .LostMS}}</td><td>{{printf "%.1f" .ProcessingMS}}</td><td>{{printf "%.1f" .Processing.Median}} / {{printf "%.1f" .Processing.P99}}</td><td>{{.Lost}}</td><td>{{ptrpc .WindowLossPct}}</td><td>{{printf "%.3f" .AnnouncementsPerSec}}</td><td>{{printf "%.1f" .BytesPerSec}}</td><td>{{printf "%.0f" .ClockStepMaxUS}}</td></tr>{{end}}{{end}}
</table></div>
<p class="note">Drops on the observer's receive side happen after the capture point: such an announcement is on the wire, so its cost shows as processing, not as lost. Impairments on the sender's egress are seen as lost.</p>
{{end}}
{{if .M.Hosts}}<h2 id="hosts">Docker hosts</h2>
<p>The lab ran on {{len .M.Hosts}} Docker hosts joined by VXLAN. Every discovery time above is stamped on the runner's own clock and needs no clock synchronisation, and the wire capture ran on the runner's host. The reference agent's ground truth of a cluster on another host was stamped by that host's clock and corrected by its offset below: it carries that host's uncertainty.</p>
<div class="scroll"><table>
<tr><th class="l">host</th><th class="l">endpoint</th><th class="l">underlay</th><th class="l">clusters</th><th class="l">Docker</th><th>clock offset (ms)</th><th>± uncertainty (ms)</th><th class="l">how</th></tr>
{{range .M.Hosts}}<tr><td class="l">{{.Name}}</td><td class="l">{{.Endpoint}}</td><td class="l">{{.Address}}</td><td class="l">{{join .Clusters}}</td><td class="l">{{.Docker}}</td><td>{{nsms .ClockOffsetNS}}</td><td>{{nsms .ClockUncertaintyNS}}</td><td class="l">{{.ClockMethod}}</td></tr>
{{end}}</table></div>
{{end}}
<h2>Plots across conditions</h2>
{{range .Global}}<figure>{{.SVG}}<figcaption>{{.Caption}}</figcaption></figure>
{{end}}

<h2 id="model">Model comparison</h2>
<p>Model for a periodic announcer: D = s + U·T + G·T with U ~ Uniform(0,1) (phase), G ~ Geometric(1−p) lost announcements, s the start-up. The k-th of N−1 peers uses order statistics of independent peers. KS is the Kolmogorov–Smirnov distance sup|F<sub>measured</sub> − F<sub>model</sub>| (0 = identical, 1 = disjoint).</p>
<table>
<tr><th class="l">condition</th><th>T (ms)</th><th>p</th><th class="l">p from</th><th>s (ms)</th><th class="l">s from</th><th>KS one peer</th><th>fitted s (ms)</th><th>KS with fitted s</th><th>worst KS k-th peer</th><th>measured phases: KS one peer</th><th>measured phases: worst KS k-th peer</th></tr>
{{range .S.Conditions}}{{if .Model}}<tr><td class="l">{{.Name}}</td><td>{{ms .Model.IntervalMS}}</td><td>{{pct .Model.Loss}}</td><td class="l">{{.Model.LossSource}}</td><td>{{ms .Model.StartupMS}}</td><td class="l">{{.Model.StartupSource}}</td><td>{{f3 .Model.KSPeer}}</td><td>{{ms .Model.FittedStartupMS}}</td><td>{{f3 .Model.KSPeerFitted}}</td><td>{{worstK .Model.KSByK}}</td>{{with .Model.Measured}}<td>{{f3 .KSPeer}}</td><td>{{worstK .KSByK}}</td>{{else}}<td>–</td><td>–</td>{{end}}</tr>{{end}}
{{end}}</table>
<p class="note">Measured phases: where the wire was captured, the model is also evaluated with each run's measured ready time of node A, each peer's measured announce phase after it (its first due announcement, lost or not), its measured period, the achieved loss inside A's listening window and the median processing+API, mixing the runs (at most 128): the peers of one run keep their real, correlated phases.</p>
<p class="note">Caveat: peers' announce tickers keep fixed offsets in the lab, so discovery times of different peers within one run are correlated; the k-th peer model assumes independence. With the aligned phase mode the uniform-phase assumption does not hold and a large KS is expected.</p>

{{range .S.Conditions}}{{$c := .}}
<h2 id="cond-{{.Name}}">Condition {{.Name}}</h2>
<p>Backend <b>{{.Backend}}</b>{{if .Impairment.Target}}, target {{.Impairment.Target}}{{end}}, loss requested {{.RequestedLossPct}} %, achieved {{ptrpc .AchievedLossPct}}{{if .PacketsSeen}} ({{.PacketsDropped}} of {{.PacketsSeen}} packets dropped){{end}}{{if .Impairment.DelayMS}}, delay {{.Impairment.DelayMS}} ms{{end}}. Phase: {{.PhaseLabel}}. {{.Runs}} runs ({{.WarmupRuns}} warm-up, {{.AbortedRuns}} aborted and {{.FaultedRuns}} faulted excluded), {{.TimedOutRuns}} timed out, {{.MissingPeers}} missing (run, peer) pairs. Flaps: {{.Flaps}} in {{printf "%.1f" .PeerMinutes}} peer-minutes = {{f3 .FlapRate}} false failure detections per peer-minute.{{if .PhaseHist}} Start phase: {{phaseSpread .}}{{if .OffCycleRuns}}; {{.OffCycleRuns}} run(s) off cycle (the reset overran C){{end}}. Each run's phase is in <code>testbed export</code> (phaseMS, offCycle).{{end}}</p>
{{if .Faults}}<p class="warn"><b>Lab faults</b> (runs excluded; times since the run's t0):</p><ul>{{range .Faults}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{with $.M.Reference}}<p><b>Published figure</b> ({{.Source}}): node A's first peer at {{ms .FirstPeerMS}} ms{{if .Note}} ({{.Note}}){{end}}. Measured here: first-peer median {{ms $c.FirstPeer.Median}} ms, IQR {{ms $c.FirstPeer.IQR}} ms, range {{ms $c.FirstPeer.Min}}–{{ms $c.FirstPeer.Max}} ms over {{$c.FirstPeer.N}} runs, phase {{$c.PhaseLabel}}.</p>{{end}}
<table>
<tr><th class="l">metric (s)</th><th>n</th><th>min</th><th>p25</th><th>median</th><th>p75</th><th>p90</th><th>p99</th><th>max</th><th>mean</th><th>stdev</th><th>IQR</th></tr>
{{range rows .}}<tr><td class="l">{{.Name}}</td>{{with .D}}<td>{{.N}}</td><td>{{sec .Min}}</td><td>{{sec .P25}}</td><td>{{sec .Median}}</td><td>{{sec .P75}}</td><td>{{sec .P90}}</td><td>{{sec .P99}}</td><td>{{sec .Max}}</td><td>{{sec .Mean}}</td><td>{{sec .Stdev}}</td><td>{{sec .IQR}}</td>{{end}}</tr>
{{end}}</table>
<div class="grid">{{range index $.PerCond .Name}}<figure>{{.SVG}}<figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>
<details><summary>Per individual peer ({{len .ByPeer}} peers)</summary>
<table>
<tr><th class="l">peer</th><th>n</th><th>missing</th><th>flaps</th><th>min</th><th>p25</th><th>median</th><th>p75</th><th>p90</th><th>p99</th><th>max</th><th>mean</th><th>stdev</th><th>IQR</th></tr>
{{range .ByPeer}}<tr><td class="l">{{.Peer}}</td><td>{{.N}}</td><td>{{.Missing}}</td><td>{{.Flaps}}</td><td>{{sec .Min}}</td><td>{{sec .P25}}</td><td>{{sec .Median}}</td><td>{{sec .P75}}</td><td>{{sec .P90}}</td><td>{{sec .P99}}</td><td>{{sec .Max}}</td><td>{{sec .Mean}}</td><td>{{sec .Stdev}}</td><td>{{sec .IQR}}</td></tr>
{{end}}</table></details>
{{end}}

<h2 id="manifest">Manifest</h2>
<details><summary>Software, host, lab, conditions and input files of this campaign</summary>
<div class="grid">
<table>
<tr><th class="l" colspan="2">campaign</th></tr>
<tr><td class="l">id</td><td class="l">{{.M.Campaign}}</td></tr>
<tr><td class="l">kind</td><td class="l">{{.M.Kind}}</td></tr>
<tr><td class="l">started</td><td class="l">{{.M.Started.UTC.Format "2006-01-02 15:04:05 MST"}}</td></tr>
<tr><td class="l">ended</td><td class="l">{{if .M.Ended.IsZero}}–{{else}}{{.M.Ended.UTC.Format "2006-01-02 15:04:05 MST"}}{{end}}</td></tr>
<tr><td class="l">seed</td><td class="l">{{.M.Seed}}</td></tr>
<tr><td class="l">protocol</td><td class="l">{{.M.Protocol}}</td></tr>
<tr><td class="l">node A</td><td class="l">{{.M.NodeA}}</td></tr>
<tr><td class="l">peers</td><td class="l">{{len .M.Peers}}: {{join .M.Peers}}</td></tr>
<tr><td class="l">phase mode</td><td class="l">{{.S.PhaseLabel}}</td></tr>
<tr><td class="l">announce interval T</td><td class="l">{{ms .M.AnnounceIntervalMS}} ms</td></tr>
<tr><td class="l">measurements</td><td class="l">{{join .M.Measurements}}</td></tr>
</table>
<table>
<tr><th class="l" colspan="2">software, host and lab</th></tr>
<tr><td class="l">tool</td><td class="l">{{.M.Software.Tool}}{{if .M.Software.Commit}} ({{.M.Software.Commit}}){{end}}</td></tr>
<tr><td class="l">go / kind / helm</td><td class="l">{{.M.Software.Go}} / {{.M.Software.Kind}} / {{.M.Software.Helm}}</td></tr>
<tr><td class="l">client-go / docker</td><td class="l">{{.M.Software.ClientGo}} / {{.M.Software.Docker}}</td></tr>
<tr><td class="l">kernel, cgroup</td><td class="l">{{.M.Host.Kernel}} {{.M.Host.CgroupMode}}</td></tr>
<tr><td class="l">CPU</td><td class="l">{{.M.Host.CPUModel}}{{if .M.Host.CPUs}} × {{.M.Host.CPUs}}{{end}}{{if .M.Host.MemoryMiB}}, {{.M.Host.MemoryMiB}} MiB{{end}}</td></tr>
<tr><td class="l">impairment backend</td><td class="l">{{.M.Host.ImpairmentBackend}}</td></tr>
<tr><td class="l">topology</td><td class="l">{{.M.Lab.Topology}} ({{len .M.Lab.Clusters}} clusters)</td></tr>
<tr><td class="l">node image</td><td class="l">{{.M.Lab.NodeImage}} {{.M.Lab.NodeImageDigest}}</td></tr>
<tr><td class="l">multus / CNI plugins</td><td class="l">{{.M.Lab.Multus}} / {{.M.Lab.CNIPlugins}}</td></tr>
{{range $k, $v := .M.Lab.Charts}}<tr><td class="l">chart {{$k}}</td><td class="l">{{$v}}</td></tr>{{end}}
{{range $k, $v := .M.Lab.Images}}<tr><td class="l">image {{$k}}</td><td class="l">{{$v}}</td></tr>{{end}}
</table>
</div>
<div class="scroll"><table>
<tr><th class="l">condition</th><th class="l">backend</th><th class="l">target</th><th>loss</th><th>delay</th><th>jitter</th><th>correlation</th><th>duplicate</th><th>corrupt</th><th class="l">rate</th><th>runs</th><th>warm-up</th></tr>
{{range .M.Conditions}}<tr><td class="l">{{.Name}}</td><td class="l">{{.Impairment.Backend}}</td><td class="l">{{.Impairment.Target}}</td><td>{{.Impairment.LossPct}} %</td><td>{{.Impairment.DelayMS}} ms</td><td>{{.Impairment.JitterMS}} ms</td><td>{{.Impairment.CorrelationPct}} %</td><td>{{.Impairment.DuplicatePct}} %</td><td>{{.Impairment.CorruptPct}} %</td><td class="l">{{.Impairment.Rate}}</td><td>{{.Runs}}</td><td>{{.Warmup}}</td></tr>
{{end}}</table></div>
{{range .M.Inputs}}<details><summary>input {{.Role}}: {{.Path}} (sha256 {{.SHA256}})</summary><pre>{{.Content}}</pre></details>
{{end}}
</details>
</body>
</html>
`
