package runner

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/stats"
)

// LabFaults is what the container engine reported about the lab's node
// containers (paused, stopped, killed, restarted, out of memory) and about
// its own event stream (lost, restored) over a campaign.
type LabFaults interface {
	// Drain returns the events logged since the last call, in time
	// order. Events arrive a little after they happen: taking them by
	// arrival, not by a time window, loses none at a window's edge.
	Drain() []FaultEvent
}

// FaultEvent is one infrastructure event.
type FaultEvent struct {
	Time time.Time
	// Cluster and Container are empty for the engine's own events.
	Cluster, Container string
	Event, Detail      string
}

// maxRunFaults bounds the events kept in one run's record (a daemon that
// flaps for minutes must not make a run's line unbounded).
const maxRunFaults = 50

// markFaults records in run the faults logged since the previous run was
// marked, so that every event of the campaign (a reset, the delay between
// runs, the switch between conditions) lands in exactly one run. Times
// are ms since the run's t0 (negative: before it), or since the campaign's
// start for a run that failed before its t0.
func (r *Runner) markFaults(cp *campaign, run *results.Run) {
	if r.o.Faults == nil || run == nil {
		return
	}
	evs := r.o.Faults.Drain()
	if len(evs) == 0 {
		return
	}
	ref := run.Started
	if ref.IsZero() {
		ref = cp.start
	}
	evs = onRunnerClock(evs, r.o.ClockOffsets)
	for i, e := range evs {
		if i == maxRunFaults-1 && len(evs) > maxRunFaults {
			run.Faults = append(run.Faults, results.LabFault{AtMS: msOf(e.Time.Sub(ref)), Event: "more",
				Detail: fmt.Sprintf("%d more events not kept", len(evs)-i)})
			break
		}
		run.Faults = append(run.Faults, results.LabFault{AtMS: msOf(e.Time.Sub(ref)), Cluster: e.Cluster, Container: e.Container, Event: e.Event, Detail: e.Detail})
	}
}

// onRunnerClock puts the events of a node container, stamped by its host's
// engine, on the runner's clock (offsets: per cluster, host minus runner;
// the engine-stream's own events are stamped here) and sorts them again.
func onRunnerClock(evs []FaultEvent, offsets map[string]int64) []FaultEvent {
	if len(offsets) == 0 {
		return evs
	}
	out := make([]FaultEvent, len(evs))
	for i, e := range evs {
		if off, ok := offsets[e.Cluster]; ok {
			e.Time = e.Time.Add(-time.Duration(off))
		}
		out[i] = e
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// faultNote is the progress line's mark of a faulted run.
func faultNote(run *results.Run) string {
	if !run.Faulted() {
		return ""
	}
	_, events, _ := strings.Cut(stats.FaultLine(run), ":")
	return ", LAB FAULT (run excluded from the statistics):" + events
}
