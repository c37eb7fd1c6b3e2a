package impair

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// Netem shapes with the netem qdisc: every Spec field is supported.
type Netem struct {
	exec    dockerx.Executor
	resolve *Resolver
	// seed: tc accepts "seed" (Capabilities.NetemSeed).
	seed bool
}

var _ Impairment = (*Netem)(nil)

// NewNetem returns the netem backend. seed says whether tc accepts netem's
// seed option (Capabilities.NetemSeed).
func NewNetem(x dockerx.Executor, seed bool) *Netem {
	return &Netem{exec: x, resolve: NewResolver(x), seed: seed}
}

// Backend returns "netem".
func (*Netem) Backend() string { return BackendNetem }

// netemArgs is the tc command that installs s on iface.
func netemArgs(iface string, s Spec, seed bool) []string {
	a := []string{"tc", "qdisc", "replace", "dev", iface, "root", "netem"}
	if s.Delay > 0 {
		a = append(a, "delay", usec(s.Delay))
		if s.Jitter > 0 {
			a = append(a, usec(s.Jitter))
			if s.CorrelationPct > 0 {
				a = append(a, pct(s.CorrelationPct))
			}
		}
	}
	if s.LossPct > 0 {
		a = append(a, "loss", "random", pct(s.LossPct))
		if s.CorrelationPct > 0 {
			a = append(a, pct(s.CorrelationPct))
		}
	}
	if s.DuplicatePct > 0 {
		a = append(a, "duplicate", pct(s.DuplicatePct))
	}
	if s.CorruptPct > 0 {
		a = append(a, "corrupt", pct(s.CorruptPct))
	}
	if s.Rate != "" {
		a = append(a, "rate", s.Rate)
	}
	if seed && s.Seed != 0 {
		a = append(a, "seed", strconv.FormatUint(uint64(s.Seed), 10))
	}
	return a
}

func usec(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) + "us" }
func pct(v float64) string        { return strconv.FormatFloat(v, 'f', -1, 64) + "%" }

// Apply installs s as the root qdisc of the discovery interface and verifies
// it by reading it back.
func (n *Netem) Apply(ctx context.Context, t Target, s Spec) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	ns, err := n.resolve.NetNS(ctx, t.Node, t.Namespace, t.Pod)
	if err != nil {
		return fmt.Errorf("%s: apply netem: %w", t, err)
	}
	if _, _, err := runIn(ctx, n.exec, t.Node, ns, nil, netemArgs(t.Interface, s, n.seed)...); err != nil {
		return fmt.Errorf("%s: apply netem: %w", t, err)
	}
	out, _, err := runIn(ctx, n.exec, t.Node, ns, nil, "tc", "-s", "qdisc", "show", "dev", t.Interface)
	if err != nil {
		return fmt.Errorf("%s: read back netem: %w", t, err)
	}
	q, err := parseTC(out)
	if err != nil {
		return fmt.Errorf("%s: read back netem: %w", t, err)
	}
	if err := q.matches(s); err != nil {
		return fmt.Errorf("%s: netem read back differs from what was applied: %w", t, err)
	}
	return nil
}

// Stats reads sent and dropped packets from the qdisc statistics.
func (n *Netem) Stats(ctx context.Context, t Target) (Stats, error) {
	if err := t.check(); err != nil {
		return Stats{}, err
	}
	out, err := execIn(ctx, n.exec, n.resolve, t, nil, "tc", "-s", "qdisc", "show", "dev", t.Interface)
	if err != nil {
		return Stats{}, fmt.Errorf("%s: read netem statistics: %w", t, err)
	}
	q, err := parseTC(out)
	if err != nil {
		return Stats{}, fmt.Errorf("%s: read netem statistics: %w", t, err)
	}
	if q.Kind != "netem" {
		return Stats{}, fmt.Errorf("%s: root qdisc is %s, not netem (was the pod restarted without a reapply?)", t, q.Kind)
	}
	return Stats{Seen: q.SentPkts + q.Dropped, Dropped: q.Dropped}, nil
}

// Remove deletes the root qdisc; none there, or the pod gone, is success.
func (n *Netem) Remove(ctx context.Context, t Target) error {
	if err := t.check(); err != nil {
		return err
	}
	_, err := execIn(ctx, n.exec, n.resolve, t, nil, "tc", "qdisc", "del", "dev", t.Interface, "root")
	var ee *dockerx.ExecError
	switch {
	case err == nil, gone(err):
		return nil
	case errors.As(err, &ee) && (strings.Contains(ee.Stderr, "handle of zero") || strings.Contains(ee.Stderr, "No such file")):
		return nil
	}
	return fmt.Errorf("%s: remove netem: %w", t, err)
}

// qdisc is the root qdisc as `tc -s qdisc show dev X` prints it.
type qdisc struct {
	Kind        string
	Delay       time.Duration
	Jitter      time.Duration
	LossPct     float64
	DupPct      float64
	CorruptPct  float64
	Rate        string
	Seed        string
	SentBytes   int64
	SentPkts    int64
	Dropped     int64
	Overlimits  int64
	hasCounters bool
}

// parseTC parses the root qdisc of `tc -s qdisc show dev X`:
//
//	qdisc netem 8001: root refcnt 2 limit 1000 delay 100ms  10ms 25% loss 25% duplicate 1% corrupt 1% rate 1Mbit
//	 Sent 1234 bytes 10 pkt (dropped 3, overlimits 0 requeues 0)
//	 backlog 0b 0p requeues 0
func parseTC(out []byte) (qdisc, error) {
	var q qdisc
	found := false
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "qdisc":
			if found {
				// Only the root qdisc (printed first) matters.
				if q.hasCounters {
					return q, nil
				}
				continue
			}
			if len(f) < 2 || !contains(f, "root") {
				continue
			}
			found = true
			q.Kind = f[1]
			if q.Kind == "netem" {
				if err := q.parseNetem(f[2:]); err != nil {
					return q, err
				}
			}
		case "Sent":
			if !found || q.hasCounters {
				continue
			}
			// Sent 1234 bytes 10 pkt (dropped 3, overlimits 0 requeues 0)
			if len(f) < 9 {
				return q, fmt.Errorf("short statistics line %q", sc.Text())
			}
			var err error
			if q.SentBytes, err = atoi(f[1]); err != nil {
				return q, err
			}
			if q.SentPkts, err = atoi(f[3]); err != nil {
				return q, err
			}
			if q.Dropped, err = atoi(strings.TrimSuffix(f[6], ",")); err != nil {
				return q, err
			}
			if q.Overlimits, err = atoi(f[8]); err != nil {
				return q, err
			}
			q.hasCounters = true
		}
	}
	if !found {
		return q, errors.New("no root qdisc in tc output")
	}
	if !q.hasCounters {
		return q, errors.New("no statistics in tc output (was -s given?)")
	}
	return q, nil
}

func (q *qdisc) parseNetem(f []string) error {
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "delay":
			d, err := parseTCTime(at(f, i+1))
			if err != nil {
				return fmt.Errorf("netem delay: %w", err)
			}
			q.Delay = d
			i++
			if j, err := parseTCTime(at(f, i+1)); err == nil {
				q.Jitter = j
				i++
				if strings.HasSuffix(at(f, i+1), "%") {
					i++ // delay correlation
				}
			}
		case "loss":
			if at(f, i+1) == "random" {
				i++
			}
			v, err := parsePct(at(f, i+1))
			if err != nil {
				return fmt.Errorf("netem loss: %w", err)
			}
			q.LossPct = v
			i++
		case "duplicate":
			v, err := parsePct(at(f, i+1))
			if err != nil {
				return fmt.Errorf("netem duplicate: %w", err)
			}
			q.DupPct = v
			i++
		case "corrupt":
			v, err := parsePct(at(f, i+1))
			if err != nil {
				return fmt.Errorf("netem corrupt: %w", err)
			}
			q.CorruptPct = v
			i++
		case "rate":
			q.Rate = at(f, i+1)
			i++
		case "seed":
			q.Seed = at(f, i+1)
			i++
		}
	}
	return nil
}

// matches compares the read-back qdisc with what was asked. tc stores
// percentages as 32-bit fractions and times in scheduler ticks, so small
// rounding is allowed.
func (q qdisc) matches(s Spec) error {
	var errs []error
	if q.Kind != "netem" {
		return fmt.Errorf("root qdisc is %q, not netem", q.Kind)
	}
	cmpPct := func(name string, got, want float64) {
		if math.Abs(got-want) > 0.01 {
			errs = append(errs, fmt.Errorf("%s is %v%%, want %v%%", name, got, want))
		}
	}
	cmpDur := func(name string, got, want time.Duration) {
		diff := got - want
		if diff < 0 {
			diff = -diff
		}
		if diff > want/100+10*time.Microsecond {
			errs = append(errs, fmt.Errorf("%s is %v, want %v", name, got, want))
		}
	}
	cmpPct("loss", q.LossPct, s.LossPct)
	cmpPct("duplicate", q.DupPct, s.DuplicatePct)
	cmpPct("corrupt", q.CorruptPct, s.CorruptPct)
	cmpDur("delay", q.Delay, s.Delay)
	cmpDur("jitter", q.Jitter, s.Jitter)
	if (q.Rate == "") != (s.Rate == "") {
		errs = append(errs, fmt.Errorf("rate is %q, want %q", q.Rate, s.Rate))
	}
	return errors.Join(errs...)
}

func at(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

func contains(f []string, s string) bool {
	for _, x := range f {
		if x == s {
			return true
		}
	}
	return false
}

func atoi(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("counter %q: %w", s, err)
	}
	return v, nil
}

func parsePct(s string) (float64, error) {
	if !strings.HasSuffix(s, "%") {
		return 0, fmt.Errorf("%q is not a percentage", s)
	}
	return strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
}

// parseTCTime parses tc's time format: 100ms, 10.5ms, 250us, 1s, 1.2s.
func parseTCTime(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   float64
	}{{"usec", 1e3}, {"us", 1e3}, {"msec", 1e6}, {"ms", 1e6}, {"sec", 1e9}, {"s", 1e9}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("%q is not a tc time", s)
			}
			return time.Duration(math.Round(v * u.unit)), nil
		}
	}
	return 0, fmt.Errorf("%q is not a tc time", s)
}
