package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/google/go-cmp/cmp"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/internal/dockerx"
	"github.com/fluidos-lab/testbed/internal/faultlog"
	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/topology"
)

// namedExec is an executor that answers with its name and records what it
// ran.
type namedExec struct {
	name string
	ran  *[]string
}

func (x namedExec) Exec(_ context.Context, node string, cmd []string, stdin io.Reader) ([]byte, []byte, error) {
	in := ""
	if stdin != nil {
		b, _ := io.ReadAll(stdin)
		in = " <" + string(b)
	}
	*x.ran = append(*x.ran, x.name+" "+node+": "+strings.Join(cmd, " ")+in)
	if node == "broken" {
		return nil, []byte("no such container"), &dockerx.ExecError{Container: node, Cmd: cmd, ExitCode: 1}
	}
	return []byte(x.name + " out"), []byte(x.name + " err"), nil
}

// TestRoutedExec: a node known to the router runs on its host's engine,
// any other on the default one, with its command, input, outputs and error
// passed through.
func TestRoutedExec(t *testing.T) {
	for _, tc := range []struct {
		name, node string
		stdin      io.Reader
		wantRan    string
		wantOut    string
		wantErr    bool
	}{
		{name: "a node of host b", node: "lab-02-control-plane", wantRan: "b lab-02-control-plane: ip link", wantOut: "b out"},
		{name: "a node of host a", node: "lab-01-control-plane", wantRan: "a lab-01-control-plane: ip link", wantOut: "a out"},
		{name: "an unknown node falls back to the default", node: "lab-09-control-plane", wantRan: "default lab-09-control-plane: ip link", wantOut: "default out"},
		{name: "standard input goes along", node: "lab-02-control-plane", stdin: strings.NewReader("table inet x {}"),
			wantRan: "b lab-02-control-plane: ip link <table inet x {}", wantOut: "b out"},
		{name: "an error comes back", node: "broken", wantRan: "b broken: ip link", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran []string
			a, b := namedExec{"a", &ran}, namedExec{"b", &ran}
			r := routedExec{byNode: map[string]dockerx.Executor{"lab-01-control-plane": a, "lab-02-control-plane": b, "broken": b},
				def: namedExec{"default", &ran}}
			out, errOut, err := r.Exec(context.Background(), tc.node, []string{"ip", "link"}, tc.stdin)
			if d := cmp.Diff([]string{tc.wantRan}, ran); d != "" {
				t.Errorf("ran (-want +got):\n%s", d)
			}
			var ee *dockerx.ExecError
			if tc.wantErr != errors.As(err, &ee) {
				t.Fatalf("err = %v, want an ExecError: %v", err, tc.wantErr)
			}
			if !tc.wantErr && (string(out) != tc.wantOut || !strings.HasSuffix(string(errOut), " err")) {
				t.Errorf("outputs %q, %q; want %q", out, errOut, tc.wantOut)
			}
		})
	}
}

// eventFeed is one engine's event stream: the test sends on msgs.
type eventFeed struct{ msgs chan events.Message }

func (f eventFeed) Events(context.Context, events.ListOptions) (<-chan events.Message, <-chan error) {
	return f.msgs, make(chan error)
}

func nodeEvent(cluster, name, action string, at time.Time) events.Message {
	return events.Message{Type: events.ContainerEventType, Action: events.Action(action), TimeNano: at.UnixNano(), Time: at.Unix(),
		Actor: events.Actor{ID: "id-" + name, Attributes: map[string]string{dockernet.KindClusterLabel: cluster, "name": name, "exitCode": "137"}}}
}

// hostLog is a faultlog.Log of one engine that received msgs. Close waits
// for the log's reader, which handles each message it received before it
// looks at the context again: every message is logged when it returns.
func hostLog(t *testing.T, clusters []string, msgs ...events.Message) *faultlog.Log {
	t.Helper()
	f := eventFeed{msgs: make(chan events.Message)}
	l := faultlog.Start(context.Background(), f, clusters, faultlog.Options{})
	for _, m := range msgs {
		f.msgs <- m
	}
	l.Close()
	return l
}

// TestHostFaultsDrain: the fault logs of several engines drain as one,
// in time order across the engines, each event once.
func TestHostFaultsDrain(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	hostA := hostLog(t, []string{"lab-01", "lab-03"},
		nodeEvent("lab-01", "lab-01-control-plane", "pause", at(1)),
		nodeEvent("lab-03", "lab-03-control-plane", "die", at(4)),
		nodeEvent("lab-02", "lab-02-control-plane", "die", at(5))) // not host a's cluster
	hostB := hostLog(t, []string{"lab-02"},
		nodeEvent("lab-02", "lab-02-control-plane", "kill", at(0)),
		nodeEvent("lab-02", "lab-02-control-plane", "unpause", at(3)),
		nodeEvent("lab-02", "lab-02-control-plane", "stop", at(4)))
	got := hostFaults{hostA, hostB}.Drain()
	ev := func(s int, cluster, event string) runner.FaultEvent {
		return runner.FaultEvent{Time: at(s), Cluster: cluster, Container: cluster + "-control-plane", Event: event, Detail: "exit code 137"}
	}
	want := []runner.FaultEvent{
		ev(0, "lab-02", "kill"), ev(1, "lab-01", "pause"), ev(3, "lab-02", "unpause"),
		ev(4, "lab-03", "die"), ev(4, "lab-02", "stop"), // a tie keeps the hosts' order
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Drain (-want +got):\n%s", d)
	}
	if again := (hostFaults{hostA, hostB}).Drain(); len(again) != 0 {
		t.Errorf("a second Drain returned %v, want nothing new", again)
	}
	if none := (hostFaults{}).Drain(); len(none) != 0 {
		t.Errorf("no logs drained %v", none)
	}
}

// hostsYAML is a lab of n clusters on hosts a and b (when hosts).
func hostsYAML(n int, hosts bool) string {
	s := fmt.Sprintf(`apiVersion: testbed.dev/v1alpha1
kind: Topology
metadata:
  name: lab
clusters:
  count: %d
fluidos:
  enabled: false
`, n)
	if hosts {
		s += `hosts:
  - {name: a, endpoint: unix:///var/run/docker.sock, address: 192.168.250.1}
  - {name: b, endpoint: ssh://user@192.168.250.2, address: 192.168.250.2}
sharedNetwork:
  mtu: 1400
`
	}
	return s
}

// planOf plans hostsYAML under the state root root.
func planOf(t *testing.T, root string, n int, hosts bool) *topology.Plan {
	t.Helper()
	top, err := topology.Parse("lab.yaml", []byte(hostsYAML(n, hosts)), topology.WithEnvironment(topology.Environment{StateRoot: root, CPUs: 2}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := top.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHostsRecordRoundTrip: what up records of a multi-host lab reads back
// whole, rebuilds the skeleton plan down needs (every cluster on its host),
// and is the placement topology reads on the next load.
func TestHostsRecordRoundTrip(t *testing.T) {
	root := t.TempDir()
	plan := planOf(t, root, 3, true)
	if err := recordHosts(plan); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "lab", "hosts.json")
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("hosts.json: %v, %v; want mode 0600", fi, err)
	}
	rec, err := readHosts(plan.StateDir)
	if err != nil || rec == nil {
		t.Fatalf("readHosts = %v, %v", rec, err)
	}
	want := hostsRecord{Topology: "lab", Hosts: plan.Hosts, SharedNetwork: plan.SharedNetwork, Network: plan.Network.Name}
	if d := cmp.Diff(want, *rec); d != "" {
		t.Errorf("record (-want +got):\n%s", d)
	}
	got := rec.plan(root)
	if got.Name != "lab" || got.StateDir != plan.StateDir || got.Network.Name != plan.Network.Name || !got.MultiHost() {
		t.Errorf("skeleton plan %q in %q on network %q (multi-host %v); want lab in %q on %q",
			got.Name, got.StateDir, got.Network.Name, got.MultiHost(), plan.StateDir, plan.Network.Name)
	}
	if d := cmp.Diff(plan.SharedNetwork, got.SharedNetwork); d != "" {
		t.Errorf("shared network (-want +got):\n%s", d)
	}
	hostOf := func(cs []topology.ClusterPlan) map[string]string {
		m := map[string]string{}
		for _, c := range cs {
			m[c.Name] = c.Host
		}
		return m
	}
	wantHosts := map[string]string{"node-01": "a", "node-02": "b", "node-03": "a"}
	if d := cmp.Diff(wantHosts, hostOf(plan.Clusters)); d != "" {
		t.Fatalf("the plan's placement is not round-robin (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantHosts, hostOf(got.Clusters)); d != "" {
		t.Errorf("skeleton clusters (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantHosts, topology.ReadPlacement(plan.StateDir)); d != "" {
		t.Errorf("topology.ReadPlacement of what up wrote (-want +got):\n%s", d)
	}
}

// TestRecordHostsOneHost: a lab on one host records nothing, not even its
// state directory.
func TestRecordHostsOneHost(t *testing.T) {
	root := t.TempDir()
	plan := planOf(t, root, 2, false)
	if err := recordHosts(plan); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(plan.StateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("recordHosts of a one-host lab made %s (%v)", plan.StateDir, err)
	}
	if rec, err := readHosts(plan.StateDir); rec != nil || err != nil {
		t.Errorf("readHosts without hosts.json = %v, %v; want nil, nil", rec, err)
	}
}

// TestReadHostsBad: a hosts.json that cannot be read names the file and
// the fix.
func TestReadHostsBad(t *testing.T) {
	for _, tc := range []struct {
		name, content, wantErr string
	}{
		{"not JSON", "topology: lab\n", "invalid character"},
		{"empty", "", "EOF"},
		{"truncated", `{"topology":"lab","hosts":[{"name":"a"`, "unexpected EOF"},
		{"wrong types", `{"topology":"lab","hosts":{"a":1}}`, "cannot unmarshal"},
		{"oversized", `{"topology":"lab","network":"` + strings.Repeat("x", 1<<20) + `"}`, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "hosts.json")
			if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			rec, err := readHosts(dir)
			if rec != nil || err == nil {
				t.Fatalf("readHosts = %v, %v; want an error", rec, err)
			}
			for _, want := range []string{file + ": ", tc.wantErr, "(remove it if the lab is gone)"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// TestHostsRecordPlanEmpty: a record without hosts rebuilds a plan on no
// host, which down handles as a one-host lab.
func TestHostsRecordPlanEmpty(t *testing.T) {
	p := (&hostsRecord{Topology: "old", Network: "testbed-old"}).plan("/state")
	if p.MultiHost() || len(p.Clusters) != 0 || p.StateDir != filepath.Join("/state", "old") {
		t.Errorf("plan of an empty record: %+v", p)
	}
}
