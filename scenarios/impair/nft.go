package impair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// Nftables drops a random share of the discovery interface's egress in a
// netdev egress hook inside the pod's network namespace. The drop happens
// after the IP stack, so the sender's write succeeds (as with netem, and
// unlike an iptables OUTPUT drop, which returns EPERM to the sender). Loss
// only.
type Nftables struct {
	exec    dockerx.Executor
	resolve *Resolver
}

var _ Impairment = (*Nftables)(nil)

// NewNftables returns the nftables backend.
func NewNftables(x dockerx.Executor) *Nftables { return &Nftables{exec: x, resolve: NewResolver(x)} }

// Backend returns "nftables".
func (*Nftables) Backend() string { return BackendNftables }

// nftTable is the table the backend owns in the pod's namespace.
const nftTable = "testbed"

// nftMod is the numgen modulus: loss has a resolution of 1e-4 %.
const nftMod = 1000000

func nftThreshold(lossPct float64) int64 { return int64(math.Round(lossPct * nftMod / 100)) }

// nftMatch is the numgen comparison that drops lossPct of packets. nft
// range-checks the constant against numgen's 0..mod-1, so "< mod" is refused
// ("Value 1000000 exceeds valid range") and 100 % is written "<= mod-1".
func nftMatch(lossPct float64) string {
	if thr := nftThreshold(lossPct); thr < nftMod {
		return fmt.Sprintf("< %d", thr)
	}
	return fmt.Sprintf("<= %d", nftMod-1)
}

// nftScript is the nft -f input that (re)creates the table atomically: the
// leading add+delete makes it replace an existing table and succeed on a
// fresh namespace.
func nftScript(iface string, lossPct float64) string {
	return fmt.Sprintf(`table netdev %[1]s
delete table netdev %[1]s
table netdev %[1]s {
	counter seen {}
	counter dropped {}
	chain egress {
		type filter hook egress device "%[2]s" priority 0; policy accept;
		counter name "seen"
		numgen random mod %[3]d %[4]s counter name "dropped" drop
	}
}
`, nftTable, iface, nftMod, nftMatch(lossPct))
}

// nftRemoveScript deletes the table whether or not it exists.
const nftRemoveScript = "table netdev " + nftTable + "\ndelete table netdev " + nftTable + "\n"

var nftListCmd = []string{"nft", "-j", "list", "table", "netdev", nftTable}

// Apply (re)creates the table in the pod's namespace and verifies it.
func (n *Nftables) Apply(ctx context.Context, t Target, s Spec) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	if !s.LossOnly() {
		return fmt.Errorf("%s: nftables can only drop packets; %w", t, Validate(Capabilities{NftEgress: true}, s))
	}
	ns, err := n.resolve.NetNS(ctx, t.Node, t.Namespace, t.Pod)
	if err != nil {
		return fmt.Errorf("%s: apply nftables loss: %w", t, err)
	}
	if err := n.applyNS(ctx, t.Node, ns, t.Interface, s.LossPct); err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	return nil
}

// applyNS installs the table in the network namespace at ns on node.
func (n *Nftables) applyNS(ctx context.Context, node, ns, iface string, lossPct float64) error {
	script := nftScript(iface, lossPct)
	if _, _, err := runIn(ctx, n.exec, node, ns, func() []byte { return []byte(script) }, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("apply nftables loss: %w", err)
	}
	tab, err := n.statsNS(ctx, node, ns)
	if err != nil {
		return fmt.Errorf("read back nftables loss: %w", err)
	}
	if tab.Hook != "egress" || tab.Mod != nftMod || tab.Threshold != min(nftThreshold(lossPct), nftMod) {
		return fmt.Errorf("nftables read back differs: hook %q, numgen mod %d < %d, want egress, mod %d < %d",
			tab.Hook, tab.Mod, tab.Threshold, nftMod, min(nftThreshold(lossPct), nftMod))
	}
	return nil
}

// statsNS lists the table in the namespace at ns.
func (n *Nftables) statsNS(ctx context.Context, node, ns string) (nftState, error) {
	out, _, err := runIn(ctx, n.exec, node, ns, nil, nftListCmd...)
	if err != nil {
		return nftState{}, err
	}
	return parseNft(out)
}

// removeNS deletes the table from the namespace at ns, present or not.
func (n *Nftables) removeNS(ctx context.Context, node, ns string) error {
	_, _, err := runIn(ctx, n.exec, node, ns, func() []byte { return []byte(nftRemoveScript) }, "nft", "-f", "-")
	return err
}

// Stats reads the seen and dropped counters.
func (n *Nftables) Stats(ctx context.Context, t Target) (Stats, error) {
	if err := t.check(); err != nil {
		return Stats{}, err
	}
	var tab nftState
	err := n.resolve.inPod(ctx, t.Node, t.Namespace, t.Pod, false, func(ns string) error {
		var err error
		tab, err = n.statsNS(ctx, t.Node, ns)
		return err
	})
	if err != nil {
		return Stats{}, fmt.Errorf("%s: read nftables counters: %w", t, err)
	}
	return tab.Stats, nil
}

// Remove deletes the table; none there, or the pod gone, is success.
func (n *Nftables) Remove(ctx context.Context, t Target) error {
	if err := t.check(); err != nil {
		return err
	}
	err := n.resolve.inPod(ctx, t.Node, t.Namespace, t.Pod, false, func(ns string) error {
		return n.removeNS(ctx, t.Node, ns)
	})
	if err == nil || gone(err) {
		return nil
	}
	return fmt.Errorf("%s: remove nftables loss: %w", t, err)
}

// nftState is what `nft -j list table netdev testbed` says.
type nftState struct {
	Hook      string
	Mod       int64
	Threshold int64
	Stats     Stats
}

// parseNft reads the backend's table from nft's JSON listing (schema 1,
// nft 1.0.x): named counters "seen" and "dropped", the chain's hook, and
// the numgen rule.
func parseNft(out []byte) (nftState, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	var p nftParser
	if err := json.Unmarshal(out, &doc); err != nil {
		return p.st, fmt.Errorf("parse nft JSON: %w", err)
	}
	for _, obj := range doc.Nftables {
		if err := p.object(obj); err != nil {
			return p.st, err
		}
	}
	err := p.complete()
	return p.st, err
}

// nftParser accumulates the backend's table from the objects of an nft
// JSON listing, and which of its parts were found.
type nftParser struct {
	st                              nftState
	haveSeen, haveDropped, haveRule bool
}

// object reads one listed object: a counter, a chain or a rule (anything
// else is ignored).
func (p *nftParser) object(obj map[string]json.RawMessage) error {
	switch {
	case obj["counter"] != nil:
		return p.counter(obj["counter"])
	case obj["chain"] != nil:
		return p.chain(obj["chain"])
	case obj["rule"] != nil:
		return p.rule(obj["rule"])
	}
	return nil
}

// counter reads the table's named counters "seen" and "dropped".
func (p *nftParser) counter(raw json.RawMessage) error {
	var c struct {
		Name    string `json:"name"`
		Table   string `json:"table"`
		Packets int64  `json:"packets"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("parse nft counter: %w", err)
	}
	if c.Table != nftTable {
		return nil
	}
	switch c.Name {
	case "seen":
		p.st.Stats.Seen, p.haveSeen = c.Packets, true
	case "dropped":
		p.st.Stats.Dropped, p.haveDropped = c.Packets, true
	}
	return nil
}

// chain reads the hook of the table's chain.
func (p *nftParser) chain(raw json.RawMessage) error {
	var c struct {
		Table string `json:"table"`
		Hook  string `json:"hook"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("parse nft chain: %w", err)
	}
	if c.Table == nftTable {
		p.st.Hook = c.Hook
	}
	return nil
}

// rule reads the numgen modulus and threshold of the table's drop rule.
func (p *nftParser) rule(raw json.RawMessage) error {
	var r struct {
		Table string `json:"table"`
		Expr  []struct {
			Match *struct {
				Op   string `json:"op"`
				Left struct {
					Numgen *struct {
						Mode string `json:"mode"`
						Mod  int64  `json:"mod"`
					} `json:"numgen"`
				} `json:"left"`
				Right json.RawMessage `json:"right"`
			} `json:"match"`
		} `json:"expr"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("parse nft rule: %w", err)
	}
	if r.Table != nftTable {
		return nil
	}
	for _, e := range r.Expr {
		if e.Match == nil || e.Match.Left.Numgen == nil || (e.Match.Op != "<" && e.Match.Op != "<=") {
			continue
		}
		var thr int64
		if err := json.Unmarshal(e.Match.Right, &thr); err != nil {
			return fmt.Errorf("parse nft numgen threshold %s: %w", e.Match.Right, err)
		}
		if e.Match.Op == "<=" {
			thr++ // Threshold is always the exclusive bound
		}
		p.st.Mod, p.st.Threshold, p.haveRule = e.Match.Left.Numgen.Mod, thr, true
	}
	return nil
}

// complete reports the parts of the table the listing lacked.
func (p *nftParser) complete() error {
	var missing []string
	if !p.haveSeen {
		missing = append(missing, `counter "seen"`)
	}
	if !p.haveDropped {
		missing = append(missing, `counter "dropped"`)
	}
	if !p.haveRule {
		missing = append(missing, "numgen drop rule")
	}
	if len(missing) > 0 {
		return errors.New("nft table " + nftTable + " lacks " + strings.Join(missing, ", "))
	}
	return nil
}
