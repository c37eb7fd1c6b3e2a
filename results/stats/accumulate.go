package stats

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/store"
)

// The analysis streams runs: it never holds a campaign's Run structs, only
// float64 samples. Analyze makes two passes over the runs (the first the
// per-peer, protocol and leave samples, summarised and dropped; the second
// the k-th peer samples, from which the pooled sample is merged), so that
// at most about two float64s per discovered (run, peer) pair are held at
// once. CollectSamples makes one pass (two when the manifest lists no
// peers) and holds one float64 per pair.

// MaxCurves bounds Samples.Curves: a condition with more included runs
// keeps an evenly spaced subset of at least MaxCurves/2 of them.
const MaxCurves = 2048

// runSource iterates the runs of a campaign (one pass per call).
type runSource func(visit func(*results.Run) error) error

// streamSource iterates st's runs, one pass per call, until ctx ends.
func streamSource(ctx context.Context, st *store.Stream) runSource {
	return func(visit func(*results.Run) error) error { return st.EachTransient(ctx, visit) }
}

// sourceOf iterates an in-memory campaign; runs of a campaign not read by
// package store go through the store's integrity rules first, problems
// becoming warnings (the run is left out).
func sourceOf(c *store.Campaign) (runSource, []string) {
	if c.Checked() {
		return func(visit func(*results.Run) error) error {
			for i := range c.Runs {
				if err := visit(&c.Runs[i]); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	ck := store.NewChecker("runs of campaign "+c.Manifest.Campaign+" (in memory)", &c.Manifest)
	var errs []string
	keep := make([]bool, len(c.Runs))
	for i := range c.Runs {
		r := c.Runs[i]
		ok, err := ck.Check(i+1, &r)
		if err != nil {
			errs = append(errs, err.Error()+" (run left out)")
		}
		keep[i] = ok && err == nil
	}
	warns := append(ck.Warnings(), errs...)
	return func(visit func(*results.Run) error) error {
		for i := range c.Runs {
			if keep[i] {
				if err := visit(&c.Runs[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}, warns
}

// conditionOrder collects condition names in manifest order, then in order
// of first appearance.
type conditionOrder struct {
	names []string
	conds map[string]results.Condition
}

func newConditionOrder(m results.Manifest) *conditionOrder {
	o := &conditionOrder{conds: map[string]results.Condition{}}
	for _, cd := range m.Conditions {
		if _, ok := o.conds[cd.Name]; !ok {
			o.names = append(o.names, cd.Name)
		}
		o.conds[cd.Name] = cd
	}
	return o
}

// see registers r's condition.
func (o *conditionOrder) see(r *results.Run) {
	if _, ok := o.conds[r.Condition]; !ok {
		o.names = append(o.names, r.Condition)
		imp := r.Impairment // r may be recycled: copy what it points to
		if imp.AchievedLossPct != nil {
			v := *imp.AchievedLossPct
			imp.AchievedLossPct = &v
		}
		o.conds[r.Condition] = results.Condition{Name: r.Condition, Impairment: imp}
	}
}

// peerSet is the peers node A should discover in one condition
// (store.ExpectedPeers, streamed).
type peerSet struct {
	fixed   bool // from the manifest
	list    []string
	index   map[string]int
	mention map[string]bool
}

func newPeerSet(m results.Manifest) *peerSet {
	ps := &peerSet{index: map[string]int{}, mention: map[string]bool{}}
	if len(m.Peers) > 0 {
		ps.fixed = true
		ps.list = m.Peers
		for i, p := range m.Peers {
			if _, ok := ps.index[p]; !ok {
				ps.index[p] = i
			}
		}
	}
	return ps
}

func (ps *peerSet) mentionRun(r *results.Run) {
	if ps.fixed {
		return
	}
	for i := range r.Peers {
		ps.mention[r.Peers[i].Peer] = true
	}
	for _, p := range r.Missing {
		ps.mention[p] = true
	}
}

// freeze fixes the list of a set built from mentions (sorted).
func (ps *peerSet) freeze() {
	if ps.fixed {
		return
	}
	ps.list = ps.list[:0]
	for p := range ps.mention {
		ps.list = append(ps.list, p)
	}
	sort.Strings(ps.list)
	for i, p := range ps.list {
		ps.index[p] = i
	}
	ps.fixed, ps.mention = true, nil
}

func (ps *peerSet) expected(p string) bool {
	_, ok := ps.index[p]
	return ok
}

// firstTimes appends to dst the first discovery time of each peer of r, in
// the run's peer order (a peer listed twice counts once), and returns it
// with how many of those peers are expected.
func firstTimes(dst []float64, r *results.Run, ps *peerSet, found map[string]bool) ([]float64, int) {
	clear(found)
	expected := 0
	for i := range r.Peers {
		p := &r.Peers[i]
		if p.DiscoveredMS == nil || found[p.Peer] {
			continue
		}
		found[p.Peer] = true
		dst = append(dst, *p.DiscoveredMS)
		if ps.expected(p.Peer) {
			expected++
		}
	}
	return dst, expected
}

// pass1 is the first pass of one condition: counts, per-peer, protocol
// and leave samples, flaps.
type pass1 struct {
	cs       Condition
	phase    string
	peers    *peerSet
	perPeer  map[string]*floats
	flaps    map[string]int
	protocol floats
	gone     floats
	contMS   floats
	achieved float64
	achN     int
	wire     wireAcc
	// periodMS is T, the width of the phase histogram.
	periodMS float64
	// found[m] counts included runs that discovered m distinct peers: the
	// sizes of the second pass's k-th peer samples.
	found []int
}

// pass2 is the second pass of one condition: the k-th peer samples.
type pass2 struct {
	// exact, when set, holds the k-th peer samples in slices of their final
	// size (known from the first pass); else byK grows in chunks.
	exact    [][]float64
	byK      []floats
	extra    floats // ranks beyond the expected peers (unexpected peers)
	allPeers floats
	runs     int
	timedOut int
	missing  int
	curves   [][]float64
	curveIdx []int
	stride   int
}

func (p *pass2) addCurve(ordinal, index int, times []float64) {
	if p.stride == 0 {
		p.stride = 1
	}
	if ordinal%p.stride != 0 {
		return
	}
	p.curves = append(p.curves, append([]float64(nil), times...))
	p.curveIdx = append(p.curveIdx, index)
	if len(p.curves) >= MaxCurves {
		// Keep every other curve and double the stride: the kept runs stay
		// evenly spaced over the condition.
		k := 0
		for i := 0; i < len(p.curves); i += 2 {
			p.curves[k], p.curveIdx[k] = p.curves[i], p.curveIdx[i]
			k++
		}
		clear(p.curves[k:])
		p.curves, p.curveIdx = p.curves[:k], p.curveIdx[:k]
		p.stride *= 2
	}
}

// add records one included run.
func (p *pass2) add(r *results.Run, ps *peerSet, scratch []float64, found map[string]bool) []float64 {
	times, expected := firstTimes(scratch[:0], r, ps, found)
	sort.Float64s(times)
	n := len(ps.list)
	missing := n - expected
	p.missing += missing
	if r.TimedOut || missing > 0 {
		p.timedOut++
	}
	p.addCurve(p.runs, r.Index, times)
	p.runs++
	if p.exact == nil && len(p.byK) < n {
		p.byK = append(p.byK, make([]floats, n-len(p.byK))...)
	}
	for k, t := range times {
		switch {
		case k >= n:
			p.extra.add(t)
		case p.exact != nil:
			p.exact[k] = append(p.exact[k], t)
		default:
			p.byK[k].add(t)
		}
	}
	if missing == 0 && len(times) > 0 {
		p.allPeers.add(times[len(times)-1])
	}
	return times
}

// Analyze computes the statistics of c, condition by condition in manifest
// order (then any condition found only in runs.jsonl, in order of
// appearance). A campaign built in memory (not by package store) goes
// through the store's integrity rules first; what they reject is left out
// and reported in the Summary's warnings.
func Analyze(c *store.Campaign) *Summary {
	src, warns := sourceOf(c)
	s, err := analyze(c.Manifest, append(append([]string(nil), c.Warnings...), warns...), src, nil)
	if err != nil {
		panic("stats: in-memory analysis failed: " + err.Error()) // visit never fails in memory
	}
	return s
}

// AnalyzeDir streams the campaign in dir (see store.Stream) and analyses
// it; the returned campaign carries the manifest and the reader's warnings
// (also in the Summary), not the runs. It stops with ctx's error, within
// store.CheckEvery lines, when ctx ends.
func AnalyzeDir(ctx context.Context, dir string) (*Summary, *store.Campaign, error) {
	st, err := store.OpenStream(dir)
	if err != nil {
		return nil, nil, err
	}
	s, err := analyze(st.Campaign().Manifest, nil, streamSource(ctx, st), func() []string { return st.Campaign().Warnings })
	if err != nil {
		return nil, nil, err
	}
	return s, st.Campaign(), nil
}

// analyze runs both passes over src. late, when not nil, supplies warnings
// known only after the first pass (the reader's).
func analyze(m results.Manifest, warns []string, src runSource, late func() []string) (*Summary, error) {
	s := newSummary(m)
	order := newConditionOrder(m)
	p1 := &firstPasses{m: m, order: order, byName: map[string]*pass1{}}
	found := map[string]bool{}
	if err := p1.run(src, found); err != nil {
		return nil, err
	}
	if late != nil {
		warns = append(warns, late()...)
	}
	s.Warnings = append(s.Warnings, warns...)
	conds := p1.finish()
	// The first pass's samples (about one float64 per discovered pair) are
	// summarised and dropped: collect them now rather than when the second
	// pass's samples have doubled the heap.
	runtime.GC()
	// Second pass: the k-th peer samples, one condition's expected peers
	// now known.
	p2 := p1.secondPasses()
	if err := runSecondPass(src, p1.byName, p2, found); err != nil {
		return nil, err
	}
	finishSecondPasses(m, order.names, p2, conds, s)
	s.Conditions = conds
	return s, nil
}

// newSummary is the Summary of m's campaign before any condition.
func newSummary(m results.Manifest) *Summary {
	return &Summary{
		Campaign:   m.Campaign,
		Protocol:   m.Protocol,
		NodeA:      m.NodeA,
		Phase:      m.Phase,
		PhaseLabel: PhaseLabel(m.Phase),
		Quantiles:  "type 7 (linear interpolation between order statistics; R default, numpy.percentile default)",
	}
}

// firstPasses holds the first pass of every condition, by name.
type firstPasses struct {
	m      results.Manifest
	order  *conditionOrder
	byName map[string]*pass1
}

// get returns the first pass of condition name, starting it if needed.
func (fp *firstPasses) get(name string) *pass1 {
	p := fp.byName[name]
	if p == nil {
		cond := fp.order.conds[name]
		p = &pass1{peers: newPeerSet(fp.m), perPeer: map[string]*floats{}, flaps: map[string]int{}, phase: fp.m.Phase, periodMS: fp.m.AnnounceIntervalMS,
			cs: Condition{Name: cond.Name, Impairment: cond.Impairment, Backend: cond.Impairment.Backend, RequestedLossPct: cond.Impairment.LossPct}}
		fp.byName[name] = p
	}
	return p
}

// run makes the first pass over src, registering each run's condition.
func (fp *firstPasses) run(src runSource, found map[string]bool) error {
	return src(func(r *results.Run) error {
		fp.order.see(r)
		p := fp.get(r.Condition)
		p.peers.mentionRun(r)
		p.first(r, found)
		return nil
	})
}

// finish summarises the first pass of every condition, in order.
func (fp *firstPasses) finish() []Condition {
	conds := make([]Condition, len(fp.order.names))
	for i, name := range fp.order.names {
		conds[i] = fp.get(name).finish()
	}
	return conds
}

// secondPasses starts the second pass of every condition, with k-th peer
// samples sized from the first pass.
func (fp *firstPasses) secondPasses() map[string]*pass2 {
	p2 := make(map[string]*pass2, len(fp.order.names))
	for _, name := range fp.order.names {
		p := fp.byName[name]
		n := len(p.peers.list)
		exact := make([][]float64, n)
		for k := range exact {
			size := 0
			for m := k + 1; m < len(p.found); m++ {
				size += p.found[m]
			}
			exact[k] = make([]float64, 0, size)
		}
		p2[name] = &pass2{exact: exact}
	}
	return p2
}

// runSecondPass makes the second pass over src's included runs.
func runSecondPass(src runSource, p1 map[string]*pass1, p2 map[string]*pass2, found map[string]bool) error {
	var scratch []float64
	return src(func(r *results.Run) error {
		if excluded(r) {
			return nil
		}
		p := p1[r.Condition]
		scratch = p2[r.Condition].add(r, p.peers, scratch, found)
		return nil
	})
}

// finishSecondPasses completes conds from the second passes, dropping
// each once done, and warns in s of conditions without included runs.
func finishSecondPasses(m results.Manifest, names []string, p2 map[string]*pass2, conds []Condition, s *Summary) {
	for i, name := range names {
		cs := &conds[i]
		p2[name].finish(m, cs)
		delete(p2, name)
		if cs.Runs == 0 {
			s.Warnings = append(s.Warnings, fmt.Sprintf("condition %s: no included runs", name))
		}
	}
}

// first records r in the first pass.
func (p *pass1) first(r *results.Run, found map[string]bool) {
	cs := &p.cs
	switch {
	case r.Warmup:
		cs.WarmupRuns++
		return
	case r.Aborted:
		cs.AbortedRuns++
		return
	case r.Faulted():
		cs.FaultedRuns++
		if len(cs.Faults) < MaxFaultLines {
			cs.Faults = append(cs.Faults, FaultLine(r))
		}
		return
	}
	cs.Runs++
	if p.phase == "" {
		p.phase = r.Phase
	}
	if cs.Backend == "" {
		cs.Backend = r.Impairment.Backend
	}
	if r.Impairment.AchievedLossPct != nil {
		p.achieved += *r.Impairment.AchievedLossPct
		p.achN++
	}
	cs.PacketsSeen += r.Impairment.PacketsSeen
	cs.PacketsDropped += r.Impairment.PacketsDropped
	p.phaseOf(r)
	p.wire.add(r)
	cstart := r.Pod.ContainerStartMS
	if cstart != nil {
		p.contMS.add(*cstart)
	}
	end := runEnd(*r)
	clear(found)
	for i := range r.Peers {
		pt := &r.Peers[i]
		if pt.GoneMS != nil && r.Pod.LeaveMS != nil {
			p.gone.add(*pt.GoneMS - *r.Pod.LeaveMS)
		}
		if n := len(pt.Flaps); n > 0 {
			cs.Flaps += n
			p.flaps[pt.Peer] += n
		}
		if pt.DiscoveredMS == nil || found[pt.Peer] {
			continue
		}
		d := *pt.DiscoveredMS
		found[pt.Peer] = true
		if !p.peers.fixed || p.peers.expected(pt.Peer) {
			f := p.perPeer[pt.Peer]
			if f == nil {
				f = &floats{}
				p.perPeer[pt.Peer] = f
			}
			f.add(d)
		}
		if cstart != nil {
			p.protocol.add(d - *cstart)
		}
		if end > d {
			cs.PeerMinutes += (end - d) / 60000
		}
	}
	m := len(found)
	for len(p.found) <= m {
		p.found = append(p.found, 0)
	}
	p.found[m]++
}

// phaseOf counts r's achieved start phase in the condition's histogram of
// PhaseBins bins over [0, T), and an aligned run that was off cycle.
func (p *pass1) phaseOf(r *results.Run) {
	cs := &p.cs
	if r.Cycle != nil && r.Cycle.OffCycle {
		cs.OffCycleRuns++
	}
	if r.PhaseMS == nil || p.periodMS <= 0 || math.IsNaN(*r.PhaseMS) {
		return
	}
	if cs.PhaseHist == nil {
		cs.PhaseHist = make([]int, PhaseBins)
		cs.PhaseBinMS = p.periodMS / PhaseBins
	}
	b := int(math.Mod(*r.PhaseMS, p.periodMS) / cs.PhaseBinMS)
	if b < 0 {
		b += PhaseBins
	}
	cs.PhaseHist[min(b, PhaseBins-1)]++
}

// finish summarises the first pass and drops its samples (except the
// container starts, which become Samples.ContainerMS).
func (p *pass1) finish() Condition {
	p.peers.freeze()
	cs := p.cs
	cs.Peers = len(p.peers.list)
	cs.Phase = p.phase
	cs.PhaseLabel = PhaseLabel(p.phase)
	cs.AchievedLossPct = achievedLoss(cs.PacketsSeen, cs.PacketsDropped, p.achieved, p.achN)
	cs.Wire = p.wire.finish()
	cs.Samples.measured, p.wire.measured = p.wire.measured, nil
	cs.Samples.processingQ = p.wire.procQ
	if cs.PeerMinutes > 0 {
		cs.FlapRate = float64(cs.Flaps) / cs.PeerMinutes
	}
	cs.Samples.ContainerMS = p.contMS.sortedTake()
	cs.ContainerStart = describeSorted(cs.Samples.ContainerMS)
	cs.Protocol = p.protocol.sortedParts().Describe()
	cs.GoneAfterLeave = p.gone.sortedParts().Describe()
	for _, name := range p.peers.list {
		var s Sorted
		if f := p.perPeer[name]; f != nil {
			s = f.sortedParts()
			delete(p.perPeer, name)
		}
		cs.ByPeer = append(cs.ByPeer, Peer{Peer: name, Dist: s.Describe(), Missing: cs.Runs - s.Len(), Flaps: p.flaps[name]})
	}
	p.perPeer = nil
	return cs
}

// finish turns the second pass into the k-th peer, first-peer, all-peers
// and pooled samples, their summaries, responsiveness and the model fit.
func (p *pass2) finish(m results.Manifest, cs *Condition) {
	cs.TimedOutRuns = p.timedOut
	cs.MissingPeers = p.missing
	cs.Samples.ByK = make([][]float64, cs.Peers)
	for k := range cs.Samples.ByK {
		switch {
		case k < len(p.exact):
			sort.Float64s(p.exact[k])
			cs.Samples.ByK[k] = p.exact[k]
		case k < len(p.byK):
			cs.Samples.ByK[k] = p.byK[k].sortedTake()
		}
	}
	p.byK, p.exact = nil, nil
	extra := p.extra.sortedTake()
	if cs.Peers > 0 {
		cs.Samples.FirstPeer = cs.Samples.ByK[0]
	} else {
		cs.Samples.FirstPeer = extra
	}
	cs.Samples.AllPeers = p.allPeers.sortedTake()
	// Merged from the k-th peer samples (it is a copy only when there is
	// more than one non-empty part).
	cs.Samples.AnyPeer = SortedOf(append(append([][]float64(nil), cs.Samples.ByK...), extra)...).Slice()
	cs.Samples.Curves, cs.Samples.CurveIndex = p.curves, p.curveIdx
	if cs.Samples.Curves == nil {
		cs.Samples.Curves, cs.Samples.CurveIndex = [][]float64{}, []int{}
	}
	cs.FirstPeer = describeSorted(cs.Samples.FirstPeer)
	cs.AllPeers = describeSorted(cs.Samples.AllPeers)
	cs.AnyPeer = describeSorted(cs.Samples.AnyPeer)
	for k, s := range cs.Samples.ByK {
		cs.ByK = append(cs.ByK, KthPeer{K: k + 1, Dist: describeSorted(s), Missing: cs.Runs - len(s)})
	}
	cs.Responsiveness, cs.AllResponsiveness = responsiveness(cs.Samples.AnyPeer, cs.Samples.AllPeers, cs.Runs*cs.Peers, cs.Runs)
	cs.Model = fitModel(m, cs)
}

// CondSamples are the ascending samples of one condition that a comparison
// needs; AnyPeer is the union of the k-th peer samples (not a copy).
type CondSamples struct {
	Name      string
	Runs      int
	FirstPeer Sorted
	AllPeers  Sorted
	AnyPeer   Sorted
	ByK       []Sorted
}

// Comparable returns cs's samples for a comparison.
func (cs *Condition) Comparable() CondSamples {
	out := CondSamples{Name: cs.Name, Runs: cs.Runs, FirstPeer: SortedOf(cs.Samples.FirstPeer), AllPeers: SortedOf(cs.Samples.AllPeers),
		AnyPeer: SortedOf(cs.Samples.AnyPeer)}
	for _, s := range cs.Samples.ByK {
		out.ByK = append(out.ByK, SortedOf(s))
	}
	return out
}

// Collection is what CollectSamples keeps of a campaign: one CondSamples
// per condition (Analyze's order) and the warnings.
type Collection struct {
	Campaign   string
	Conditions []CondSamples
	Warnings   []string
}

// CollectSamples gathers the comparison samples of an in-memory campaign.
func CollectSamples(c *store.Campaign) *Collection {
	src, warns := sourceOf(c)
	col, err := collect(c.Manifest, append(append([]string(nil), c.Warnings...), warns...), src, nil)
	if err != nil {
		panic("stats: in-memory collection failed: " + err.Error())
	}
	return col
}

// CollectDir streams the campaign in dir and gathers its comparison
// samples, holding one float64 per discovered (run, peer) pair. It stops
// with ctx's error, within store.CheckEvery lines, when ctx ends.
func CollectDir(ctx context.Context, dir string) (*Collection, *store.Campaign, error) {
	st, err := store.OpenStream(dir)
	if err != nil {
		return nil, nil, err
	}
	col, err := collect(st.Campaign().Manifest, nil, streamSource(ctx, st), func() []string { return st.Campaign().Warnings })
	if err != nil {
		return nil, nil, err
	}
	return col, st.Campaign(), nil
}

func collect(m results.Manifest, warns []string, src runSource, late func() []string) (*Collection, error) {
	order := newConditionOrder(m)
	peers := map[string]*peerSet{}
	getPeers := func(name string) *peerSet {
		ps := peers[name]
		if ps == nil {
			ps = newPeerSet(m)
			peers[name] = ps
		}
		return ps
	}
	if len(m.Peers) == 0 {
		// The expected peers are those the runs mention: one pass to know them.
		if err := src(func(r *results.Run) error {
			order.see(r)
			getPeers(r.Condition).mentionRun(r)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	for _, name := range order.names {
		getPeers(name).freeze()
	}
	p2 := map[string]*pass2{}
	found := map[string]bool{}
	var scratch []float64
	if err := src(func(r *results.Run) error {
		order.see(r)
		ps := getPeers(r.Condition)
		ps.freeze()
		p := p2[r.Condition]
		if p == nil {
			p = &pass2{}
			p2[r.Condition] = p
		}
		if excluded(r) {
			return nil
		}
		scratch = p.add(r, ps, scratch, found)
		return nil
	}); err != nil {
		return nil, err
	}
	col := &Collection{Campaign: m.Campaign, Warnings: warns}
	if late != nil {
		col.Warnings = append(col.Warnings, late()...)
	}
	for _, name := range order.names {
		p := p2[name]
		if p == nil {
			p = &pass2{}
		}
		n := len(getPeers(name).list)
		cs := CondSamples{Name: name, Runs: p.runs}
		var all [][]float64
		for k := 0; k < n; k++ {
			var s Sorted
			if k < len(p.byK) {
				s = p.byK[k].sortedParts()
			}
			cs.ByK = append(cs.ByK, s)
			all = append(all, s.parts...)
		}
		extra := p.extra.sortedParts()
		if n > 0 {
			cs.FirstPeer = cs.ByK[0]
		} else {
			cs.FirstPeer = extra
		}
		cs.AllPeers = p.allPeers.sortedParts()
		cs.AnyPeer = SortedOf(append(all, extra.parts...)...)
		delete(p2, name)
		col.Conditions = append(col.Conditions, cs)
	}
	return col, nil
}

// achievedLoss is a condition's achieved loss in the one definition every
// figure uses: the impairment's dropped packets over the packets it saw,
// pooled over the runs (each run's AchievedLossPct is the same ratio for
// that run). Without counters, the mean of the runs' figures.
func achievedLoss(seen, dropped int64, sum float64, n int) *float64 {
	switch {
	case seen > 0:
		return new(100 * float64(dropped) / float64(seen))
	case n > 0:
		return new(sum / float64(n))
	}
	return nil
}

// excluded reports whether r is left out of the statistics: a warm-up, an
// aborted run, or one the lab's infrastructure disturbed.
func excluded(r *results.Run) bool { return r.Warmup || r.Aborted || r.Faulted() }

// MaxFaultLines bounds the fault descriptions a condition keeps.
const MaxFaultLines = 20

// FaultLine describes a faulted run's events on one line, e.g. "run 3:
// ci-03-control-plane pause at -27.1 s, ci-03-control-plane unpause at
// 2.9 s".
func FaultLine(r *results.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %d:", r.Index)
	for i, f := range r.Faults {
		if i > 0 {
			b.WriteByte(',')
		}
		who := f.Container
		if who == "" {
			who = "engine"
		}
		fmt.Fprintf(&b, " %s %s", who, f.Event)
		if f.Detail != "" {
			fmt.Fprintf(&b, " (%s)", f.Detail)
		}
		fmt.Fprintf(&b, " at %.1f s", f.AtMS/1000)
	}
	return b.String()
}
