package store

import (
	"fmt"
	"math"

	"github.com/fluidos-lab/testbed/results"
)

// Limits on what a reader accepts (see the package documentation).
const (
	// MaxLineBytes is the longest line of runs.jsonl, newline excluded. A
	// run with 23 peers is 1–3 KB.
	MaxLineBytes = 1 << 20
	// MaxManifestBytes is the largest manifest.json (it records the input
	// files verbatim, each at most 1 MiB).
	MaxManifestBytes = 32 << 20
	// MaxRunIndex is the largest run index accepted for a condition the
	// manifest does not plan (or plans without a run count); a planned
	// condition is bounded by its warm-up + runs.
	MaxRunIndex = 1<<24 - 1
)

// LineError is a line of runs.jsonl that the campaign cannot contain.
type LineError struct {
	// File is the path of runs.jsonl ("" for ReadRuns).
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s: line %d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}
func (e *LineError) Unwrap() error { return e.Err }

// Checker applies the integrity rules of a campaign to its runs one at a
// time, in file order: the readers use it on every line, and stats uses it
// on a campaign built in memory.
type Checker struct {
	file    string
	plan    map[string]int
	listed  map[string]bool
	planned bool
	// seen holds, per condition, the line of the record of each index that
	// counts (aborted and skipped records never count).
	seen     map[string]*indexLines
	unknown  map[string]bool
	warnings []string
}

// NewChecker checks the runs of a campaign whose manifest is m (nil: no
// manifest, so no plan). file names runs.jsonl in messages.
func NewChecker(file string, m *results.Manifest) *Checker {
	c := &Checker{file: file, plan: map[string]int{}, listed: map[string]bool{}, seen: map[string]*indexLines{}, unknown: map[string]bool{}}
	if m != nil {
		for _, cd := range m.Conditions {
			c.planned = true
			c.listed[cd.Name] = true
			if n := cd.Runs + cd.Warmup; cd.Runs >= 0 && cd.Warmup >= 0 && n > 0 && n <= MaxRunIndex+1 {
				c.plan[cd.Name] = n
			}
		}
	}
	return c
}

func (c *Checker) where(line int) string {
	if c.file != "" {
		return fmt.Sprintf("%s: line %d", c.file, line)
	}
	return fmt.Sprintf("line %d", line)
}

func (c *Checker) warn(line int, format string, args ...any) {
	c.warnings = append(c.warnings, c.where(line)+": "+fmt.Sprintf(format, args...))
}

// Warnings are the recoverable problems found so far, each naming its line.
func (c *Checker) Warnings() []string { return c.warnings }

// Check applies the rules to r, found at line. It returns an error (a
// *LineError) when the campaign cannot contain r, ok=false (and records a
// warning) when r is skipped, and ok=true when r is accepted.
func (c *Checker) Check(line int, r *results.Run) (ok bool, err error) {
	fail := func(format string, args ...any) (bool, error) {
		return false, &LineError{File: c.file, Line: line, Err: fmt.Errorf(format, args...)}
	}
	if r.Condition == "" {
		return fail("run has no condition")
	}
	limit, isPlanned := c.plan[r.Condition]
	switch {
	case r.Index < 0:
		return fail("run %s has negative index %d", r.Condition, r.Index)
	case isPlanned && r.Index >= limit:
		return fail("run %s/%d: index %d is impossible: manifest.json plans %d runs (warm-up included) for condition %s, so indices 0..%d",
			r.Condition, r.Index, r.Index, limit, r.Condition, limit-1)
	case r.Index > MaxRunIndex:
		return fail("run %s/%d: index %d is beyond the limit of %d", r.Condition, r.Index, r.Index, MaxRunIndex)
	}
	if c.planned && !c.listed[r.Condition] && !c.unknown[r.Condition] {
		c.unknown[r.Condition] = true
		c.warn(line, "condition %s is not listed in manifest.json (its runs are read as an extra condition)", r.Condition)
	}
	if what := impossibleTime(r); what != "" {
		c.warn(line, "run %s/%d skipped by every reader: %s", r.Condition, r.Index, what)
		return false, nil
	}
	if r.Aborted {
		return true, nil
	}
	idx := c.seen[r.Condition]
	if idx == nil {
		idx = &indexLines{}
		c.seen[r.Condition] = idx
	}
	if prev := idx.get(r.Index); prev > 0 {
		return fail("run %s/%d is recorded twice (first at line %d); only an aborted run may be followed by a record of the same index",
			r.Condition, r.Index, prev)
	}
	idx.set(r.Index, line)
	return true, nil
}

// indexLines maps run indices to lines: densely while the indices are
// (a campaign's are 0, 1, 2, …), in a map for any index far beyond the
// number recorded, so that a crafted index cannot make it large.
type indexLines struct {
	dense  []int32
	sparse map[int]int
	n      int
}

func (x *indexLines) get(i int) int {
	if i < len(x.dense) && x.dense[i] != 0 {
		return int(x.dense[i])
	}
	return x.sparse[i] // also an index stored before dense reached it
}

func (x *indexLines) set(i, line int) {
	x.n++
	if i < len(x.dense) && line <= math.MaxInt32 {
		x.dense[i] = int32(line)
		return
	}
	if i < 2*x.n+4096 && line <= math.MaxInt32 {
		for len(x.dense) <= i {
			x.dense = append(x.dense, 0)
		}
		x.dense[i] = int32(line)
		return
	}
	if x.sparse == nil {
		x.sparse = map[int]int{}
	}
	x.sparse[i] = line
}

// impossibleTime describes the first value of r that cannot be: a
// non-finite number anywhere, or a negative time where the runner only
// records times after t0. "" when there is none.
func impossibleTime(r *results.Run) string {
	bad := func(v float64, nonNeg bool) bool { return math.IsNaN(v) || math.IsInf(v, 0) || (nonNeg && v < 0) }
	describe := func(name string, v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("%s = %v is not a finite number", name, v)
		}
		return fmt.Sprintf("%s = %g is negative (times are ms after the run's t0: a stale resource or a clock fault?)", name, v)
	}
	type field struct {
		name   string
		v      *float64
		nonNeg bool
	}
	im, pod := &r.Impairment, &r.Pod
	fields := [...]field{
		{"pauseMS", &r.PauseMS, true}, {"cycleOverheadMS", &r.CycleOverheadMS, true}, {"apiLatencyMS", &r.APILatencyMS, true},
		{"endMS", &r.EndMS, true},
		{"impairment.lossPct", &im.LossPct, false}, {"impairment.delayMS", &im.DelayMS, false}, {"impairment.jitterMS", &im.JitterMS, false},
		{"impairment.correlationPct", &im.CorrelationPct, false}, {"impairment.duplicatePct", &im.DuplicatePct, false},
		{"impairment.corruptPct", &im.CorruptPct, false}, {"impairment.achievedLossPct", im.AchievedLossPct, false},
		{"pod.scheduledMS", pod.ScheduledMS, false}, {"pod.startedMS", pod.StartedMS, false}, {"pod.readyMS", pod.ReadyMS, false},
		{"pod.containerStartMS", pod.ContainerStartMS, false}, {"pod.leaveMS", pod.LeaveMS, true},
	}
	for _, f := range fields {
		if f.v != nil && bad(*f.v, f.nonNeg) {
			return describe(f.name, *f.v)
		}
	}
	for i := range r.Peers {
		p := &r.Peers[i]
		pf := [...]field{{"discoveredMS", p.DiscoveredMS, true}, {"reverseMS", p.ReverseMS, true}, {"goneMS", p.GoneMS, true},
			{"truthMS", p.TruthMS, true}, {"truthSendMS", p.TruthSendMS, false}}
		for _, f := range pf {
			if f.v != nil && bad(*f.v, f.nonNeg) {
				return describe(fmt.Sprintf("peers[%d] (%s) %s", i, p.Peer, f.name), *f.v)
			}
		}
		for j := range p.Flaps {
			fl := &p.Flaps[j]
			if bad(fl.DeletedMS, true) {
				return describe(fmt.Sprintf("peers[%d] (%s) flaps[%d].deletedMS", i, p.Peer, j), fl.DeletedMS)
			}
			if fl.ReaddedMS != nil && bad(*fl.ReaddedMS, true) {
				return describe(fmt.Sprintf("peers[%d] (%s) flaps[%d].readdedMS", i, p.Peer, j), *fl.ReaddedMS)
			}
		}
	}
	return ""
}
