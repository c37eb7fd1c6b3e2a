package stats

import (
	"math"

	"github.com/fluidos-lab/testbed/results"
)

// wireAcc accumulates a condition's wire split over its included runs.
type wireAcc struct {
	runs                         int
	n, unexplained, byJoin, lost int
	startup, wait, lostMS, proc  float64
	processing                   floats
	winLoss                      float64
	winN                         int
	annRate, byteRate            float64
	senders                      int
	stepMaxUS                    float64
	measured                     []measuredRun
	// procQ are processingQuantiles evenly spaced quantiles of the
	// processing+API part (the measured-phase model's processing).
	procQ []float64
}

// add takes one included run's wire figures.
func (w *wireAcc) add(r *results.Run) {
	if r.Wire == nil {
		return
	}
	w.runs++
	if len(w.measured) < MaxMeasuredRuns {
		if m, ok := measuredOf(r); ok {
			w.measured = append(w.measured, m)
		}
	}
	w.lost += r.Wire.Lost
	w.stepMaxUS = max(w.stepMaxUS, math.Abs(r.Wire.ClockStepUS))
	if r.Wire.WindowLossPct != nil {
		w.winLoss += *r.Wire.WindowLossPct
		w.winN++
	}
	if end := runEnd(*r); end > 0 {
		for _, s := range r.Wire.Senders {
			w.annRate += float64(s.Announcements) / (end / 1000)
			w.byteRate += float64(s.Bytes) / (end / 1000)
			w.senders++
		}
	}
	for i := range r.Peers {
		p := &r.Peers[i]
		if p.DiscoveredMS == nil {
			continue
		}
		x := p.Wire
		if x == nil {
			w.unexplained++
			continue
		}
		w.n++
		if x.ReadyBy == "igmp-join" {
			w.byJoin++
		}
		w.startup += x.StartupMS
		w.wait += x.WaitMS
		w.lostMS += x.LostMS
		w.proc += x.ProcessingMS
		w.processing.add(x.ProcessingMS)
	}
}

// finish is the condition's split, nil without a captured run.
func (w *wireAcc) finish() *WireSplit {
	if w.runs == 0 {
		return nil
	}
	s := &WireSplit{Samples: w.n, Unexplained: w.unexplained, ReadyByJoin: w.byJoin, Lost: w.lost, ClockStepMaxUS: w.stepMaxUS}
	if w.n > 0 {
		n := float64(w.n)
		s.StartupMS, s.WaitMS, s.LostMS, s.ProcessingMS = w.startup/n, w.wait/n, w.lostMS/n, w.proc/n
		sorted := w.processing.sortedTake()
		s.Processing = describeSorted(sorted)
		for j := range processingQuantiles {
			w.procQ = append(w.procQ, Quantile(sorted, (float64(j)+0.5)/processingQuantiles))
		}
	}
	if w.winN > 0 {
		s.WindowLossPct = new(w.winLoss / float64(w.winN))
	}
	if w.senders > 0 {
		s.AnnouncementsPerSec, s.BytesPerSec = w.annRate/float64(w.senders), w.byteRate/float64(w.senders)
	}
	return s
}
