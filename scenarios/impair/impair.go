package impair

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// Target is the egress of one pod's discovery interface.
type Target struct {
	// Cluster names the cluster in errors (optional).
	Cluster string
	// Node is the KinD node container the pod runs on.
	Node string
	// Namespace and Pod name the pod.
	Namespace, Pod string
	// Interface is the discovery (macvlan) interface inside the pod, e.g.
	// eth1. The API interface (eth0) and lo are refused.
	Interface string
}

func (t Target) String() string {
	s := fmt.Sprintf("pod %s/%s %s on node %s", t.Namespace, t.Pod, t.Interface, t.Node)
	if t.Cluster != "" {
		s = "cluster " + t.Cluster + ": " + s
	}
	return s
}

var ifaceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$`)

func (t Target) check() error {
	switch {
	case t.Node == "":
		return fmt.Errorf("%s: no node", t)
	case t.Namespace == "" || t.Pod == "":
		return fmt.Errorf("%s: no pod", t)
	case !ifaceRE.MatchString(t.Interface):
		return fmt.Errorf("%s: invalid interface name %q", t, t.Interface)
	case t.Interface == "eth0" || t.Interface == "lo":
		return fmt.Errorf("%s: refusing to impair %s: it carries the pod's API traffic, not discovery", t, t.Interface)
	}
	return nil
}

// Impairment applies a Spec to the egress of a pod's discovery interface,
// from outside the pod (exec into the KinD node, enter the pod's network
// namespace). Implementations: Netem, Nftables, None.
type Impairment interface {
	// Backend is "netem", "nftables" or "none".
	Backend() string
	// Apply resolves the pod's current network namespace and replaces any
	// impairment there with s, then reads it back to verify it. Call it
	// again after the pod restarts (a new pod has a new namespace); the
	// counters then start from zero.
	Apply(ctx context.Context, t Target, s Spec) error
	// Stats reads the counters since the last Apply.
	Stats(ctx context.Context, t Target) (Stats, error)
	// Remove deletes the impairment. It is idempotent: nothing applied, or
	// the pod gone (its namespace and impairment with it), is success. Call
	// it with a fresh context after a cancellation.
	Remove(ctx context.Context, t Target) error
}

// Stats are the packets an impairment saw and dropped on one interface.
type Stats struct {
	Seen    int64 `json:"seen"`
	Dropped int64 `json:"dropped"`
}

// Add sums two targets' counters.
func (s Stats) Add(o Stats) Stats {
	return Stats{Seen: s.Seen + o.Seen, Dropped: s.Dropped + o.Dropped}
}

// Sub returns the counters accrued since prev, read earlier from the same
// target. If the counters went backwards (the pod restarted and the
// impairment was reapplied), s itself is returned.
func (s Stats) Sub(prev Stats) Stats {
	if s.Seen < prev.Seen || s.Dropped < prev.Dropped {
		return s
	}
	return Stats{Seen: s.Seen - prev.Seen, Dropped: s.Dropped - prev.Dropped}
}

// AchievedLossPct is Dropped/Seen in percent; nil when nothing was seen.
func (s Stats) AchievedLossPct() *float64 {
	if s.Seen <= 0 {
		return nil
	}
	v := 100 * float64(s.Dropped) / float64(s.Seen)
	return &v
}

// None applies nothing (a condition without impairment).
type None struct{}

var _ Impairment = None{}

func (None) Backend() string                              { return BackendNone }
func (None) Apply(context.Context, Target, Spec) error    { return nil }
func (None) Stats(context.Context, Target) (Stats, error) { return Stats{}, nil }
func (None) Remove(context.Context, Target) error         { return nil }

// inNetNS prefixes cmd so it runs in the network namespace at path.
func inNetNS(path string, cmd ...string) []string {
	return append([]string{"nsenter", "--net=" + path, "--"}, cmd...)
}

// execIn runs cmd in t's namespace (remembered path; see Resolver.inPod).
func execIn(ctx context.Context, x dockerx.Executor, r *Resolver, t Target, stdin func() []byte, cmd ...string) ([]byte, error) {
	var out []byte
	err := r.inPod(ctx, t.Node, t.Namespace, t.Pod, false, func(ns string) error {
		var err error
		out, _, err = runIn(ctx, x, t.Node, ns, stdin, cmd...)
		return err
	})
	return out, err
}

func runIn(ctx context.Context, x dockerx.Executor, node, ns string, stdin func() []byte, cmd ...string) ([]byte, []byte, error) {
	if stdin == nil {
		return x.Exec(ctx, node, inNetNS(ns, cmd...), nil)
	}
	return x.Exec(ctx, node, inNetNS(ns, cmd...), bytesReader(stdin()))
}

// gone reports whether err means the pod (and so its namespace) no longer
// exists.
func gone(err error) bool { return errors.Is(err, ErrPodNotFound) }
