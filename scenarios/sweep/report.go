package sweep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/results/plot"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

// DirReport is where the sweep report goes inside the sweep directory.
const DirReport = "report"

// Point is one condition of one cell.
type Point struct {
	Cell
	Condition string  `json:"condition"`
	LossPct   float64 `json:"lossPct"`
	Runs      int     `json:"runs"`
	TimedOut  int     `json:"timedOut"`
	// AllPeers and FirstPeer are ms from node A's start.
	AllPeers  stats.Dist `json:"allPeers"`
	FirstPeer stats.Dist `json:"firstPeer"`
	// Responsiveness is the fraction of runs in which node A found every
	// peer within DeadlineMS (two announce periods).
	Responsiveness float64 `json:"responsiveness"`
	DeadlineMS     float64 `json:"deadlineMS"`
	Campaign       string  `json:"campaign"`
	// AnnouncementsPerSec and BytesPerSec are one sender's discovery
	// traffic on the lab network (mean over senders and runs), from the
	// wire capture; nil without one. The whole lab's is Clusters times it.
	AnnouncementsPerSec *float64 `json:"announcementsPerSec,omitempty"`
	BytesPerSec         *float64 `json:"bytesPerSec,omitempty"`
}

// Report is the sweep report (report/summary.json).
type Report struct {
	Sweep  string   `json:"sweep"`
	Points []Point  `json:"points"`
	Files  []string `json:"files"`
	// Incomplete lists cells without a campaign yet.
	Incomplete []string `json:"incomplete,omitempty"`
	// Warnings are the readers' warnings about the cells' campaigns, each
	// naming its runs.jsonl and line.
	Warnings []string `json:"warnings,omitempty"`
}

// cellDir returns the campaign directory of a cell of the sweep in dir,
// refusing a recorded directory that leaves the sweep directory.
func cellDir(dir string, cs CellState) (string, error) {
	if !filepath.IsLocal(cs.Dir) {
		return "", fmt.Errorf("cell %s: %s records the directory %q, which is not inside the sweep directory %s", cs.Cell, FileState, cs.Dir, dir)
	}
	return filepath.Join(dir, cs.Dir), nil
}

// collected is one cell with a campaign.
type collected struct {
	dir  string
	camp *store.Campaign
}

// collect analyses every cell campaign of the sweep in dir (see Collect).
func collect(ctx context.Context, dir string) (*Report, map[Cell]collected, error) {
	st, err := ReadState(dir)
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{Sweep: st.Name}
	cells := map[Cell]collected{}
	for _, cs := range st.Cells {
		cdir, err := cellDir(dir, cs)
		if err != nil {
			return nil, nil, err
		}
		if _, err := os.Stat(filepath.Join(cdir, store.FileManifest)); err != nil {
			rep.Incomplete = append(rep.Incomplete, cs.Cell.String())
			continue
		}
		sum, camp, err := stats.AnalyzeDir(ctx, cdir)
		if err != nil {
			return nil, nil, fmt.Errorf("cell %s: %w", cs.Cell, err)
		}
		cells[cs.Cell] = collected{dir: cdir, camp: camp}
		rep.Warnings = append(rep.Warnings, camp.Warnings...)
		rep.Points = append(rep.Points, points(cs.Cell, camp.Manifest, sum)...)
	}
	return rep, cells, nil
}

// Collect analyses every cell campaign of the sweep in dir, streaming each
// (stats.AnalyzeDir). The returned campaigns carry their manifest and
// warnings, not their runs (stream those with store.Scan). It stops with
// ctx's error when ctx ends.
func Collect(ctx context.Context, dir string) (*Report, map[Cell]*store.Campaign, error) {
	rep, cells, err := collect(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	camps := make(map[Cell]*store.Campaign, len(cells))
	for c, cc := range cells {
		camps[c] = cc.camp
	}
	return rep, camps, nil
}

// Points are the sweep points of one cell's campaign (held in memory).
func Points(c Cell, camp *store.Campaign) []Point {
	return points(c, camp.Manifest, stats.Analyze(camp))
}

func points(c Cell, m results.Manifest, sum *stats.Summary) []Point {
	deadline := 2 * m.AnnounceIntervalMS
	var out []Point
	for _, cs := range sum.Conditions {
		p := Point{Cell: c, Condition: cs.Name, LossPct: cs.RequestedLossPct, Runs: cs.Runs, TimedOut: cs.TimedOutRuns,
			AllPeers: cs.AllPeers, FirstPeer: cs.FirstPeer, DeadlineMS: deadline, Campaign: m.Campaign}
		if cs.RequestedLossPct == 0 {
			p.LossPct = cs.Impairment.LossPct
		}
		if w := cs.Wire; w != nil && w.AnnouncementsPerSec > 0 {
			p.AnnouncementsPerSec, p.BytesPerSec = new(w.AnnouncementsPerSec), new(w.BytesPerSec)
		}
		if cs.Runs > 0 && deadline > 0 {
			n := 0
			for _, v := range cs.Samples.AllPeers {
				if v <= deadline {
					n++
				}
			}
			p.Responsiveness = float64(n) / float64(cs.Runs)
		}
		out = append(out, p)
	}
	return out
}

// MaxFileComponent is the longest input-derived part of a report file name.
const MaxFileComponent = 64

// checkFileComponent refuses an input-derived name (a protocol from
// sweep.json) that cannot be part of a file name inside the report
// directory: empty, longer than MaxFileComponent, "." or "..", with a path
// separator, NUL or any byte outside [A-Za-z0-9._-], or starting with a dot.
// Names are refused rather than rewritten, so two protocols can never
// collide on one file.
func checkFileComponent(what, name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%s %q cannot name a report file: %s", what, name, why)
	}
	switch {
	case name == "":
		return bad("it is empty")
	case len(name) > MaxFileComponent:
		return bad(fmt.Sprintf("it is longer than %d bytes", MaxFileComponent))
	case strings.ContainsAny(name, "/\\"):
		return bad("it contains a path separator")
	case strings.ContainsRune(name, 0):
		return bad("it contains a NUL byte")
	case strings.Contains(name, ".."):
		return bad(`it contains ".."`)
	case name[0] == '.':
		return bad("it starts with a dot")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return bad(fmt.Sprintf("it contains %q (use letters, digits, '.', '_' and '-')", r))
		}
	}
	return nil
}

// writeFileIn writes data to name inside root atomically (temp file in the
// same directory, fsync, rename, fsync of the directory): every write goes
// through the os.Root, so no name (nor a symlink planted in the directory)
// can make it land outside.
func writeFileIn(root *os.Root, name string, data []byte) error {
	if !filepath.IsLocal(name) || filepath.Base(name) != name {
		return fmt.Errorf("writing %s in %s: not a plain file name", name, root.Name())
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Join(root.Name(), name), err)
	}
	fail := func(err error) error {
		f.Close()
		root.Remove(tmp)
		return fmt.Errorf("writing %s: %w", filepath.Join(root.Name(), name), err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		root.Remove(tmp)
		return fmt.Errorf("writing %s: %w", filepath.Join(root.Name(), name), err)
	}
	if err := root.Rename(tmp, name); err != nil {
		root.Remove(tmp)
		return fmt.Errorf("renaming into %s: %w", filepath.Join(root.Name(), name), err)
	}
	d, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("syncing %s: %w", root.Name(), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", root.Name(), err)
	}
	return nil
}

// WriteReport writes dir/report/: summary.json, report.md and, per
// protocol, SVG plots of median and p90 against cluster count (one line per
// condition) for allPeers and firstPeer, and of responsiveness. Every file
// is written through an os.Root of dir/report, and a protocol name that
// cannot be a file name (checkFileComponent) is an error.
func WriteReport(ctx context.Context, dir string) (*Report, error) {
	rep, _, err := collect(ctx, dir)
	if err != nil {
		return nil, err
	}
	protos, byProto, err := pointsByProtocol(rep)
	if err != nil {
		return nil, err
	}
	top, out, err := openReportDir(dir)
	if err != nil {
		return nil, err
	}
	defer top.Close()
	defer out.Close()
	for _, proto := range protos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := writeProtocolPlots(out, rep, proto, byProto[proto]); err != nil {
			return nil, err
		}
	}
	if err := writeSummary(out, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// pointsByProtocol groups the report's points by protocol, the protocols in
// order of first appearance; a protocol that cannot be a file name is an
// error.
func pointsByProtocol(rep *Report) ([]string, map[string][]Point, error) {
	byProto := map[string][]Point{}
	var protos []string
	for _, p := range rep.Points {
		if _, ok := byProto[p.Protocol]; !ok {
			if err := checkFileComponent("sweep "+rep.Sweep+": cell protocol", p.Protocol); err != nil {
				return nil, nil, err
			}
			protos = append(protos, p.Protocol)
		}
		byProto[p.Protocol] = append(byProto[p.Protocol], p)
	}
	return protos, byProto, nil
}

// openReportDir creates dir/report and opens os.Roots of dir and of
// dir/report; the caller closes both.
func openReportDir(dir string) (top, out *os.Root, err error) {
	top, err = os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("opening sweep directory: %w", err)
	}
	if err := top.MkdirAll(DirReport, 0o755); err != nil {
		top.Close()
		return nil, nil, fmt.Errorf("creating %s: %w", filepath.Join(dir, DirReport), err)
	}
	out, err = top.OpenRoot(DirReport)
	if err != nil {
		top.Close()
		return nil, nil, fmt.Errorf("opening %s: %w", filepath.Join(dir, DirReport), err)
	}
	return top, out, nil
}

// writeProtocolPlots writes one protocol's allPeers, firstPeer and
// responsiveness plots into out and lists them in rep.Files.
func writeProtocolPlots(out *os.Root, rep *Report, proto string, pts []Point) error {
	for _, metric := range []string{compare.MetricAllPeers, compare.MetricFirstPeer} {
		svg, err := metricSVG(rep.Sweep, metric, pts)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("sweep-%s-%s.svg", proto, metric)
		if err := writeFileIn(out, name, svg); err != nil {
			return err
		}
		rep.Files = append(rep.Files, filepath.Join(DirReport, name))
	}
	svg, err := responsivenessSVG(proto, pts)
	if err != nil {
		return fmt.Errorf("sweep %s: plotting responsiveness: %w", rep.Sweep, err)
	}
	name := fmt.Sprintf("sweep-%s-responsiveness.svg", proto)
	if err := writeFileIn(out, name, svg); err != nil {
		return err
	}
	rep.Files = append(rep.Files, filepath.Join(DirReport, name))
	return nil
}

// metricSVG plots metric (allPeers or firstPeer) of pts against cluster
// count, one line per condition.
func metricSVG(sweep, metric string, pts []Point) ([]byte, error) {
	var sp []plot.SweepPoint
	for _, p := range pts {
		d := p.AllPeers
		if metric == compare.MetricFirstPeer {
			d = p.FirstPeer
		}
		sp = append(sp, plot.SweepPoint{Clusters: p.Clusters, Condition: p.Condition, LossPct: p.LossPct, Stats: d})
	}
	fig, err := plot.Sweep(metric, sp)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: plotting %s: %w", sweep, metric, err)
	}
	svg, err := fig.SVG()
	if err != nil {
		return nil, fmt.Errorf("sweep %s: rendering %s: %w", sweep, metric, err)
	}
	return svg, nil
}

// writeSummary writes report.md and summary.json into out, both listed in
// rep.Files (summary.json included).
func writeSummary(out *os.Root, rep *Report) error {
	md := Markdown(rep)
	if err := writeFileIn(out, "report.md", []byte(md)); err != nil {
		return err
	}
	rep.Files = append(rep.Files, filepath.Join(DirReport, "report.md"), filepath.Join(DirReport, "summary.json"))
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the sweep summary: %w", err)
	}
	return writeFileIn(out, "summary.json", append(b, '\n'))
}

// Markdown renders the report as tables: one per protocol, one row per
// (cluster count, condition).
func Markdown(rep *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Sweep %s\n\n", rep.Sweep)
	pts := append([]Point(nil), rep.Points...)
	sort.SliceStable(pts, func(i, j int) bool {
		if pts[i].Protocol != pts[j].Protocol {
			return pts[i].Protocol < pts[j].Protocol
		}
		if pts[i].Clusters != pts[j].Clusters {
			return pts[i].Clusters < pts[j].Clusters
		}
		return pts[i].LossPct < pts[j].LossPct
	})
	proto := ""
	for _, p := range pts {
		if p.Protocol != proto {
			proto = p.Protocol
			fmt.Fprintf(&b, "## %s\n\n", proto)
			fmt.Fprintf(&b, "| clusters | condition | runs | timed out | all peers median (ms) | all peers p90 (ms) | first peer median (ms) | responsiveness (all within %s) | announcements/s per sender | B/s per sender | B/s whole lab |\n", fmtMS(p.DeadlineMS))
			b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %d | %s | %s | %s | %.2f | %s | %s | %s |\n", p.Clusters, p.Condition, p.Runs, p.TimedOut,
			fmtDist(p.AllPeers.N, p.AllPeers.Median), fmtDist(p.AllPeers.N, p.AllPeers.P90), fmtDist(p.FirstPeer.N, p.FirstPeer.Median), p.Responsiveness,
			fmtRate(p.AnnouncementsPerSec, 1, "%.3f"), fmtRate(p.BytesPerSec, 1, "%.1f"), fmtRate(p.BytesPerSec, float64(p.Clusters), "%.0f"))
		_ = proto
	}
	if len(rep.Incomplete) > 0 {
		fmt.Fprintf(&b, "\nCells without results: %s\n", strings.Join(rep.Incomplete, ", "))
	}
	b.WriteString("\nQuantiles are type 7. Warm-up and aborted runs are excluded. Responsiveness counts runs in which node A found every peer within two announce periods. Announcement rates come from the capture on the lab's bridge (UDP payload bytes; '-' without one).\n")
	return b.String()
}

// fmtRate formats a wire rate times f, "-" without a capture.
func fmtRate(v *float64, f float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v*f)
}

func fmtDist(n int, v float64) string {
	if n == 0 || math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtMS(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return fmt.Sprintf("%g s", ms/1000)
}

// responsivenessSVG plots responsiveness against cluster count, one line
// per condition.
func responsivenessSVG(proto string, pts []Point) ([]byte, error) {
	sp := make([]plot.SweepPoint, len(pts))
	for i, pt := range pts {
		sp[i] = plot.SweepPoint{Clusters: pt.Clusters, Condition: pt.Condition, LossPct: pt.LossPct, Responsiveness: pt.Responsiveness}
	}
	fig, err := plot.SweepResponsiveness(proto, sp)
	if err != nil {
		return nil, err
	}
	return fig.SVG()
}

// CellComparison is one cell of a sweep comparison.
type CellComparison struct {
	Cell       Cell             `json:"cell"`
	Comparison *compare.Result  `json:"comparison"`
	Breaches   []compare.Breach `json:"breaches,omitempty"`
}

// SweepComparison compares a candidate sweep against a baseline sweep.
type SweepComparison struct {
	Baseline  string           `json:"baseline"`
	Candidate string           `json:"candidate"`
	Cells     []CellComparison `json:"cells"`
	// Unmatched are cells present in only one sweep.
	Unmatched []string `json:"unmatched,omitempty"`
}

// Breaches counts every threshold breach of every cell.
func (s *SweepComparison) Breaches() int {
	n := 0
	for _, c := range s.Cells {
		n += len(c.Breaches)
	}
	return n
}

// Significant lists the rows with a significant verdict (regression or
// improvement), prefixed by their cell.
func (s *SweepComparison) Significant() []string {
	var out []string
	for _, c := range s.Cells {
		for _, r := range c.Comparison.Rows {
			if r.Verdict == compare.VerdictRegression || r.Verdict == compare.VerdictImprovement {
				out = append(out, c.Cell.String()+": "+r.String())
			}
		}
	}
	return out
}

// CompareSweeps compares every cell the two sweeps share and checks rules
// on each cell's comparison, streaming each cell's campaigns
// (compare.Dirs). Zero Alpha and Bootstrap in o take their defaults; other
// invalid options are an error (compare.Options.Validate). It stops with
// ctx's error when ctx ends.
func CompareSweeps(ctx context.Context, baseDir, candDir string, o compare.Options, rules []compare.Threshold) (*SweepComparison, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	_, base, err := collect(ctx, baseDir)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	_, cand, err := collect(ctx, candDir)
	if err != nil {
		return nil, fmt.Errorf("candidate: %w", err)
	}
	out := &SweepComparison{Baseline: baseDir, Candidate: candDir}
	var cells []Cell
	for c := range base {
		cells = append(cells, c)
	}
	for c := range cand {
		if _, ok := base[c]; !ok {
			out.Unmatched = append(out.Unmatched, c.String()+" (candidate only)")
		}
	}
	sort.Slice(cells, func(i, j int) bool {
		if cells[i].Protocol != cells[j].Protocol {
			return cells[i].Protocol < cells[j].Protocol
		}
		return cells[i].Clusters < cells[j].Clusters
	})
	for _, c := range cells {
		cc, ok := cand[c]
		if !ok {
			out.Unmatched = append(out.Unmatched, c.String()+" (baseline only)")
			continue
		}
		cmp, err := compare.Dirs(ctx, base[c].dir, cc.dir, o)
		if err != nil {
			return nil, fmt.Errorf("cell %s: %w", c, err)
		}
		out.Cells = append(out.Cells, CellComparison{Cell: c, Comparison: cmp, Breaches: cmp.Check(rules)})
	}
	sort.Strings(out.Unmatched)
	return out, nil
}
