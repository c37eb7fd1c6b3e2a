package store

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/fluidos-lab/testbed/results"
)

// ExportRow is one (run, peer) pair in tidy form. Nil pointers are values
// that were not observed; CSV writes them as empty cells.
type ExportRow struct {
	Campaign         string   `json:"campaign"`
	Condition        string   `json:"condition"`
	Run              int      `json:"run"`
	Warmup           bool     `json:"warmup"`
	Aborted          bool     `json:"aborted"`
	TimedOut         bool     `json:"timedOut"`
	Started          string   `json:"started"`
	NodeA            string   `json:"nodeA"`
	Protocol         string   `json:"protocol"`
	Phase            string   `json:"phase"`
	PauseMS          float64  `json:"pauseMS"`
	CycleOverheadMS  float64  `json:"cycleOverheadMS"`
	Backend          string   `json:"backend"`
	Target           string   `json:"target"`
	LossPct          float64  `json:"lossPct"`
	AchievedLossPct  *float64 `json:"achievedLossPct"`
	DelayMS          float64  `json:"delayMS"`
	JitterMS         float64  `json:"jitterMS"`
	CorrelationPct   float64  `json:"correlationPct"`
	Peer             string   `json:"peer"`
	Discovered       bool     `json:"discovered"`
	DiscoveredMS     *float64 `json:"discoveredMS"`
	ReverseMS        *float64 `json:"reverseMS"`
	GoneMS           *float64 `json:"goneMS"`
	TruthMS          *float64 `json:"truthMS"`
	TruthSendMS      *float64 `json:"truthSendMS"`
	Flaps            int      `json:"flaps"`
	ContainerStartMS *float64 `json:"containerStartMS"`
	ScheduledMS      *float64 `json:"scheduledMS"`
	PodStartedMS     *float64 `json:"podStartedMS"`
	ReadyMS          *float64 `json:"readyMS"`
	ProtocolMS       *float64 `json:"protocolMS"`
	APILatencyMS     *float64 `json:"apiLatencyMS"`
	LeaveMS          *float64 `json:"leaveMS"`
	// GoneAfterLeaveMS is goneMS − leaveMS: how long the peer took to drop A.
	GoneAfterLeaveMS *float64 `json:"goneAfterLeaveMS"`
	// PhaseMS is the run's achieved start phase (Run.PhaseMS); OffCycle and
	// SincePreviousEndMS come from an aligned run's cycle record.
	PhaseMS            *float64 `json:"phaseMS"`
	OffCycle           bool     `json:"offCycle"`
	SincePreviousEndMS *float64 `json:"sincePreviousEndMS"`
}

// ExportRows flattens a campaign into one row per run × peer, peers in
// manifest order (peers a run did not mention get a row with
// discovered=false). Warm-up and aborted runs are included and flagged.
func ExportRows(c *Campaign) []ExportRow {
	peers := ExpectedPeers(c.Manifest, c.Runs)
	var out []ExportRow
	for i := range c.Runs {
		out = appendRows(out, c.Manifest, peers, &c.Runs[i])
	}
	return out
}

// Export formats.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// ExportDir streams the campaign in dir to w as CSV or JSON, exactly as
// WriteCSV or WriteJSON of ExportRows would, without holding its runs: a
// first pass applies the integrity rules (and, when the manifest names no
// peers, collects them), a second writes the rows, so that nothing is
// written for a campaign a reader refuses. The returned campaign carries
// the manifest and warnings. It stops with ctx's error when ctx ends.
func ExportDir(ctx context.Context, w io.Writer, dir, format string) (*Campaign, error) {
	if format != FormatCSV && format != FormatJSON {
		return nil, fmt.Errorf("export format %q: use %s or %s", format, FormatCSV, FormatJSON)
	}
	st, err := OpenStream(dir)
	if err != nil {
		return nil, err
	}
	c := st.Campaign()
	peers := c.Manifest.Peers
	mentioned := map[string]bool{}
	if err := st.EachTransient(ctx, func(r *results.Run) error {
		if len(c.Manifest.Peers) == 0 {
			for i := range r.Peers {
				mentioned[r.Peers[i].Peer] = true
			}
			for _, p := range r.Missing {
				mentioned[p] = true
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if len(peers) == 0 {
		for p := range mentioned {
			peers = append(peers, p)
		}
		sort.Strings(peers)
	}
	rw := newRowWriter(w, format)
	var rows []ExportRow
	if err := st.EachTransient(ctx, func(r *results.Run) error {
		rows = appendRows(rows[:0], c.Manifest, peers, r)
		for i := range rows {
			if err := rw.write(&rows[i]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := rw.close(); err != nil {
		return nil, err
	}
	return c, nil
}

// rowWriter writes rows one at a time in the format of WriteCSV / WriteJSON.
type rowWriter struct {
	format string
	w      io.Writer
	csv    *csv.Writer
	n      int
}

func newRowWriter(w io.Writer, format string) *rowWriter {
	rw := &rowWriter{format: format, w: w}
	if format == FormatCSV {
		rw.csv = csv.NewWriter(w)
	}
	return rw
}

func (rw *rowWriter) write(r *ExportRow) error {
	if rw.format == FormatCSV {
		if rw.n == 0 {
			if err := rw.csv.Write(exportHeader()); err != nil {
				return fmt.Errorf("writing csv: %w", err)
			}
		}
		rw.n++
		if err := rw.csv.Write(r.record()); err != nil {
			return fmt.Errorf("writing csv: %w", err)
		}
		return nil
	}
	// The layout of json.Encoder with SetIndent("", "  ") of the array.
	b, err := json.MarshalIndent(r, "  ", "  ")
	if err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	sep := ",\n  "
	if rw.n == 0 {
		sep = "[\n  "
	}
	rw.n++
	if _, err := io.WriteString(rw.w, sep); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	if _, err := rw.w.Write(b); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}

func (rw *rowWriter) close() error {
	if rw.format == FormatCSV {
		if rw.n == 0 {
			if err := rw.csv.Write(exportHeader()); err != nil {
				return fmt.Errorf("writing csv: %w", err)
			}
		}
		rw.csv.Flush()
		if err := rw.csv.Error(); err != nil {
			return fmt.Errorf("writing csv: %w", err)
		}
		return nil
	}
	end := "\n]\n"
	if rw.n == 0 {
		end = "[]\n"
	}
	if _, err := io.WriteString(rw.w, end); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}

// appendRows appends the rows of one run.
func appendRows(out []ExportRow, m results.Manifest, peers []string, rp *results.Run) []ExportRow {
	{
		r := *rp
		base := ExportRow{
			Campaign: r.Campaign, Condition: r.Condition, Run: r.Index,
			Warmup: r.Warmup, Aborted: r.Aborted, TimedOut: r.TimedOut,
			NodeA: r.NodeA, Protocol: r.Protocol, Phase: r.Phase,
			PauseMS: r.PauseMS, CycleOverheadMS: r.CycleOverheadMS, PhaseMS: r.PhaseMS,
			Backend: r.Impairment.Backend, Target: r.Impairment.Target,
			LossPct: r.Impairment.LossPct, AchievedLossPct: r.Impairment.AchievedLossPct,
			DelayMS: r.Impairment.DelayMS, JitterMS: r.Impairment.JitterMS, CorrelationPct: r.Impairment.CorrelationPct,
			ContainerStartMS: r.Pod.ContainerStartMS, ScheduledMS: r.Pod.ScheduledMS,
			PodStartedMS: r.Pod.StartedMS, ReadyMS: r.Pod.ReadyMS, LeaveMS: r.Pod.LeaveMS,
		}
		if base.Campaign == "" {
			base.Campaign = m.Campaign
		}
		if !r.Started.IsZero() {
			base.Started = r.Started.UTC().Format(time.RFC3339Nano)
		}
		if r.APILatencyMS != 0 {
			base.APILatencyMS = new(r.APILatencyMS)
		}
		if c := r.Cycle; c != nil {
			base.OffCycle = c.OffCycle
			if c.SincePreviousEndMS != 0 {
				base.SincePreviousEndMS = new(c.SincePreviousEndMS)
			}
		}
		byPeer := map[string]results.PeerTiming{}
		var order []string
		for _, p := range r.Peers {
			if _, ok := byPeer[p.Peer]; !ok {
				order = append(order, p.Peer)
				byPeer[p.Peer] = p
			}
		}
		known := map[string]bool{}
		all := make([]string, 0, len(peers)+len(order))
		for _, p := range peers {
			known[p] = true
			all = append(all, p)
		}
		for _, p := range order {
			if !known[p] {
				all = append(all, p)
			}
		}
		for _, name := range all {
			row := base
			row.Peer = name
			if p, ok := byPeer[name]; ok {
				row.DiscoveredMS, row.ReverseMS, row.GoneMS = p.DiscoveredMS, p.ReverseMS, p.GoneMS
				row.TruthMS, row.TruthSendMS, row.Flaps = p.TruthMS, p.TruthSendMS, len(p.Flaps)
			}
			row.Discovered = row.DiscoveredMS != nil
			if row.DiscoveredMS != nil && row.ContainerStartMS != nil {
				row.ProtocolMS = new(*row.DiscoveredMS - *row.ContainerStartMS)
			}
			if row.GoneMS != nil && row.LeaveMS != nil {
				row.GoneAfterLeaveMS = new(*row.GoneMS - *row.LeaveMS)
			}
			out = append(out, row)
		}
	}
	return out
}

// exportHeader is the CSV header, in ExportRow field order.
func exportHeader() []string {
	return []string{"campaign", "condition", "run", "warmup", "aborted", "timedOut", "started", "nodeA", "protocol",
		"phase", "pauseMS", "cycleOverheadMS", "backend", "target", "lossPct", "achievedLossPct", "delayMS", "jitterMS",
		"correlationPct", "peer", "discovered", "discoveredMS", "reverseMS", "goneMS", "truthMS", "truthSendMS", "flaps",
		"containerStartMS", "scheduledMS", "podStartedMS", "readyMS", "protocolMS", "apiLatencyMS", "leaveMS", "goneAfterLeaveMS",
		"phaseMS", "offCycle", "sincePreviousEndMS"}
}

func fnum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func fopt(f *float64) string {
	if f == nil {
		return ""
	}
	return fnum(*f)
}

func (r ExportRow) record() []string {
	return []string{r.Campaign, r.Condition, strconv.Itoa(r.Run), strconv.FormatBool(r.Warmup), strconv.FormatBool(r.Aborted),
		strconv.FormatBool(r.TimedOut), r.Started, r.NodeA, r.Protocol, r.Phase, fnum(r.PauseMS), fnum(r.CycleOverheadMS),
		r.Backend, r.Target, fnum(r.LossPct), fopt(r.AchievedLossPct), fnum(r.DelayMS), fnum(r.JitterMS), fnum(r.CorrelationPct),
		r.Peer, strconv.FormatBool(r.Discovered), fopt(r.DiscoveredMS), fopt(r.ReverseMS), fopt(r.GoneMS), fopt(r.TruthMS),
		fopt(r.TruthSendMS), strconv.Itoa(r.Flaps), fopt(r.ContainerStartMS), fopt(r.ScheduledMS), fopt(r.PodStartedMS),
		fopt(r.ReadyMS), fopt(r.ProtocolMS), fopt(r.APILatencyMS), fopt(r.LeaveMS), fopt(r.GoneAfterLeaveMS),
		fopt(r.PhaseMS), strconv.FormatBool(r.OffCycle), fopt(r.SincePreviousEndMS)}
}

// WriteCSV writes rows as CSV with a header row; booleans are true/false
// and unobserved values are empty cells.
func WriteCSV(w io.Writer, rows []ExportRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(exportHeader()); err != nil {
		return fmt.Errorf("writing csv: %w", err)
	}
	for _, r := range rows {
		if err := cw.Write(r.record()); err != nil {
			return fmt.Errorf("writing csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing csv: %w", err)
	}
	return nil
}

// WriteJSON writes rows as one JSON array (null for unobserved values).
func WriteJSON(w io.Writer, rows []ExportRow) error {
	if rows == nil {
		rows = []ExportRow{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rows); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}
