package runner

import (
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fluidos-lab/testbed/results"
)

// obsKey is one observer's view of one subject.
type obsKey struct{ observer, subject string }

// observation is what one observer's peer resources for one subject did
// during a run.
type observation struct {
	// live holds the UIDs of the objects currently present.
	live map[types.UID]bool
	// seen holds every UID ever present during the run: an ADD for one of
	// them (a replay after a relist) is never a new appearance.
	seen       map[types.UID]bool
	first      *time.Time
	gone       *time.Time
	truthRecv  *int64
	truthSend  *int64
	flaps      []results.Flap
	preexisted bool
}

// runState accumulates one run's events. It is only touched under the
// runner's lock.
type runState struct {
	t0      time.Time
	nodeA   string
	peers   []string
	reverse bool
	obs     map[obsKey]*observation
	leaving bool
	leaveAt time.Time
	oldPods map[types.UID]bool
	pod     *corev1.Pod
	podUID  types.UID
	sched   *time.Time
	started *time.Time
	ready   *time.Time
	errs    []string
	ignored int
	wire    wireMark
	// offsets are the clusters' host clocks minus the runner's (ns).
	offsets map[string]int64
}

func newRunState(nodeA string, peers []string, reverse bool) *runState {
	return &runState{nodeA: nodeA, peers: peers, reverse: reverse, obs: map[obsKey]*observation{}, oldPods: map[types.UID]bool{}}
}

func (s *runState) get(k obsKey) *observation {
	o := s.obs[k]
	if o == nil {
		o = &observation{live: map[types.UID]bool{}, seen: map[types.UID]bool{}}
		s.obs[k] = o
	}
	return o
}

// relevant reports whether an (observer, subject) pair is measured: A's
// objects for each peer, and each peer's object for A.
func (s *runState) relevant(k obsKey) bool {
	if k.subject == "" || k.observer == k.subject {
		return false
	}
	return k.observer == s.nodeA || k.subject == s.nodeA
}

// seed records objects present before t0: they are not discoveries.
func (s *runState) seed(observer, subject string, uid types.UID) {
	k := obsKey{observer, subject}
	if !s.relevant(k) {
		return
	}
	o := s.get(k)
	o.live[uid], o.seen[uid], o.preexisted = true, true, true
}

func (s *runState) ms(t time.Time) float64 { return float64(t.Sub(s.t0)) / float64(time.Millisecond) }

// peerEvent applies one peer-resource event.
func (s *runState) peerEvent(e peerEvent) {
	k := obsKey{e.observer, e.subject}
	if !s.relevant(k) {
		return
	}
	o := s.get(k)
	switch e.kind {
	case evAdd, evUpdate:
		if o.live[e.uid] {
			return // an update, or an ADD replayed after a relist
		}
		wasEmpty := len(o.live) == 0
		o.live[e.uid] = true
		if o.seen[e.uid] {
			// The same object again: a DeletedFinalStateUnknown from a relist
			// for an object that still exists. Not a new appearance, and the
			// delete it seemed to close was a watch artifact, not a flap.
			s.ignored++
			if wasEmpty && len(o.flaps) > 0 && o.flaps[len(o.flaps)-1].ReaddedMS == nil {
				o.flaps = o.flaps[:len(o.flaps)-1]
			}
			return
		}
		o.seen[e.uid] = true
		if o.first == nil && !o.preexisted {
			at := e.at
			o.first = &at
			if v, ok := annotNS(e.annots, AnnotationFirstRecv); ok {
				o.truthRecv = &v
			}
			if v, ok := annotNS(e.annots, AnnotationFirstSend); ok {
				o.truthSend = &v
			}
			return
		}
		if wasEmpty && len(o.flaps) > 0 && o.flaps[len(o.flaps)-1].ReaddedMS == nil {
			v := s.ms(e.at)
			o.flaps[len(o.flaps)-1].ReaddedMS = &v
		}
	case evDelete:
		if !o.live[e.uid] {
			return
		}
		delete(o.live, e.uid)
		if len(o.live) > 0 {
			return
		}
		if s.leaving && e.subject == s.nodeA {
			if o.gone == nil {
				at := e.at
				o.gone = &at
			}
			return
		}
		if o.first != nil || o.preexisted {
			o.flaps = append(o.flaps, results.Flap{Observer: e.observer, Subject: e.subject, DeletedMS: s.ms(e.at)})
		}
	}
}

func annotNS(a map[string]string, key string) (int64, bool) {
	v, ok := a[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// podEvent applies one event on A's discovery pods.
func (s *runState) podEvent(e podEvent) {
	if e.cluster != s.nodeA || s.oldPods[e.pod.UID] || e.kind == evDelete {
		return
	}
	if s.podUID == "" {
		s.podUID = e.pod.UID
	}
	if e.pod.UID != s.podUID {
		return
	}
	s.pod = e.pod
	at := e.at
	if s.sched == nil && (e.pod.Spec.NodeName != "" || podCondition(e.pod, corev1.PodScheduled)) {
		s.sched = &at
	}
	if s.started == nil {
		for _, cs := range e.pod.Status.ContainerStatuses {
			if cs.State.Running != nil {
				s.started = &at
				break
			}
		}
	}
	if s.ready == nil && podCondition(e.pod, corev1.PodReady) {
		s.ready = &at
	}
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// discovered reports whether A found every peer, and (if measured) every
// peer found A.
func (s *runState) discovered() bool {
	for _, p := range s.peers {
		if o := s.obs[obsKey{s.nodeA, p}]; o == nil || o.first == nil {
			return false
		}
		if s.reverse {
			if o := s.obs[obsKey{p, s.nodeA}]; o == nil || o.first == nil {
				return false
			}
		}
	}
	return true
}

// allGone reports whether every peer dropped A after the leave.
func (s *runState) allGone() bool {
	for _, p := range s.peers {
		o := s.obs[obsKey{p, s.nodeA}]
		if o == nil || o.gone == nil {
			if o != nil && len(o.live) == 0 && o.first == nil && !o.preexisted {
				continue // never knew A: nothing to drop
			}
			return false
		}
	}
	return true
}

// fill writes the state into a run record.
func (s *runState) fill(r *results.Run) {
	ms := func(t *time.Time) *float64 {
		if t == nil {
			return nil
		}
		v := s.ms(*t)
		return &v
	}
	wall := s.t0.UnixNano()
	// ns converts a stamp of cluster c's host clock to ms since t0.
	ns := func(v *int64, c string) *float64 {
		if v == nil {
			return nil
		}
		f := float64(*v-s.offsets[c]-wall) / 1e6
		return &f
	}
	r.Missing = nil
	for _, p := range s.peers {
		pt := results.PeerTiming{Peer: p}
		if o := s.obs[obsKey{s.nodeA, p}]; o != nil {
			pt.DiscoveredMS = ms(o.first)
			pt.TruthMS = ns(o.truthRecv, s.nodeA)
			pt.TruthSendMS = ns(o.truthSend, p)
			pt.Flaps = append(pt.Flaps, o.flaps...)
		}
		if o := s.obs[obsKey{p, s.nodeA}]; o != nil {
			pt.ReverseMS = ms(o.first)
			pt.GoneMS = ms(o.gone)
			pt.Flaps = append(pt.Flaps, o.flaps...)
		}
		sort.SliceStable(pt.Flaps, func(i, j int) bool { return pt.Flaps[i].DeletedMS < pt.Flaps[j].DeletedMS })
		if pt.DiscoveredMS == nil {
			r.Missing = append(r.Missing, p)
		}
		r.Peers = append(r.Peers, pt)
	}
	r.Pod.ScheduledMS = ms(s.sched)
	r.Pod.StartedMS = ms(s.started)
	r.Pod.ReadyMS = ms(s.ready)
	r.Errors = append(r.Errors, s.errs...)
}
