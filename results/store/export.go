package store

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
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
}

// ExportRows flattens a campaign into one row per run × peer, peers in
// manifest order (peers a run did not mention get a row with
// discovered=false). Warm-up and aborted runs are included and flagged.
func ExportRows(c *Campaign) []ExportRow {
	peers := ExpectedPeers(c.Manifest, c.Runs)
	var out []ExportRow
	for _, r := range c.Runs {
		base := ExportRow{
			Campaign: r.Campaign, Condition: r.Condition, Run: r.Index,
			Warmup: r.Warmup, Aborted: r.Aborted, TimedOut: r.TimedOut,
			NodeA: r.NodeA, Protocol: r.Protocol, Phase: r.Phase,
			PauseMS: r.PauseMS, CycleOverheadMS: r.CycleOverheadMS,
			Backend: r.Impairment.Backend, Target: r.Impairment.Target,
			LossPct: r.Impairment.LossPct, AchievedLossPct: r.Impairment.AchievedLossPct,
			DelayMS: r.Impairment.DelayMS, JitterMS: r.Impairment.JitterMS, CorrelationPct: r.Impairment.CorrelationPct,
			ContainerStartMS: r.Pod.ContainerStartMS, ScheduledMS: r.Pod.ScheduledMS,
			PodStartedMS: r.Pod.StartedMS, ReadyMS: r.Pod.ReadyMS, LeaveMS: r.Pod.LeaveMS,
		}
		if base.Campaign == "" {
			base.Campaign = c.Manifest.Campaign
		}
		if !r.Started.IsZero() {
			base.Started = r.Started.UTC().Format(time.RFC3339Nano)
		}
		if r.APILatencyMS != 0 {
			base.APILatencyMS = new(r.APILatencyMS)
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
		"containerStartMS", "scheduledMS", "podStartedMS", "readyMS", "protocolMS", "apiLatencyMS", "leaveMS", "goneAfterLeaveMS"}
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
		fopt(r.ReadyMS), fopt(r.ProtocolMS), fopt(r.APILatencyMS), fopt(r.LeaveMS), fopt(r.GoneAfterLeaveMS)}
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
