package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

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
}

// Report is the sweep report (report/summary.json).
type Report struct {
	Sweep  string   `json:"sweep"`
	Points []Point  `json:"points"`
	Files  []string `json:"files"`
	// Incomplete lists cells without a campaign yet.
	Incomplete []string `json:"incomplete,omitempty"`
}

// Collect analyses every cell campaign of the sweep in dir.
func Collect(dir string) (*Report, map[Cell]*store.Campaign, error) {
	st, err := ReadState(dir)
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{Sweep: st.Name}
	camps := map[Cell]*store.Campaign{}
	for _, cs := range st.Cells {
		cdir := filepath.Join(dir, cs.Dir)
		if _, err := os.Stat(filepath.Join(cdir, store.FileManifest)); err != nil {
			rep.Incomplete = append(rep.Incomplete, cs.Cell.String())
			continue
		}
		camp, err := store.Read(cdir)
		if err != nil {
			return nil, nil, fmt.Errorf("cell %s: %w", cs.Cell, err)
		}
		camps[cs.Cell] = camp
		rep.Points = append(rep.Points, Points(cs.Cell, camp)...)
	}
	return rep, camps, nil
}

// Points are the sweep points of one cell's campaign.
func Points(c Cell, camp *store.Campaign) []Point {
	sum := stats.Analyze(camp)
	deadline := 2 * camp.Manifest.AnnounceIntervalMS
	var out []Point
	for _, cs := range sum.Conditions {
		p := Point{Cell: c, Condition: cs.Name, LossPct: cs.RequestedLossPct, Runs: cs.Runs, TimedOut: cs.TimedOutRuns,
			AllPeers: cs.AllPeers, FirstPeer: cs.FirstPeer, DeadlineMS: deadline, Campaign: camp.Manifest.Campaign}
		if cs.RequestedLossPct == 0 {
			p.LossPct = cs.Impairment.LossPct
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

// WriteReport writes dir/report/: summary.json, report.md and, per
// protocol, SVG plots of median and p90 against cluster count (one line per
// condition) for allPeers and firstPeer, and of responsiveness.
func WriteReport(ctx context.Context, dir string) (*Report, error) {
	rep, _, err := Collect(dir)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, DirReport)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", out, err)
	}
	byProto := map[string][]Point{}
	var protos []string
	for _, p := range rep.Points {
		if _, ok := byProto[p.Protocol]; !ok {
			protos = append(protos, p.Protocol)
		}
		byProto[p.Protocol] = append(byProto[p.Protocol], p)
	}
	for _, proto := range protos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pts := byProto[proto]
		for _, metric := range []string{compare.MetricAllPeers, compare.MetricFirstPeer} {
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
				return nil, fmt.Errorf("sweep %s: plotting %s: %w", rep.Sweep, metric, err)
			}
			svg, err := fig.SVG()
			if err != nil {
				return nil, fmt.Errorf("sweep %s: rendering %s: %w", rep.Sweep, metric, err)
			}
			name := fmt.Sprintf("sweep-%s-%s.svg", proto, metric)
			if err := store.WriteFileAtomic(filepath.Join(out, name), svg); err != nil {
				return nil, err
			}
			rep.Files = append(rep.Files, filepath.Join(DirReport, name))
		}
		svg, err := responsivenessSVG(proto, pts)
		if err != nil {
			return nil, fmt.Errorf("sweep %s: plotting responsiveness: %w", rep.Sweep, err)
		}
		name := fmt.Sprintf("sweep-%s-responsiveness.svg", proto)
		if err := store.WriteFileAtomic(filepath.Join(out, name), svg); err != nil {
			return nil, err
		}
		rep.Files = append(rep.Files, filepath.Join(DirReport, name))
	}
	md := Markdown(rep)
	if err := store.WriteFileAtomic(filepath.Join(out, "report.md"), []byte(md)); err != nil {
		return nil, err
	}
	rep.Files = append(rep.Files, filepath.Join(DirReport, "report.md"), filepath.Join(DirReport, "summary.json"))
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the sweep summary: %w", err)
	}
	if err := store.WriteFileAtomic(filepath.Join(out, "summary.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	return rep, nil
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
			fmt.Fprintf(&b, "| clusters | condition | runs | timed out | all peers median (ms) | all peers p90 (ms) | first peer median (ms) | responsiveness (all within %s) |\n", fmtMS(p.DeadlineMS))
			b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|\n")
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %d | %s | %s | %s | %.2f |\n", p.Clusters, p.Condition, p.Runs, p.TimedOut,
			fmtDist(p.AllPeers.N, p.AllPeers.Median), fmtDist(p.AllPeers.N, p.AllPeers.P90), fmtDist(p.FirstPeer.N, p.FirstPeer.Median), p.Responsiveness)
		_ = proto
	}
	if len(rep.Incomplete) > 0 {
		fmt.Fprintf(&b, "\nCells without results: %s\n", strings.Join(rep.Incomplete, ", "))
	}
	b.WriteString("\nQuantiles are type 7. Warm-up and aborted runs are excluded. Responsiveness counts runs in which node A found every peer within two announce periods.\n")
	return b.String()
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
// on each cell's comparison.
func CompareSweeps(baseDir, candDir string, o compare.Options, rules []compare.Threshold) (*SweepComparison, error) {
	_, base, err := Collect(baseDir)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	_, cand, err := Collect(candDir)
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
		cmp := compare.Campaigns(base[c], cc, o)
		out.Cells = append(out.Cells, CellComparison{Cell: c, Comparison: cmp, Breaches: cmp.Check(rules)})
	}
	sort.Strings(out.Unmatched)
	return out, nil
}
