//go:build e2e

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
)

// agentInitMS bounds the time from A's container start until its agent
// listens: an announcement sent earlier may be missed without any loss.
const agentInitMS = 1000

// TestE2ERun runs scenarios/selftest.yaml (reference agent, 10 runs at 0 %
// and 10 runs at 25 % loss on the peers' discovery egress) on the lab that
// TestE2EProvision leaves up, then checks the records against the agent's
// ground truth and the periodic-announcement model.
func TestE2ERun(t *testing.T) {
	bin := e2eBinary(t)
	scenario := os.Getenv("TESTBED_E2E_SCENARIO")
	if scenario == "" {
		scenario = filepath.Join(repoRoot(t), "scenarios", "selftest.yaml")
	}
	s, err := scenarios.Load(scenario)
	if err != nil {
		t.Fatalf("loading %s: %v", scenario, err)
	}
	if os.Getenv("TESTBED_E2E_TOPOLOGY") != "" && os.Getenv("TESTBED_E2E_SCENARIO") == "" {
		t.Skipf("TESTBED_E2E_TOPOLOGY is set but the selftest scenario runs on %s; set TESTBED_E2E_SCENARIO too", s.TopologyFile)
	}
	dir := filepath.Join(t.TempDir(), "campaign")
	out, d, err := testbedRun(t, bin, 12*time.Minute, "run", scenario, "--output", dir)
	if err != nil {
		t.Fatalf("testbed run: %v", err)
	}
	t.Logf("MEASURED: campaign of %d conditions took %s", len(s.Conditions), d.Round(time.Second))
	if !strings.Contains(out, "cycle overhead median") {
		t.Errorf("no summary line in the output")
	}
	c, err := store.Read(dir)
	if err != nil {
		t.Fatalf("reading campaign: %v", err)
	}
	T := c.Manifest.AnnounceIntervalMS
	if T <= 0 || c.Manifest.Phase != scenarios.PhaseRandom || c.Manifest.Seed != s.Seed || len(c.Manifest.Inputs) != 2 {
		t.Errorf("manifest: interval %v phase %q seed %d inputs %d", T, c.Manifest.Phase, c.Manifest.Seed, len(c.Manifest.Inputs))
	}
	byCond := map[string][]results.Run{}
	for _, r := range c.Runs {
		byCond[r.Condition] = append(byCond[r.Condition], r)
	}

	var truthErr, cleanErr, overheads []float64
	var w wireCheck
	pauses := map[float64]bool{}
	flaps := map[string]int{}
	for _, cond := range s.Conditions {
		runs := byCond[cond.Name]
		if len(runs) != cond.Runs+cond.Warmup {
			t.Errorf("%s: %d runs recorded, want %d", cond.Name, len(runs), cond.Runs+cond.Warmup)
		}
		var k []int
		for _, r := range runs {
			overheads = append(overheads, r.CycleOverheadMS)
			pauses[r.PauseMS] = true
			if r.Aborted || len(r.Peers) != len(c.Manifest.Peers)-1 && len(r.Peers) != len(c.Manifest.Peers) {
				t.Errorf("%s/%d: aborted %v peers %d", cond.Name, r.Index, r.Aborted, len(r.Peers))
			}
			if r.Impairment.Backend == "" || (cond.Impairment.LossPct > 0 && (r.Impairment.Backend == "none" || r.Impairment.AchievedLossPct == nil)) {
				t.Errorf("%s/%d: impairment record %+v", cond.Name, r.Index, r.Impairment)
			}
			if cond.Impairment.LossPct == 0 && (len(r.Missing) > 0 || r.TimedOut) {
				t.Errorf("%s/%d: peers missing without loss: %v", cond.Name, r.Index, r.Missing)
			}
			w.run(t, cond.Name, r)
			start := r.Pod.ContainerStartMS
			if start == nil {
				start = r.Pod.StartedMS
			}
			for _, p := range r.Peers {
				flaps[cond.Name] += len(p.Flaps)
				if p.DiscoveredMS == nil {
					continue
				}
				if p.TruthMS == nil || p.TruthSendMS == nil {
					t.Errorf("%s/%d %s: no ground truth stamps", cond.Name, r.Index, p.Peer)
					continue
				}
				truthErr = append(truthErr, *p.DiscoveredMS-*p.TruthMS)
				if cond.Impairment.LossPct == 0 {
					cleanErr = append(cleanErr, math.Abs(*p.DiscoveredMS-*p.TruthMS))
				}
				if start != nil {
					// Lost announcements: the peer announces every T, so the
					// announcements sent j*T before the creating one were
					// lost if A was already listening then (its container
					// had started more than agentInitMS before).
					k = append(k, int(math.Max(0, math.Floor((*p.TruthSendMS-*start-agentInitMS)/T))))
					if *p.TruthSendMS < *start {
						t.Errorf("%s/%d %s: created by an announcement sent %.0f ms before A's container started", cond.Name, r.Index, p.Peer, *start-*p.TruthSendMS)
					}
				}
			}
		}
		t.Logf("MEASURED: %s: lost announcements before discovery per sample %v", cond.Name, k)
		for _, n := range k {
			if cond.Impairment.LossPct == 0 && n > 0 {
				t.Errorf("%s: discovery needed %d extra periods without loss", cond.Name, n)
			}
		}
		if cond.Impairment.LossPct >= 20 {
			extra := 0
			for _, n := range k {
				extra += n
			}
			if len(k) >= 10 && extra == 0 {
				t.Errorf("%s: %d samples and no lost announcement at %.0f %% loss", cond.Name, len(k), cond.Impairment.LossPct)
			}
			var ach []string
			for _, r := range runs {
				if r.Impairment.AchievedLossPct != nil {
					ach = append(ach, fmt.Sprintf("%.1f", *r.Impairment.AchievedLossPct))
				}
			}
			t.Logf("MEASURED: %s: backend %s, requested %.0f %% loss, achieved per run %v", cond.Name, runs[0].Impairment.Backend, cond.Impairment.LossPct, ach)
		}
		t.Logf("MEASURED: %s: median all-peers discovery %.0f ms, flaps %d", cond.Name, medianAll(runs), flaps[cond.Name])
	}
	// Loss's effect is checked where it is certain: the clean condition
	// needs no extra period and the lossy one lost announcements (above),
	// and the wire's counts agree with nftables' (w.check). Comparing the
	// two conditions' medians is not a check: with 10 runs and 2 peers the
	// 25 % condition's median all-peers time is under the clean one's in 8
	// % of campaigns (simulated with independent phases; seen on this host
	// 2026-12-06: 3458 ms against 3931 ms, 2 of 22 samples lost one).
	if len(pauses) < 5 {
		t.Errorf("random phase drew only %d distinct pauses", len(pauses))
	}
	// The random phase spreads discovery over the period: A's time to each
	// peer, pooled over the clean condition's peers, has an IQR of about
	// T/2. With 10 runs x 2 peers the chance that a true uniform phase gives
	// an IQR under 0.15 T is about 0.2 % (simulated), so this cannot flake;
	// the first-peer IQR (the min of 2) is only logged: it is below 0.3 T
	// for about half of all peer phase gaps.
	clean := byCond[s.Conditions[0].Name]
	perPeer, first := discoveries(clean)
	t.Logf("MEASURED: phase random, %s: first-peer IQR %.0f ms, per-peer IQR %.0f ms (T = %.0f ms), achieved phases %v",
		s.Conditions[0].Name, iqr(first), iqr(perPeer), T, phases(clean))
	if iqr(perPeer) < 0.15*T {
		t.Errorf("phase random: per-peer discovery IQR %.0f ms is under 0.15 T: the random phase did not spread the starts", iqr(perPeer))
	}
	abs := make([]float64, len(truthErr))
	for i, e := range truthErr {
		abs[i] = math.Abs(e)
	}
	p50, p99 := quantile(abs, 0.5), quantile(abs, 0.99)
	t.Logf("MEASURED: runner minus ground truth over %d samples: p50 %.1f ms, p99 %.1f ms (signed median %.1f ms)", len(abs), p50, p99, quantile(truthErr, 0.5))
	// The bound holds where the host is quiet: during the lossy condition
	// the runner reads nftables counters through docker exec on this
	// 2-core host, and single API writes of the agent took 70-80 ms
	// there (the wire shows it: that time is processing+API, not a
	// measurement error). Pooled, only the median is bounded. Without
	// loss the bound is on p90, not p99: of 22 samples p99 is the maximum,
	// and one API write of 84 ms on a busy host failed a CI run that way
	// (2026-12-03) although the wire showed it as processing+API. A
	// runner that polled, or stamped late, would move p90 by hundreds of
	// milliseconds.
	//
	// The difference is the agent's API write plus the watch delivery, so
	// it scales with the API's latency: on a host under CPU pressure (55 %
	// "some" in /proc/pressure/cpu, agents starting in 2.3 s instead of
	// 0.7 s) a CI run measured p50 82 ms. The bounds are 25 ms (p50) and
	// 50 ms (p90), or 2 and 4 API round trips (the runner's own GETs to
	// node A's cluster, median over the clean runs) where those are longer.
	cp90, cmax := quantile(cleanErr, 0.9), quantile(cleanErr, 1)
	var rtts []float64
	for _, r := range byCond[s.Conditions[0].Name] {
		if r.APILatencyMS > 0 {
			rtts = append(rtts, r.APILatencyMS)
		}
	}
	rtt := quantile(rtts, 0.5)
	b50, b90 := math.Max(25, 2*rtt), math.Max(50, 4*rtt)
	t.Logf("MEASURED: runner minus ground truth without loss over %d samples: p90 %.1f ms, max %.1f ms; API round trip median %.1f ms (bounds p50 %.0f, p90 %.0f ms)", len(cleanErr), cp90, cmax, rtt, b50, b90)
	if len(cleanErr) == 0 || cp90 > b90 || p50 > b50 {
		t.Errorf("runner vs ground truth: p90 %.1f ms over %d samples without loss (want <= %.0f ms), pooled p50 %.1f ms (want <= %.0f ms)", cp90, len(cleanErr), b90, p50, b50)
	}
	w.check(t)
	t.Logf("MEASURED: cycle overhead p50 %.0f ms, p90 %.0f ms", quantile(overheads, 0.5), quantile(overheads, 0.9))

	if _, _, err := testbedRun(t, bin, 3*time.Minute, "report", dir); err != nil {
		t.Errorf("testbed report: %v", err)
	}
	checkMeasuredModel(t, dir)
}

// checkMeasuredModel reads the report's summary.json and checks that the
// measured-phase model (the wire's phases) describes the clean condition's
// k-th peer times: its KS distance per k within the 5 % critical value
// 1.36/sqrt(n), where the independent-peer model's is only logged.
func checkMeasuredModel(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatalf("report summary: %v", err)
	}
	var s stats.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("report summary: %v", err)
	}
	for _, cs := range s.Conditions {
		if cs.Model == nil || cs.Wire == nil {
			t.Errorf("%s: no model (%v) or wire split (%v) in the report", cs.Name, cs.Model != nil, cs.Wire != nil)
			continue
		}
		m := cs.Model.Measured
		if m == nil {
			t.Errorf("%s: no measured-phase model", cs.Name)
			continue
		}
		var indep, meas []string
		for _, k := range cs.Model.KSByK {
			indep = append(indep, fmt.Sprintf("k=%d %.3f", k.K, k.D))
		}
		for _, k := range m.KSByK {
			meas = append(meas, fmt.Sprintf("k=%d %.3f (n=%d)", k.K, k.D, k.N))
			if crit := 1.36 / math.Sqrt(float64(k.N)); cs.RequestedLossPct == 0 && k.D > crit {
				t.Errorf("%s: measured-phase model k=%d KS %.3f above the 5 %% critical value %.3f", cs.Name, k.K, k.D, crit)
			}
		}
		t.Logf("MEASURED: %s: KS per k, independent peers %v; measured phases %v; split start-up %.0f, wait %.0f, lost %.0f, processing %.1f ms (p99 %.1f)",
			cs.Name, indep, meas, cs.Wire.StartupMS, cs.Wire.WaitMS, cs.Wire.LostMS, cs.Wire.ProcessingMS, cs.Wire.Processing.P99)
	}
}

// TestE2ERunAligned runs scenarios/selftest-aligned.yaml (the reference
// study's fixed cycle, 1 warm-up + 10 runs, no loss) on the CI lab and
// checks that the cycle locks the phase: every measured run starts exactly
// C after the previous run's end, and A's first-peer time varies by at
// most 0.1 T (the random phase of TestE2ERun spreads it over T).
func TestE2ERunAligned(t *testing.T) {
	bin := e2eBinary(t)
	if os.Getenv("TESTBED_E2E_TOPOLOGY") != "" {
		t.Skip("TESTBED_E2E_TOPOLOGY is set; scenarios/selftest-aligned.yaml runs on the CI lab")
	}
	scenario := filepath.Join(repoRoot(t), "scenarios", "selftest-aligned.yaml")
	s, err := scenarios.Load(scenario)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "campaign")
	out, d, err := testbedRun(t, bin, 8*time.Minute, "run", scenario, "--output", dir)
	if err != nil {
		t.Fatalf("testbed run: %v", err)
	}
	t.Logf("MEASURED: aligned campaign took %s", d.Round(time.Second))
	c, err := store.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	T := c.Manifest.AnnounceIntervalMS
	if len(c.Runs) != 11 || c.Manifest.Phase != scenarios.PhaseAligned {
		t.Fatalf("%d runs, phase %q:\n%s", len(c.Runs), c.Manifest.Phase, out)
	}
	var since []float64
	for _, r := range c.Runs {
		cy := r.Cycle
		if cy == nil || r.PhaseMS == nil {
			t.Fatalf("run %d has no cycle or phase record", r.Index)
		}
		if cy.CycleMS != float64(s.PhaseCycle.Milliseconds()) {
			t.Errorf("run %d: cycle %v ms, want %d", r.Index, cy.CycleMS, s.PhaseCycle.Milliseconds())
		}
		if r.Warmup {
			continue
		}
		if cy.OffCycle {
			t.Errorf("run %d is off cycle by %.0f ms (reset %.0f ms, C %.0f ms)", r.Index, cy.OverrunMS, cy.ResetMS, cy.CycleMS)
		}
		since = append(since, cy.SincePreviousEndMS)
	}
	perPeer, first := discoveries(c.Runs)
	t.Logf("MEASURED: phase aligned (C = %s): first-peer IQR %.0f ms, per-peer IQR %.0f ms (T = %.0f ms), first-peer times %v, start minus previous end %v ms, achieved phases %v",
		s.PhaseCycle, iqr(first), iqr(perPeer), T, first, since, phases(c.Runs))
	if len(first) != 10 || iqr(first) > 0.1*T {
		t.Errorf("phase aligned: first-peer IQR %.0f ms over %d runs, want <= 0.1 T = %.0f ms", iqr(first), len(first), 0.1*T)
	}
	for _, v := range since {
		if math.Abs(v-float64(s.PhaseCycle.Milliseconds())) > 50 {
			t.Errorf("a measured run started %.0f ms after the previous end, want C = %s within 50 ms", v, s.PhaseCycle)
		}
	}
	if _, _, err := testbedRun(t, bin, 3*time.Minute, "report", dir); err != nil {
		t.Errorf("testbed report: %v", err)
	}
}

// discoveries returns A's discovery times of the measured runs: every
// (run, peer) pooled, and each run's first peer.
func discoveries(runs []results.Run) (perPeer, first []float64) {
	for _, r := range runs {
		if r.Warmup || r.Aborted {
			continue
		}
		f := math.Inf(1)
		for _, p := range r.Peers {
			if p.DiscoveredMS != nil {
				perPeer = append(perPeer, *p.DiscoveredMS)
				f = math.Min(f, *p.DiscoveredMS)
			}
		}
		if !math.IsInf(f, 1) {
			first = append(first, f)
		}
	}
	return perPeer, first
}

func iqr(v []float64) float64 { return quantile(v, 0.75) - quantile(v, 0.25) }

// phases lists the recorded start phases (ms mod T) of the measured runs.
func phases(runs []results.Run) []float64 {
	var out []float64
	for _, r := range runs {
		if !r.Warmup && r.PhaseMS != nil {
			out = append(out, math.Round(*r.PhaseMS))
		}
	}
	return out
}

func medianAll(runs []results.Run) float64 {
	var v []float64
	for _, r := range runs {
		if r.Warmup {
			continue
		}
		m, ok := 0.0, true
		for _, p := range r.Peers {
			if p.DiscoveredMS == nil {
				ok = false
				break
			}
			m = math.Max(m, *p.DiscoveredMS)
		}
		if ok && len(r.Peers) > 0 {
			v = append(v, m)
		}
	}
	return quantile(v, 0.5)
}

// quantile is the nearest-rank quantile (0 for no data).
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// wireCheck gathers the wire capture's figures of a campaign of the
// reference agent: the capture's time of the announcement that created
// each peer object against the agent's own receive stamp, the four parts
// of every discovery time against the time itself, the processing+API
// part, and the wire's lost announcements against the impairment's drops.
type wireCheck struct {
	diff, processing []float64
	lost, dropped    int64
	// Over the impairment counters' windows: the wire's lost and sent
	// announcements of the impaired senders, the counters' seen packets,
	// and the runs with an impairment.
	windowLost, windowSent, seen int64
	impairedRuns, samples        int
}

func (w *wireCheck) run(t *testing.T, cond string, r results.Run) {
	t.Helper()
	if r.Wire == nil {
		t.Errorf("%s/%d: no wire capture recorded", cond, r.Index)
		return
	}
	if r.Wire.KernelDropped > 0 || r.Wire.RingDropped > 0 {
		t.Errorf("%s/%d: the capture lost frames: %+v", cond, r.Index, *r.Wire)
	}
	w.lost += int64(r.Wire.Lost)
	if r.Wire.CounterWindowLost != nil && r.Wire.CounterWindowSent != nil {
		w.impairedRuns++
		w.windowLost += int64(*r.Wire.CounterWindowLost)
		w.windowSent += int64(*r.Wire.CounterWindowSent)
		w.dropped += r.Impairment.PacketsDropped
		w.seen += r.Impairment.PacketsSeen
	}
	for _, p := range r.Peers {
		if p.DiscoveredMS == nil {
			continue
		}
		if p.Wire == nil {
			t.Errorf("%s/%d %s: discovered at %.1f ms but not explained by the wire", cond, r.Index, p.Peer, *p.DiscoveredMS)
			continue
		}
		w.samples++
		if d := math.Abs(p.Wire.Sum() - *p.DiscoveredMS); d > 1 {
			t.Errorf("%s/%d %s: the parts %+v sum to %.3f ms, discovery %.3f ms", cond, r.Index, p.Peer, *p.Wire, p.Wire.Sum(), *p.DiscoveredMS)
		}
		w.processing = append(w.processing, p.Wire.ProcessingMS)
		if p.TruthMS != nil {
			w.diff = append(w.diff, p.Wire.FirstMS-*p.TruthMS)
		}
	}
}

func (w *wireCheck) check(t *testing.T) {
	t.Helper()
	abs := make([]float64, len(w.diff))
	for i, d := range w.diff {
		abs[i] = math.Abs(d)
	}
	p99 := quantile(abs, 0.99)
	t.Logf("MEASURED: wire capture minus agent receive stamp over %d samples: p50 %.2f ms, p99 %.2f ms (signed median %.2f ms)",
		len(abs), quantile(abs, 0.5), p99, quantile(w.diff, 0.5))
	t.Logf("MEASURED: processing+API (discovery minus wire) over %d samples: p50 %.1f ms, p99 %.1f ms",
		len(w.processing), quantile(w.processing, 0.5), quantile(w.processing, 0.99))
	t.Logf("MEASURED: over %d impaired runs' counter windows: wire lost %d vs nftables dropped %d; wire sent+lost %d vs nftables seen %d (announcements lost between t0 and the end: %d)",
		w.impairedRuns, w.windowLost, w.dropped, w.windowSent+w.windowLost, w.seen, w.lost)
	// The wire counts a lost announcement where the sender's period says
	// one was due; nftables counts what it dropped, each counter read
	// within a docker exec of about 0.2 s. Measured on the CI lab they
	// agreed exactly in 12 of 12 runs: allow one, or 5 %, for an
	// announcement due right at a window's edge.
	if d := w.windowLost - w.dropped; w.impairedRuns > 0 && math.Abs(float64(d)) > math.Max(1, 0.05*float64(w.dropped)) {
		t.Errorf("wire lost %d, nftables dropped %d over %d runs' counter windows: more than 5 %% apart", w.windowLost, w.dropped, w.impairedRuns)
	}
	if w.samples == 0 || len(abs) == 0 || p99 > 5 {
		t.Errorf("wire vs agent receive stamps: p99 %.2f ms over %d samples (%d explained), want <= 5 ms", p99, len(abs), w.samples)
	}
}
