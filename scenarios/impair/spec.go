package impair

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// Backend names, as recorded in results.Impairment.Backend.
const (
	BackendNone     = "none"
	BackendNetem    = "netem"
	BackendNftables = "nftables"
)

// Spec is the impairment a condition asks for, applied to the egress of one
// pod's discovery interface. Percentages are 0..100; zero means "not set".
type Spec struct {
	LossPct        float64
	Delay          time.Duration
	Jitter         time.Duration
	CorrelationPct float64 // applies to loss and delay (netem)
	DuplicatePct   float64
	CorruptPct     float64
	Rate           string // netem rate, e.g. "1mbit"
	// Seed is passed to netem when tc supports it (Capabilities.NetemSeed).
	// nftables' random generator cannot be seeded; the seed is then only
	// recorded.
	Seed int64
}

// IsZero reports whether the spec impairs nothing.
func (s Spec) IsZero() bool { return s == Spec{} || s == Spec{Seed: s.Seed} }

// LossOnly reports whether the spec asks for nothing but random loss.
func (s Spec) LossOnly() bool {
	return s.Delay == 0 && s.Jitter == 0 && s.CorrelationPct == 0 &&
		s.DuplicatePct == 0 && s.CorruptPct == 0 && s.Rate == ""
}

// check validates the values themselves, independently of the host.
func (s Spec) check() error {
	var errs []error
	pct := func(name string, v float64) {
		if math.IsNaN(v) || v < 0 || v > 100 {
			errs = append(errs, fmt.Errorf("%s %v%% is outside 0..100", name, v))
		}
	}
	pct("loss", s.LossPct)
	pct("correlation", s.CorrelationPct)
	pct("duplicate", s.DuplicatePct)
	pct("corrupt", s.CorruptPct)
	if s.Delay < 0 {
		errs = append(errs, fmt.Errorf("delay %v is negative", s.Delay))
	}
	if s.Jitter < 0 {
		errs = append(errs, fmt.Errorf("jitter %v is negative", s.Jitter))
	}
	if s.Jitter > 0 && s.Delay == 0 {
		errs = append(errs, errors.New("jitter needs a delay"))
	}
	if s.Rate != "" && !validRate(s.Rate) {
		errs = append(errs, fmt.Errorf("rate %q is not a tc rate such as 100kbit or 1mbit", s.Rate))
	}
	return errors.Join(errs...)
}

func validRate(r string) bool {
	i := 0
	for i < len(r) && (r[i] >= '0' && r[i] <= '9' || r[i] == '.') {
		i++
	}
	if i == 0 {
		return false
	}
	switch strings.ToLower(r[i:]) {
	case "bit", "kbit", "mbit", "gbit", "tbit", "bps", "kbps", "mbps", "gbps", "tbps":
		return true
	}
	return false
}

// Capabilities is what a host's kernel and tools can do, as found by Probe.
type Capabilities struct {
	Kernel string `json:"kernel,omitempty"`
	// Netem: `tc qdisc add ... netem` works.
	Netem    bool   `json:"netem"`
	NetemErr string `json:"netemError,omitempty"`
	// NetemSeed: this tc accepts netem's "seed" option.
	NetemSeed bool `json:"netemSeed"`
	// NftEgress: nftables accepts a netdev table with an egress hook.
	NftEgress bool   `json:"nftEgress"`
	NftErr    string `json:"nftError,omitempty"`
}

// Backend is the backend Select would use for a lossy spec: netem where the
// kernel has it, else nftables, else none.
func (c Capabilities) Backend() string {
	switch {
	case c.Netem:
		return BackendNetem
	case c.NftEgress:
		return BackendNftables
	}
	return BackendNone
}

// Supported lists what the host can impair, for doctor.
func (c Capabilities) Supported() []string {
	switch {
	case c.Netem:
		return []string{"loss", "delay", "jitter", "correlation", "duplicate", "corrupt", "rate"}
	case c.NftEgress:
		return []string{"loss"}
	}
	return nil
}

const netemHint = "the kernel lacks the netem qdisc (CONFIG_NET_SCH_NETEM): load it with `modprobe sch_netem`; " +
	"on Ubuntu install linux-modules-extra-$(uname -r), on Fedora kernel-modules-extra; " +
	"otherwise use a kernel built with CONFIG_NET_SCH_NETEM=m"

const nftHint = "nftables cannot attach a netdev egress hook (needs Linux >= 5.16 with CONFIG_NETFILTER_EGRESS and CONFIG_NF_TABLES_NETDEV, and nft >= 1.0.1)"

// Validate refuses a spec the host cannot apply, naming the missing kernel
// feature and how to get it. Call it for every condition before the first run.
func Validate(caps Capabilities, spec Spec) error {
	if err := spec.check(); err != nil {
		return fmt.Errorf("invalid impairment: %w", err)
	}
	if spec.IsZero() || caps.Netem {
		return nil
	}
	if !spec.LossOnly() {
		var asked []string
		if spec.Delay > 0 {
			asked = append(asked, "delay")
		}
		if spec.Jitter > 0 {
			asked = append(asked, "jitter")
		}
		if spec.CorrelationPct > 0 {
			asked = append(asked, "correlation")
		}
		if spec.DuplicatePct > 0 {
			asked = append(asked, "duplicate")
		}
		if spec.CorruptPct > 0 {
			asked = append(asked, "corrupt")
		}
		if spec.Rate != "" {
			asked = append(asked, "rate")
		}
		msg := netemHint
		if caps.NetemErr != "" {
			msg += " (probe: " + caps.NetemErr + ")"
		}
		return fmt.Errorf("%s need netem, which this host does not have (only loss can be applied, with nftables): %s",
			strings.Join(asked, ", "), msg)
	}
	if caps.NftEgress {
		return nil
	}
	msg := "loss needs netem or nftables netdev egress and this host has neither: " + netemHint + "; " + nftHint
	if caps.NetemErr != "" || caps.NftErr != "" {
		msg += fmt.Sprintf(" (probe: netem: %s; nft: %s)", caps.NetemErr, caps.NftErr)
	}
	return errors.New(msg)
}

// Select validates spec against caps and returns the backend to apply it
// with: netem when the kernel has it, else nftables for loss only. A zero
// spec selects None.
func Select(caps Capabilities, spec Spec, x dockerx.Executor, r *Resolver) (Impairment, error) {
	if err := Validate(caps, spec); err != nil {
		return nil, err
	}
	switch {
	case spec.IsZero():
		return None{}, nil
	case caps.Netem:
		return &Netem{exec: x, resolve: r, seed: caps.NetemSeed}, nil
	default:
		return &Nftables{exec: x, resolve: r}, nil
	}
}

// Probe commands. Each runs in a throw-away network namespace (unshare -n)
// that disappears with the command, on a throw-away veth pair (this kind of
// kernel has no dummy driver), so nothing is left behind on the node.
var (
	probeNetemCmd = []string{"unshare", "-n", "sh", "-c",
		"ip link add tbprobe0 type veth peer name tbprobe1 && tc qdisc add dev tbprobe0 root netem delay 1ms loss 1% && tc qdisc del dev tbprobe0 root"}
	probeNftCmd = []string{"unshare", "-n", "sh", "-c",
		"ip link add tbprobe0 type veth peer name tbprobe1 && nft -f - && nft delete table netdev testbed_probe"}
	probeNftScript = `table netdev testbed_probe {
	chain egress {
		type filter hook egress device "tbprobe0" priority 0; policy accept;
		numgen random mod 100 < 1 counter drop
	}
}
`
	// tc prints netem's usage on "help" without touching the kernel.
	probeSeedCmd = []string{"tc", "qdisc", "add", "dev", "lo", "root", "netem", "help"}
	unameCmd     = []string{"uname", "-r"}
)

// Probe finds what node's kernel supports by trying it: a netem qdisc and an
// nftables netdev egress table on a veth pair in a throw-away network
// namespace inside the node. Only transport failures (the node cannot be
// reached) are returned as errors; a missing feature is a false capability
// with the kernel's message.
func Probe(ctx context.Context, x dockerx.Executor, node string) (Capabilities, error) {
	var c Capabilities
	out, _, err := x.Exec(ctx, node, unameCmd, nil)
	if err != nil {
		return c, fmt.Errorf("probe impairment support on node %s: %w", node, err)
	}
	c.Kernel = strings.TrimSpace(string(out))

	_, stderr, err := x.Exec(ctx, node, probeNetemCmd, nil)
	c.Netem, c.NetemErr, err = probeResult(err, stderr)
	if err != nil {
		return c, fmt.Errorf("probe netem on node %s: %w", node, err)
	}
	_, stderr, err = x.Exec(ctx, node, probeNftCmd, strings.NewReader(probeNftScript))
	c.NftEgress, c.NftErr, err = probeResult(err, stderr)
	if err != nil {
		return c, fmt.Errorf("probe nftables on node %s: %w", node, err)
	}
	if c.Netem {
		// "help" exits non-zero; only its usage text matters.
		_, stderr, err := x.Exec(ctx, node, probeSeedCmd, nil)
		var ee *dockerx.ExecError
		if err != nil && !errors.As(err, &ee) {
			return c, fmt.Errorf("probe tc netem options on node %s: %w", node, err)
		}
		c.NetemSeed = strings.Contains(string(stderr), "seed")
	}
	return c, nil
}

// probeResult turns a probe command's outcome into (supported, reason). A
// command that ran and failed means "not supported"; anything else is a
// transport error.
func probeResult(err error, stderr []byte) (bool, string, error) {
	if err == nil {
		return true, "", nil
	}
	var ee *dockerx.ExecError
	if errors.As(err, &ee) {
		msg := strings.TrimSpace(ee.Stderr)
		if msg == "" {
			msg = strings.TrimSpace(string(stderr))
		}
		if msg == "" {
			msg = fmt.Sprintf("exit %d", ee.ExitCode)
		}
		return false, firstLine(msg), nil
	}
	return false, "", err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Summary is one line for doctor, e.g.
// "netem: no (Error: Specified qdisc kind is unknown.); nftables egress: yes; impairments: loss (nftables)".
func (c Capabilities) Summary() string {
	yn := func(ok bool, why string) string {
		if ok {
			return "yes"
		}
		if why == "" {
			return "no"
		}
		return "no (" + why + ")"
	}
	s := "netem: " + yn(c.Netem, c.NetemErr) + "; nftables egress: " + yn(c.NftEgress, c.NftErr) + "; impairments: "
	if sup := c.Supported(); len(sup) > 0 {
		s += strings.Join(sup, ", ") + " (" + c.Backend() + ")"
	} else {
		s += "none"
	}
	if !c.Netem {
		s += "; for delay, jitter, duplicate, corrupt and rate: " + netemHint
	}
	return s
}
