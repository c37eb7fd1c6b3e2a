package impair

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/internal/dockerx"
	"github.com/google/go-cmp/cmp"
)

const (
	node    = "lab-c2-control-plane"
	podNS   = "testbed-agent"
	podName = "reference-agent-x7k2p"
	sbID    = "5f1c0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"
	netns   = "/var/run/netns/cni-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"
)

var target = Target{Cluster: "c2", Node: node, Namespace: podNS, Pod: podName, Interface: "eth1"}

// Minimal crictl answers for the command-flow tests; the parsers are tested
// against real crictl output in cri_test.go.
var (
	podsCmd = "crictl pods --namespace " + podNS + " --name " + podName + " -o json"
	podsOut = `{"items":[{"id":"` + sbID + `","metadata":{"name":"` + podName + `","uid":"u1","namespace":"` + podNS + `","attempt":0},"state":"SANDBOX_READY","createdAt":"1764180000000000000"}]}`
	inspCmd = "crictl inspectp -o json " + sbID
	inspOut = `{"info":{"pid":4242,"runtimeSpec":{"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"` + netns + `"}]}}}}`
	nsenter = "nsenter --net=" + netns + " -- "
)

func resolved(extra map[string][]reply) map[string][]reply {
	m := map[string][]reply{
		podsCmd: {{stdout: podsOut}},
		inspCmd: {{stdout: inspOut}},
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestProbe(t *testing.T) {
	netemCmd := strings.Join(probeNetemCmd, " ")
	nftCmd := strings.Join(probeNftCmd, " ")
	seedCmd := strings.Join(probeSeedCmd, " ")
	unknown := fixture(t, "tc-netem-unknown.stderr")
	for _, tc := range []struct {
		name    string
		replies map[string][]reply
		want    Capabilities
		wantErr bool
	}{
		{
			name: "this host: no netem, nft egress",
			replies: map[string][]reply{
				"uname -r": {{stdout: "6.18.44-fc-v657\n"}},
				netemCmd:   {{stderr: unknown, exit: 2}},
				nftCmd:     {{}},
			},
			want: Capabilities{Kernel: "6.18.44-fc-v657", NetemErr: "Error: Specified qdisc kind is unknown.", NftEgress: true},
		},
		{
			name: "netem with seed",
			replies: map[string][]reply{
				"uname -r": {{stdout: "6.8.0-45-generic\n"}},
				netemCmd:   {{}},
				nftCmd:     {{}},
				seedCmd:    {{stderr: "Usage: ... netem [ limit PACKETS ]\n  [ seed SEED ]\n", exit: 255}},
			},
			want: Capabilities{Kernel: "6.8.0-45-generic", Netem: true, NetemSeed: true, NftEgress: true},
		},
		{
			name: "netem without seed, old kernel without egress",
			replies: map[string][]reply{
				"uname -r": {{stdout: "5.10.0\n"}},
				netemCmd:   {{}},
				nftCmd:     {{stderr: "Error: Could not process rule: Operation not supported\n", exit: 1}},
				seedCmd:    {{stderr: "Usage: ... netem [ limit PACKETS ]\n", exit: 255}},
			},
			want: Capabilities{Kernel: "5.10.0", Netem: true, NftErr: "Error: Could not process rule: Operation not supported"},
		},
		{
			name:    "node unreachable",
			replies: map[string][]reply{"uname -r": {{err: errors.New("no such container")}}},
			wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.replies)
			got, err := Probe(context.Background(), f, node)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("caps (-want +got):\n%s", d)
			}
			for _, c := range f.calls {
				if c.node != node {
					t.Errorf("command %q ran on %q, want %q", c.cmd, c.node, node)
				}
				if c.cmd == nftCmd && c.stdin != probeNftScript {
					t.Errorf("nft probe stdin = %q", c.stdin)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	noNetem := Capabilities{NetemErr: "Error: Specified qdisc kind is unknown.", NftEgress: true}
	netem := Capabilities{Netem: true, NftEgress: true}
	neither := Capabilities{NetemErr: "unknown", NftErr: "unsupported"}
	for _, tc := range []struct {
		name    string
		caps    Capabilities
		spec    Spec
		wantErr []string // substrings; nil = no error
	}{
		{"zero spec anywhere", neither, Spec{Seed: 7}, nil},
		{"loss via nftables", noNetem, Spec{LossPct: 25, Seed: 7}, nil},
		{"everything via netem", netem, Spec{LossPct: 1, Delay: time.Millisecond, Jitter: time.Microsecond, CorrelationPct: 5, DuplicatePct: 1, CorruptPct: 1, Rate: "1mbit"}, nil},
		{"delay without netem", noNetem, Spec{Delay: 100 * time.Millisecond}, []string{"delay need netem", "CONFIG_NET_SCH_NETEM", "modprobe sch_netem", "linux-modules-extra", "Specified qdisc kind is unknown"}},
		{"loss+rate without netem", noNetem, Spec{LossPct: 5, Rate: "1mbit"}, []string{"rate need netem"}},
		{"loss with neither", neither, Spec{LossPct: 5}, []string{"neither", "CONFIG_NETFILTER_EGRESS", "modprobe sch_netem"}},
		{"loss over 100", netem, Spec{LossPct: 101}, []string{"loss 101% is outside"}},
		{"negative delay", netem, Spec{Delay: -1}, []string{"delay -1ns is negative"}},
		{"jitter without delay", netem, Spec{Jitter: time.Millisecond}, []string{"jitter needs a delay"}},
		{"bad rate", netem, Spec{Rate: "fast"}, []string{`rate "fast"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.caps, tc.spec)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil, want an error")
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestSelect(t *testing.T) {
	x := newFake(t, nil)
	r := NewResolver(x)
	for _, tc := range []struct {
		caps Capabilities
		spec Spec
		want string
	}{
		{Capabilities{Netem: true, NftEgress: true}, Spec{LossPct: 5}, BackendNetem},
		{Capabilities{NftEgress: true}, Spec{LossPct: 5}, BackendNftables},
		{Capabilities{NftEgress: true}, Spec{}, BackendNone},
	} {
		im, err := Select(tc.caps, tc.spec, x, r)
		if err != nil {
			t.Fatal(err)
		}
		if im.Backend() != tc.want {
			t.Errorf("Select(%+v, %+v) = %s, want %s", tc.caps, tc.spec, im.Backend(), tc.want)
		}
	}
	if _, err := Select(Capabilities{NftEgress: true}, Spec{Delay: time.Second}, x, r); err == nil {
		t.Error("Select accepted delay without netem")
	}
}

func TestTargetRefusesAPIInterface(t *testing.T) {
	for _, iface := range []string{"eth0", "lo", "", "eth1; rm -rf /", `eth1"`, "averyveryverylongname0"} {
		tg := target
		tg.Interface = iface
		f := newFake(t, nil)
		for name, im := range map[string]Impairment{"netem": NewNetem(f, false), "nftables": NewNftables(f)} {
			if err := im.Apply(context.Background(), tg, Spec{LossPct: 5}); err == nil {
				t.Errorf("%s: Apply on interface %q succeeded", name, iface)
			}
			if err := im.Remove(context.Background(), tg); err == nil {
				t.Errorf("%s: Remove on interface %q succeeded", name, iface)
			}
		}
		if len(f.calls) != 0 {
			t.Errorf("interface %q: commands ran: %q", iface, f.cmds())
		}
	}
}

func TestNftablesApplyStatsRemove(t *testing.T) {
	list := fixture(t, "nft-list-table.json")
	listCmd := nsenter + "nft -j list table netdev testbed"
	f := newFake(t, resolved(map[string][]reply{
		nsenter + "nft -f -": {{}},
		listCmd:              {{stdout: list}},
	}))
	im := NewNftables(f)
	ctx := context.Background()
	if err := im.Apply(ctx, target, Spec{LossPct: 25, Seed: 9}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	st, err := im.Stats(ctx, target)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if want := (Stats{Seen: 1000, Dropped: 238}); st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	if err := im.Remove(ctx, target); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	wantCmds := []string{
		podsCmd, inspCmd, nsenter + "nft -f -", listCmd, // Apply
		listCmd,              // Stats: the namespace path is remembered
		nsenter + "nft -f -", // Remove
	}
	if d := cmp.Diff(wantCmds, f.cmds()); d != "" {
		t.Errorf("commands (-want +got):\n%s", d)
	}
	wantScript := `table netdev testbed
delete table netdev testbed
table netdev testbed {
	counter seen {}
	counter dropped {}
	chain egress {
		type filter hook egress device "eth1" priority 0; policy accept;
		counter name "seen"
		numgen random mod 1000000 < 250000 counter name "dropped" drop
	}
}
`
	if d := cmp.Diff(wantScript, f.calls[2].stdin); d != "" {
		t.Errorf("apply script (-want +got):\n%s", d)
	}
	if got := f.calls[len(f.calls)-1].stdin; got != "table netdev testbed\ndelete table netdev testbed\n" {
		t.Errorf("remove script = %q", got)
	}
	for _, c := range f.calls {
		if c.node != node {
			t.Errorf("%q ran on %q", c.cmd, c.node)
		}
		if strings.Contains(c.cmd, "iptables") || strings.Contains(c.cmd, "eth0") {
			t.Errorf("forbidden command %q", c.cmd)
		}
	}
}

func TestNftablesApplyVerifies(t *testing.T) {
	// The fixture's rule says < 250000: asking for 10 % must be caught.
	f := newFake(t, resolved(map[string][]reply{
		nsenter + "nft -f -":                         {{}},
		nsenter + "nft -j list table netdev testbed": {{stdout: fixture(t, "nft-list-table.json")}},
	}))
	err := NewNftables(f).Apply(context.Background(), target, Spec{LossPct: 10})
	if err == nil || !strings.Contains(err.Error(), "read back differs") {
		t.Fatalf("Apply = %v, want a read-back mismatch", err)
	}
	if _, err := parseNft([]byte(`{"nftables":[{"metainfo":{"version":"1.0.6"}}]}`)); err == nil {
		t.Error("parseNft accepted a listing without the table")
	}
	if _, err := parseNft([]byte(`not json`)); err == nil {
		t.Error("parseNft accepted garbage")
	}
}

func TestNftablesRefusesNonLoss(t *testing.T) {
	f := newFake(t, nil)
	err := NewNftables(f).Apply(context.Background(), target, Spec{LossPct: 5, Delay: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "netem") {
		t.Fatalf("Apply = %v, want a refusal naming netem", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("commands ran: %q", f.cmds())
	}
}

func TestRemoveIdempotent(t *testing.T) {
	noPod := map[string][]reply{podsCmd: {{stdout: `{"items":[]}`}}}
	ctx := context.Background()
	for name, im := range map[string]func(x dockerx.Executor) Impairment{
		"netem":    func(x dockerx.Executor) Impairment { return NewNetem(x, false) },
		"nftables": func(x dockerx.Executor) Impairment { return NewNftables(x) },
		"none":     func(dockerx.Executor) Impairment { return None{} },
	} {
		t.Run(name+"/pod gone", func(t *testing.T) {
			if err := im(newFake(t, noPod)).Remove(ctx, target); err != nil {
				t.Errorf("Remove with the pod gone = %v", err)
			}
		})
	}
	t.Run("netem/nothing applied", func(t *testing.T) {
		f := newFake(t, resolved(map[string][]reply{
			nsenter + "tc qdisc del dev eth1 root": {{stderr: "Error: Cannot delete qdisc with handle of zero.\n", exit: 2}},
		}))
		if err := NewNetem(f, false).Remove(ctx, target); err != nil {
			t.Errorf("Remove = %v", err)
		}
	})
	t.Run("netem/real failure", func(t *testing.T) {
		f := newFake(t, resolved(map[string][]reply{
			nsenter + "tc qdisc del dev eth1 root": {{stderr: "nsenter: cannot open /var/run/netns/x: Permission denied\n", exit: 1}},
		}))
		err := NewNetem(f, false).Remove(ctx, target)
		if err == nil || !strings.Contains(err.Error(), "cluster c2") || !strings.Contains(err.Error(), "Permission denied") {
			t.Errorf("Remove = %v, want the failure naming the cluster", err)
		}
	})
	t.Run("nftables/twice", func(t *testing.T) {
		f := newFake(t, resolved(map[string][]reply{nsenter + "nft -f -": {{}}}))
		for i := 0; i < 2; i++ {
			if err := NewNftables(f).Remove(ctx, target); err != nil {
				t.Errorf("Remove #%d = %v", i, err)
			}
		}
	})
}

func TestNetemArgs(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		seed bool
		want string
	}{
		{Spec{LossPct: 25}, false, "tc qdisc replace dev eth1 root netem loss random 25%"},
		{Spec{LossPct: 0.5, CorrelationPct: 25}, false, "tc qdisc replace dev eth1 root netem loss random 0.5% 25%"},
		{Spec{Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond, CorrelationPct: 25, LossPct: 25, DuplicatePct: 1, CorruptPct: 0.5, Rate: "1mbit", Seed: 7}, true,
			"tc qdisc replace dev eth1 root netem delay 100000us 10000us 25% loss random 25% 25% duplicate 1% corrupt 0.5% rate 1mbit seed 7"},
		{Spec{Delay: 1500 * time.Microsecond, Seed: 7}, false, "tc qdisc replace dev eth1 root netem delay 1500us"},
	} {
		if got := strings.Join(netemArgs("eth1", tc.spec, tc.seed), " "); got != tc.want {
			t.Errorf("netemArgs(%+v) =\n %s\nwant\n %s", tc.spec, got, tc.want)
		}
	}
}

func TestParseTC(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    qdisc
		wantErr bool
	}{
		{
			// Captured here (no netem): the default qdisc of a veth.
			name: "noqueue", in: fixture(t, "tc-noqueue.txt"),
			want: qdisc{Kind: "noqueue", hasCounters: true},
		},
		{
			// Synthesized in iproute2 6.1's print format (this kernel has no
			// netem to capture from).
			name: "netem", in: fixture(t, "tc-netem-synthetic.txt"),
			want: qdisc{Kind: "netem", Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond, LossPct: 25, DupPct: 1, CorruptPct: 0.5, Rate: "1Mbit",
				SentBytes: 3150, SentPkts: 75, Dropped: 25, hasCounters: true},
		},
		{
			name: "netem seed, float times",
			in:   "qdisc netem 8002: root refcnt 2 limit 1000 delay 50.5ms loss 2% seed 12345\n Sent 10 bytes 1 pkt (dropped 0, overlimits 0 requeues 0)\n",
			want: qdisc{Kind: "netem", Delay: 50500 * time.Microsecond, LossPct: 2, Seed: "12345", SentBytes: 10, SentPkts: 1, hasCounters: true},
		},
		{name: "no stats", in: "qdisc netem 8001: root refcnt 2 limit 1000 loss 2%\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "bad counter", in: "qdisc noqueue 0: root refcnt 2\n Sent x bytes 0 pkt (dropped 0, overlimits 0 requeues 0)\n", wantErr: true},
		{name: "bad loss", in: "qdisc netem 8001: root refcnt 2 loss lots\n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0)\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTC([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(qdisc{})); d != "" {
				t.Errorf("parseTC (-want +got):\n%s", d)
			}
		})
	}
}

func TestNetemApplyStats(t *testing.T) {
	spec := Spec{Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond, CorrelationPct: 25, LossPct: 25, DuplicatePct: 1, CorruptPct: 0.5, Rate: "1mbit"}
	show := nsenter + "tc -s qdisc show dev eth1"
	f := newFake(t, resolved(map[string][]reply{
		nsenter + strings.Join(netemArgs("eth1", spec, false), " "): {{}},
		show: {{stdout: fixture(t, "tc-netem-synthetic.txt")}},
	}))
	im := NewNetem(f, false)
	if err := im.Apply(context.Background(), target, spec); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	st, err := im.Stats(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Seen: 100, Dropped: 25}); st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	// A read-back that differs (another loss) fails Apply.
	spec.LossPct = 10
	f = newFake(t, resolved(map[string][]reply{
		nsenter + strings.Join(netemArgs("eth1", spec, false), " "): {{}},
		show: {{stdout: fixture(t, "tc-netem-synthetic.txt")}},
	}))
	if err := NewNetem(f, false).Apply(context.Background(), target, spec); err == nil || !strings.Contains(err.Error(), "loss is 25%, want 10%") {
		t.Errorf("Apply = %v, want a loss mismatch", err)
	}
	// Stats on a pod whose qdisc is gone (restarted, not reapplied).
	f = newFake(t, resolved(map[string][]reply{show: {{stdout: fixture(t, "tc-noqueue.txt")}}}))
	if _, err := NewNetem(f, false).Stats(context.Background(), target); err == nil || !strings.Contains(err.Error(), "not netem") {
		t.Errorf("Stats = %v, want 'not netem'", err)
	}
}

func TestReapplyAfterRestart(t *testing.T) {
	// The pod restarted: its new sandbox has a new namespace. Apply resolves
	// it again and installs the table there.
	newNS := "/var/run/netns/cni-aaaaaaaa-0000-0000-0000-000000000002"
	f := newFake(t, map[string][]reply{
		podsCmd:                               {{stdout: podsOut}, {stdout: strings.ReplaceAll(podsOut, sbID, "new-sandbox")}},
		inspCmd:                               {{stdout: inspOut}},
		"crictl inspectp -o json new-sandbox": {{stdout: strings.ReplaceAll(inspOut, netns, newNS)}},
		nsenter + "nft -f -":                  {{}},
		nsenter + "nft -j list table netdev testbed":                      {{stdout: fixture(t, "nft-list-table.json")}},
		"nsenter --net=" + newNS + " -- nft -f -":                         {{}},
		"nsenter --net=" + newNS + " -- nft -j list table netdev testbed": {{stdout: fixture(t, "nft-list-table.json")}},
	})
	im := NewNftables(f)
	for i := 0; i < 2; i++ {
		if err := im.Apply(context.Background(), target, Spec{LossPct: 25}); err != nil {
			t.Fatalf("Apply #%d: %v", i, err)
		}
	}
	if got := f.calls[len(f.calls)-2].cmd; got != "nsenter --net="+newNS+" -- nft -f -" {
		t.Errorf("reapply ran %q, want it in the new namespace", got)
	}
}

func TestStats(t *testing.T) {
	a := Stats{Seen: 1000, Dropped: 238}
	b := Stats{Seen: 1500, Dropped: 370}
	if got := b.Sub(a); got != (Stats{Seen: 500, Dropped: 132}) {
		t.Errorf("Sub = %+v", got)
	}
	if got := a.Sub(b); got != a {
		t.Errorf("Sub after a reset = %+v, want %+v", got, a)
	}
	if got := a.Add(b); got != (Stats{Seen: 2500, Dropped: 608}) {
		t.Errorf("Add = %+v", got)
	}
	if (Stats{}).AchievedLossPct() != nil {
		t.Error("AchievedLossPct of nothing seen is not nil")
	}
}

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		caps Capabilities
		want []string
	}{
		{Capabilities{NetemErr: "Error: Specified qdisc kind is unknown.", NftEgress: true},
			[]string{"netem: no (Error: Specified qdisc kind is unknown.)", "nftables egress: yes", "impairments: loss (nftables)", "modprobe sch_netem"}},
		{Capabilities{Netem: true, NftEgress: true}, []string{"netem: yes", "impairments: loss, delay, jitter, correlation, duplicate, corrupt, rate (netem)"}},
		{Capabilities{}, []string{"netem: no;", "nftables egress: no;", "impairments: none"}},
	} {
		got := tc.caps.Summary()
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("Summary() = %q, lacks %q", got, w)
			}
		}
	}
}

func TestStaleNamespaceResolvedAgain(t *testing.T) {
	// Stats and Remove use the remembered namespace; when the sandbox was
	// recreated nsenter cannot open it, and the pod is resolved again.
	newNS := "/var/run/netns/cni-aaaaaaaa-0000-0000-0000-000000000003"
	stale := reply{stderr: "nsenter: cannot open " + netns + ": No such file or directory\n", exit: 1}
	list := fixture(t, "nft-list-table.json")
	f := newFake(t, map[string][]reply{
		podsCmd:                               {{stdout: podsOut}, {stdout: strings.ReplaceAll(podsOut, sbID, "new-sandbox")}, {stdout: `{"items":[]}`}},
		inspCmd:                               {{stdout: inspOut}},
		"crictl inspectp -o json new-sandbox": {{stdout: strings.ReplaceAll(inspOut, netns, newNS)}},
		nsenter + "nft -f -":                  {{}},
		nsenter + "nft -j list table netdev testbed":                      {{stdout: list}, stale},
		"nsenter --net=" + newNS + " -- nft -j list table netdev testbed": {{stdout: list}},
		"nsenter --net=" + newNS + " -- nft -f -":                         {stale},
	})
	im := NewNftables(f)
	ctx := context.Background()
	if err := im.Apply(ctx, target, Spec{LossPct: 25}); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Stats(ctx, target); err != nil {
		t.Fatalf("Stats with a stale namespace: %v", err)
	}
	// Remove: the remembered namespace is gone, and so is the pod.
	if err := im.Remove(ctx, target); err != nil {
		t.Fatalf("Remove with the pod gone: %v", err)
	}
	want := []string{
		podsCmd, inspCmd, nsenter + "nft -f -", nsenter + "nft -j list table netdev testbed",
		nsenter + "nft -j list table netdev testbed", podsCmd, "crictl inspectp -o json new-sandbox", "nsenter --net=" + newNS + " -- nft -j list table netdev testbed",
		"nsenter --net=" + newNS + " -- nft -f -", podsCmd,
	}
	if d := cmp.Diff(want, f.cmds()); d != "" {
		t.Errorf("commands (-want +got):\n%s", d)
	}
}
