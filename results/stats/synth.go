package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/store"
)

// SynthOptions describe a synthetic campaign drawn from the Model. It exists
// for tests and benchmarks; no command exposes it.
type SynthOptions struct {
	Campaign   string
	Seed       uint64
	Peers      int       // N-1
	Runs       int       // included runs per condition
	Warmup     int       // warm-up runs per condition
	LossPcts   []float64 // one condition per loss level
	IntervalMS float64   // T
	// StartupMS is the mean container start; each run draws it uniformly
	// in StartupMS ± StartupJitterMS. AgentInitMS is added between the
	// container start and listening.
	StartupMS       float64
	StartupJitterMS float64
	AgentInitMS     float64
	// ShiftMS is added to every discovery time (to make a deliberately
	// wrong sample).
	ShiftMS float64
	// TimeoutMS ends a run; peers not discovered by then are missing.
	TimeoutMS float64
	// FlapProb is the chance that a discovered peer flaps once in a run.
	FlapProb float64
	Phase    string
	Backend  string
	// Wire adds a wire capture's figures to every run (results.WireRun,
	// PeerTiming.Wire) consistent with the drawn times; it draws nothing
	// more, so the times are those of the same options without it.
	Wire bool
}

// Synthesize returns a campaign whose discovery times follow the Model with
// the given parameters (peers independent), deterministic for a seed. Times
// are whole nanoseconds in ms, as the runner records them.
func Synthesize(o SynthOptions) *store.Campaign {
	if o.Campaign == "" {
		o.Campaign = "synthetic"
	}
	if o.Phase == "" {
		o.Phase = "random"
	}
	if o.Backend == "" {
		o.Backend = "nftables"
	}
	if o.TimeoutMS == 0 {
		o.TimeoutMS = 120000
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x7e57bed))
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := results.Manifest{
		Campaign:           o.Campaign,
		Kind:               "campaign",
		Started:            t0,
		Seed:               int64(o.Seed),
		Software:           results.Software{Tool: "testbed (synthetic)", Go: "go1.26.8"},
		Protocol:           "reference-agent",
		NodeA:              "c1",
		Phase:              o.Phase,
		AnnounceIntervalMS: o.IntervalMS,
		Measurements:       []string{"discovery"},
		Lab:                results.Lab{Topology: o.Campaign},
		Inputs:             []results.Input{{Role: "scenario", Path: "synthetic.yaml", SHA256: "0", Content: "# synthetic campaign drawn from the model\n"}},
	}
	m.Lab.Clusters = append(m.Lab.Clusters, "c1")
	for i := 0; i < o.Peers; i++ {
		p := fmt.Sprintf("c%d", i+2)
		m.Peers = append(m.Peers, p)
		m.Lab.Clusters = append(m.Lab.Clusters, p)
	}
	c := &store.Campaign{Manifest: m}
	for _, loss := range o.LossPcts {
		name := fmt.Sprintf("loss-%g", loss)
		imp := results.Impairment{Backend: o.Backend, Target: "peers", LossPct: loss}
		c.Manifest.Conditions = append(c.Manifest.Conditions, results.Condition{Name: name, Impairment: imp, Runs: o.Runs, Warmup: o.Warmup})
		for i := 0; i < o.Warmup+o.Runs; i++ {
			start := nsMS(o.StartupMS + (2*rng.Float64()-1)*o.StartupJitterMS)
			model := Model{IntervalMS: o.IntervalMS, Loss: loss / 100, StartupMS: start + o.AgentInitMS}
			achieved := math.Round(loss*(0.9+0.2*rng.Float64())*1e3) / 1e3
			r := results.Run{
				Campaign:   o.Campaign,
				Condition:  name,
				Index:      i,
				Warmup:     i < o.Warmup,
				Started:    t0.Add(time.Duration(len(c.Runs)) * time.Minute),
				NodeA:      "c1",
				Protocol:   m.Protocol,
				Phase:      o.Phase,
				PauseMS:    nsMS(rng.Float64() * o.IntervalMS),
				Impairment: imp,
				Pod:        results.PodTimeline{ContainerStartMS: new(start)},
				EndMS:      o.TimeoutMS,
			}
			r.Impairment.AchievedLossPct = new(achieved)
			r.Impairment.PacketsSeen = 1000
			r.Impairment.PacketsDropped = int64(achieved * 10)
			synthPeers(&r, m.Peers, model, o, rng)
			if o.Wire {
				r.Wire = synthWireRun(m.Lab.Clusters, o, achieved)
			}
			c.Runs = append(c.Runs, r)
		}
	}
	return c
}

// nsMS rounds a time in ms to whole nanoseconds, as the runner's
// float64(ns)/1e6 records it.
func nsMS(ms float64) float64 { return math.Round(ms*1e6) / 1e6 }

// synthPeers draws a run's discovery of every peer.
func synthPeers(r *results.Run, peers []string, model Model, o SynthOptions, rng *rand.Rand) {
	for _, p := range peers {
		d := nsMS(model.Sample(rng) + o.ShiftMS)
		if d > o.TimeoutMS {
			r.Missing = append(r.Missing, p)
			r.TimedOut = true
			continue
		}
		pt := results.PeerTiming{Peer: p, DiscoveredMS: new(d), ReverseMS: new(nsMS(d + rng.Float64()*o.IntervalMS)), TruthMS: new(nsMS(d - 1 - rng.Float64()*5))}
		if rng.Float64() < o.FlapProb {
			del := nsMS(d + (o.TimeoutMS-d)*rng.Float64())
			pt.Flaps = []results.Flap{{Observer: "c1", Subject: p, DeletedMS: del, ReaddedMS: new(nsMS(del + o.IntervalMS))}}
		}
		if o.Wire {
			pt.Wire = synthWire(model, *pt.TruthMS, d)
		}
		r.Peers = append(r.Peers, pt)
	}
}

// synthWire splits a synthetic discovery d whose creating announcement
// reached the wire at first: ready at the model's start-up (or at first,
// if it came earlier: "heard"), whole lost periods, the rest waiting.
func synthWire(m Model, first, d float64) *results.WireTiming {
	w := &results.WireTiming{ReadyMS: m.StartupMS, ReadyBy: "igmp-join", FirstMS: first, PeriodMS: m.IntervalMS}
	if first < m.StartupMS {
		w.ReadyMS, w.ReadyBy = first, "heard"
	}
	w.Lost = int(math.Floor((first - w.ReadyMS) / m.IntervalMS))
	w.StartupMS, w.LostMS = w.ReadyMS, float64(w.Lost)*m.IntervalMS
	w.WaitMS = first - w.ReadyMS - w.LostMS
	w.ProcessingMS = d - first
	return w
}

// synthWireRun is a run's capture figures: every cluster announcing once
// per period over the run, 120-byte payloads.
func synthWireRun(clusters []string, o SynthOptions, lossPct float64) *results.WireRun {
	w := &results.WireRun{Interface: "br-synthetic", Group: "239.11.11.2:4001", UncertaintyUS: 2, WindowLossPct: new(lossPct)}
	n := int(o.TimeoutMS / o.IntervalMS)
	for i, c := range clusters {
		w.Senders = append(w.Senders, results.WireSender{Cluster: c, Address: fmt.Sprintf("10.100.%d.101", i), Announcements: n, Bytes: 120 * n})
		w.Packets += n
	}
	return w
}
