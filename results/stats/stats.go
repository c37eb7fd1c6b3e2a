package stats

import (
	"math"

	"github.com/fluidos-lab/testbed/results"
)

// Summary is the statistics of a campaign (summary.json).
type Summary struct {
	Campaign   string      `json:"campaign"`
	Protocol   string      `json:"protocol,omitempty"`
	NodeA      string      `json:"nodeA,omitempty"`
	Phase      string      `json:"phase"`
	PhaseLabel string      `json:"phaseLabel"`
	Quantiles  string      `json:"quantiles"`
	Conditions []Condition `json:"conditions"`
	Warnings   []string    `json:"warnings,omitempty"`
}

// Condition is everything measured for one condition. Warm-up, aborted
// and faulted runs are excluded; times are ms since each run's t0.
type Condition struct {
	Name       string             `json:"name"`
	Impairment results.Impairment `json:"impairment"` // as requested
	Phase      string             `json:"phase"`
	PhaseLabel string             `json:"phaseLabel"`
	// Runs counts the included runs; WarmupRuns, AbortedRuns and
	// FaultedRuns (the lab's infrastructure was disturbed: a node
	// container paused or stopped, the engine's events lost) were
	// excluded.
	Runs        int `json:"runs"`
	WarmupRuns  int `json:"warmupRuns"`
	AbortedRuns int `json:"abortedRuns"`
	FaultedRuns int `json:"faultedRuns,omitempty"`
	// Faults describes the faulted runs' events, one line per run (at most
	// MaxFaultLines).
	Faults []string `json:"faults,omitempty"`
	// TimedOutRuns did not discover every peer (flagged or with missing peers).
	TimedOutRuns int `json:"timedOutRuns"`
	// Peers is N-1, the number of peers node A should discover.
	Peers int `json:"peers"`
	// MissingPeers counts (run, peer) pairs never discovered.
	MissingPeers int `json:"missingPeers"`

	FirstPeer Dist `json:"firstPeer"`
	AllPeers  Dist `json:"allPeers"`
	// AnyPeer pools every (run, peer) discovery time.
	AnyPeer Dist      `json:"anyPeer"`
	ByK     []KthPeer `json:"byK"`
	ByPeer  []Peer    `json:"byPeer"`

	// Responsiveness is P(a given peer discovered within d) and
	// AllResponsiveness P(all peers discovered within d), over d in ms;
	// undiscovered peers count as never discovered.
	Responsiveness    []Point `json:"responsiveness"`
	AllResponsiveness []Point `json:"allResponsiveness"`

	// ContainerStart is node A's container start (runtime) per run;
	// Protocol is discovered − container start per (run, peer).
	ContainerStart Dist `json:"containerStart"`
	Protocol       Dist `json:"protocol"`
	// GoneAfterLeave is PeerTiming.GoneMS − Pod.LeaveMS per (run, peer):
	// how long peers took to drop node A after it was stopped (failure
	// detection or graceful leave); empty when not measured.
	GoneAfterLeave Dist `json:"goneAfterLeave"`

	Flaps       int     `json:"flaps"`
	PeerMinutes float64 `json:"peerMinutes"`
	// FlapRate is false failure detections per peer-minute of observation.
	FlapRate float64 `json:"flapRate"`

	Backend          string   `json:"backend"`
	RequestedLossPct float64  `json:"requestedLossPct"`
	AchievedLossPct  *float64 `json:"achievedLossPct,omitempty"`
	PacketsSeen      int64    `json:"packetsSeen,omitempty"`
	PacketsDropped   int64    `json:"packetsDropped,omitempty"`

	Model *ModelFit `json:"model,omitempty"`
	// Wire is the split of A's discovery times that the wire capture
	// explains (nil when no run of the condition had a capture).
	Wire *WireSplit `json:"wire,omitempty"`

	// PhaseHist counts the included runs by their achieved start phase
	// (Run.PhaseMS, the start modulo T from the campaign's first start) in
	// PhaseBins bins of PhaseBinMS: one full bin means the campaign was
	// phase-locked, an even spread that it sampled every phase. Nil when
	// the runs do not record their phase.
	PhaseHist  []int   `json:"phaseHist,omitempty"`
	PhaseBinMS float64 `json:"phaseBinMS,omitempty"`
	// OffCycleRuns counts aligned runs that could not start at the previous
	// run's end plus the cycle C (see results.Cycle).
	OffCycleRuns int `json:"offCycleRuns,omitempty"`

	Samples Samples `json:"-"`
}

// Samples are the raw values behind a Condition, ascending.
type Samples struct {
	// measured is the measured-phase model's runs (MaxMeasuredRuns) and
	// processingQ the quantiles of the processing+API part it uses.
	measured    []measuredRun
	processingQ []float64
	FirstPeer   []float64
	AllPeers    []float64
	AnyPeer     []float64
	// ByK[k-1] holds the k-th discovery time of runs that reached k peers;
	// FirstPeer is ByK[0] (the same slice) and AnyPeer their union.
	ByK [][]float64
	// Curves holds included runs' discovery times, ascending, in run
	// order: every run when the condition has fewer than MaxCurves, else an
	// evenly spaced subset (every 2^j-th run); CurveIndex is each one's
	// Run.Index. Condition.Runs is the number of included runs.
	Curves      [][]float64
	CurveIndex  []int
	ContainerMS []float64
}

// PhaseBins is the number of bins of Condition.PhaseHist over one period.
const PhaseBins = 20

// KthPeer is the time until the k-th peer was discovered.
type KthPeer struct {
	K int `json:"k"`
	Dist
	// Missing counts runs that never reached k peers.
	Missing int `json:"missing"`
}

// Peer is the discovery time of one peer.
type Peer struct {
	Peer string `json:"peer"`
	Dist
	Missing int `json:"missing"`
	Flaps   int `json:"flaps"`
}

// Point is one point of a curve.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// KSK is the KS distance of the k-th peer sample (N values) to the model.
type KSK struct {
	K int     `json:"k"`
	N int     `json:"n"`
	D float64 `json:"d"`
}

// ModelFit compares a condition with the periodic-announcer Model.
type ModelFit struct {
	Model
	// LossSource is "achieved" or "requested".
	LossSource string `json:"lossSource"`
	// StartupSource says how StartupMS was estimated.
	StartupSource string `json:"startupSource"`
	// KSPeer is the KS distance of the pooled per-peer sample to the model.
	KSPeer float64 `json:"ksPeer"`
	// KSByK[k-1] is the KS distance of the k-th peer sample to the order
	// statistic model (independence assumed).
	KSByK []KSK `json:"ksByK"`
	// FittedStartupMS minimises KSPeer; KSPeerFitted is that minimum.
	FittedStartupMS float64 `json:"fittedStartupMS"`
	KSPeerFitted    float64 `json:"ksPeerFitted"`
	Caveat          string  `json:"caveat"`
	// Measured is the measured-phase model (the wire's ready times, peer
	// phases and window loss per run); nil without a wire capture.
	Measured *MeasuredFit `json:"measured,omitempty"`
}

// PhaseLabel names a phase mode for people.
func PhaseLabel(phase string) string {
	switch phase {
	case "random":
		return "random phase"
	case "aligned":
		return "aligned (fixed cycle, as in the reference study)"
	case "":
		return "unknown"
	}
	return phase
}

const modelCaveat = "peers' announce tickers keep fixed offsets in the lab, so per-run peer times are correlated; the k-th peer model assumes independence"

const responsivenessPoints = 200

func runEnd(r results.Run) float64 {
	if r.EndMS > 0 {
		return r.EndMS
	}
	end := 0.0
	upd := func(p *float64) {
		if p != nil && *p > end {
			end = *p
		}
	}
	upd(r.Pod.LeaveMS)
	for _, p := range r.Peers {
		upd(p.DiscoveredMS)
		upd(p.ReverseMS)
		upd(p.GoneMS)
		upd(p.TruthMS)
		for _, f := range p.Flaps {
			end = math.Max(end, f.DeletedMS)
			upd(f.ReaddedMS)
		}
	}
	return end
}

// responsiveness returns P(D ≤ d) on a grid from 0 to the largest sample,
// with denominators that count undiscovered peers (runs) as failures.
func responsiveness(anyPeer, allPeers []float64, pairs, runs int) ([]Point, []Point) {
	if pairs == 0 || len(anyPeer) == 0 {
		return nil, nil
	}
	hi := anyPeer[len(anyPeer)-1]
	if len(allPeers) > 0 {
		hi = math.Max(hi, allPeers[len(allPeers)-1])
	}
	curve := func(s []float64, denom int) []Point {
		pts := make([]Point, 0, responsivenessPoints+1)
		j := 0
		for i := 0; i <= responsivenessPoints; i++ {
			d := hi * float64(i) / responsivenessPoints
			for j < len(s) && s[j] <= d {
				j++
			}
			pts = append(pts, Point{X: d, Y: float64(j) / float64(denom)})
		}
		return pts
	}
	one := curve(anyPeer, pairs)
	var all []Point
	if runs > 0 {
		all = curve(allPeers, runs)
	}
	return one, all
}

func fitModel(m results.Manifest, cs *Condition) *ModelFit {
	if m.AnnounceIntervalMS <= 0 || len(cs.Samples.AnyPeer) == 0 {
		return nil
	}
	f := &ModelFit{Caveat: modelCaveat}
	f.IntervalMS = m.AnnounceIntervalMS
	f.Loss, f.LossSource = cs.RequestedLossPct/100, "requested"
	if cs.AchievedLossPct != nil {
		f.Loss, f.LossSource = *cs.AchievedLossPct/100, "achieved"
	}
	f.Loss = math.Min(math.Max(f.Loss, 0), 0.999)
	f.FittedStartupMS, f.KSPeerFitted = f.Model.FitStartup(cs.Samples.AnyPeer)
	if cs.ContainerStart.N > 0 {
		f.StartupMS, f.StartupSource = cs.ContainerStart.Median, "median container start"
	} else {
		f.StartupMS, f.StartupSource = f.FittedStartupMS, "fitted (no container start recorded)"
	}
	f.KSPeer = KSDistance(cs.Samples.AnyPeer, f.Model.PeerCDF)
	tab := newOrderCDF(cs.Peers)
	for k, s := range cs.Samples.ByK {
		if len(s) == 0 {
			continue
		}
		kk := k + 1
		d := KSDistance(s, func(d float64) float64 { return f.Model.kthCDF(tab, kk, d) })
		f.KSByK = append(f.KSByK, KSK{K: kk, N: len(s), D: d})
	}
	if cs.Wire != nil {
		f.Measured = fitMeasured(cs.Samples.measured, cs.Samples.processingQ, cs.Wire.Processing.Median)
	}
	return f
}

// WireSplit is a condition's discovery times of A split by the wire
// (results.WireTiming): the means of the four parts sum to the mean
// discovery time of the explained samples.
type WireSplit struct {
	// Samples is the (run, peer) discoveries explained; Unexplained those
	// discovered in a run with a capture but not explained by it.
	Samples     int `json:"samples"`
	Unexplained int `json:"unexplained,omitempty"`
	// Mean parts, ms.
	StartupMS    float64 `json:"startupMS"`
	WaitMS       float64 `json:"waitMS"`
	LostMS       float64 `json:"lostMS"`
	ProcessingMS float64 `json:"processingMS"`
	// Processing is the distribution of the processing+API part: the
	// protocol's handling, its API write and the runner's watch.
	Processing Dist `json:"processing"`
	// ReadyByJoin counts samples whose ready time is A's IGMP join.
	ReadyByJoin int `json:"readyByJoin"`
	// Lost is the peers' announcements lost on the wire, over the runs.
	Lost int `json:"lost"`
	// WindowLossPct is the mean over runs of the achieved loss inside A's
	// listening window (results.WireRun.WindowLossPct).
	WindowLossPct *float64 `json:"windowLossPct,omitempty"`
	// AnnouncementsPerSec and BytesPerSec are the mean rate of one
	// sender (a peer or A) over the runs' observation windows.
	AnnouncementsPerSec float64 `json:"announcementsPerSec"`
	BytesPerSec         float64 `json:"bytesPerSec"`
	// ClockStepMaxUS is the largest |clock step| of a run (see
	// results.WireRun.ClockStepUS).
	ClockStepMaxUS float64 `json:"clockStepMaxUS"`
}
