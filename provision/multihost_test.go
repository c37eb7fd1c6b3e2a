package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluidos-lab/testbed/topology"
)

// fakeShared is one host's shared network: it records its calls in the
// host's fakeLab and hands out addresses of the host's range.
type fakeShared struct {
	lab  *fakeLab
	base string // e.g. 172.29.1.
	mu   sync.Mutex
	addr map[string]string
}

func (s *fakeShared) Ensure(_ context.Context, plan *topology.Plan, h topology.HostPlan) (SharedResult, error) {
	s.lab.record("shared-ensure " + h.Name + " peers " + fmt.Sprint(len(plan.Hosts)-1))
	return SharedResult{Host: h.Name, Network: plan.SharedNetwork.Name, Device: plan.SharedNetwork.Device, MTU: 1450, Changed: true}, nil
}

func (s *fakeShared) Attach(_ context.Context, _ *topology.Plan, node string) (string, error) {
	s.lab.record("attach " + node)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == nil {
		s.addr = map[string]string{}
	}
	if a, ok := s.addr[node]; ok {
		return a, nil
	}
	s.addr[node] = s.base + fmt.Sprint(len(s.addr)+2)
	return s.addr[node], nil
}

func (s *fakeShared) Remove(_ context.Context, device string) (bool, error) {
	s.lab.record("shared-remove " + device)
	return true, nil
}

// twoHostPlan is testPlan(n) spread round-robin over hosts a and b.
func twoHostPlan(t *testing.T, n int) *topology.Plan {
	p := testPlan(t, n)
	p.Macvlan.Master = topology.SharedInterface
	p.SharedNetwork = &topology.SharedNetworkPlan{Name: "testbed-lab-l2", Subnet: "172.29.0.0/16", Bridge: "tbl2-x", Device: "tbvx-x", VNI: 42, Port: 4789, Interface: topology.SharedInterface}
	p.Placement = topology.PlacementRoundRobin
	p.Hosts = []topology.HostPlan{
		{Name: "a", Endpoint: "unix:///var/run/docker.sock", Address: "192.168.250.1", IPRange: "172.29.0.0/24", Gateway: "172.29.0.1"},
		{Name: "b", Endpoint: "unix:///run/b.sock", Address: "192.168.250.2", IPRange: "172.29.1.0/24", Gateway: "172.29.1.1"},
	}
	for i := range p.Clusters {
		h := &p.Hosts[i%2]
		p.Clusters[i].Host = h.Name
		p.Clusters[i].APIServerAddress, p.Clusters[i].APIServerPort = h.Address, 16443+i
		h.Clusters = append(h.Clusters, p.Clusters[i].Name)
	}
	return p
}

// multiHost is a provisioner over two fake engines (a and b) that share
// the Helm and kube fakes (those reach clusters by kubeconfig, not host).
type multiHost struct {
	p      *Provisioner
	labs   map[string]*fakeLab
	mu     sync.Mutex
	copies []string
}

func newMultiHost(t *testing.T) *multiHost {
	m := &multiHost{labs: map[string]*fakeLab{"a": newFakeLab(), "b": newFakeLab()}}
	kubeLab := newFakeLab() // one set of cluster API fakes for both hosts
	for _, f := range m.labs {
		f.kubeFrom = kubeLab
	}
	shared := map[string]*fakeShared{"a": {lab: m.labs["a"], base: "172.29.0."}, "b": {lab: m.labs["b"], base: "172.29.1."}}
	factory := func(h topology.HostPlan) (*Engine, error) {
		f, ok := m.labs[h.Name]
		if !ok {
			return nil, errors.New("unreachable")
		}
		return &Engine{Host: h.Name, Clusters: f, Network: f, Images: f, CNI: f, Shared: shared[h.Name],
			AgentImage: func(context.Context) (string, error) { return "testbed.local/reference-agent:0123456789ab", nil }}, nil
	}
	copier := func(_ context.Context, from, to string, refs []string) ([]string, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.copies = append(m.copies, from+">"+to+" "+strings.Join(refs, ","))
		return refs, nil
	}
	m.p = newTestProvisioner(t, kubeLab, WithEngines(factory), WithImageCopier(copier), WithKube(kubeLab.kube), WithCharts(chartsFake{kubeLab}))
	return m
}

func (m *multiHost) calls(host, prefix string) []string {
	f := m.labs[host]
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

func TestUpOnTwoHosts(t *testing.T) {
	m := newMultiHost(t)
	plan := twoHostPlan(t, 4)
	rep, err := m.p.Up(context.Background(), plan, UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{StepPull, StepBake, StepCopy, StepNetwork, StepCreate, StepShared, StepImages, StepCNI, StepMultus, StepReady, StepNAD, StepCharts}
	if d := cmp.Diff(want, phaseNames(rep)); d != "" {
		t.Errorf("phases (-want +got):\n%s", d)
	}
	for host, clusters := range map[string][]string{"a": {"create c1", "create c3"}, "b": {"create c2", "create c4"}} {
		if d := cmp.Diff(clusters, m.calls(host, "create ")); d != "" {
			t.Errorf("host %s creates (-want +got):\n%s", host, d)
		}
		if got := m.calls(host, "shared-ensure"); len(got) != 1 || got[0] != "shared-ensure "+host+" peers 1" {
			t.Errorf("host %s shared ensures %v", host, got)
		}
	}
	if got := m.calls("b", "bake"); len(got) != 0 {
		t.Errorf("host b baked %v: the first host bakes, the others get a copy", got)
	}
	if d := cmp.Diff([]string{"a>b testbed.local/kind-node:baked-node:v1"}, m.copies); d != "" {
		t.Errorf("image copies (-want +got):\n%s", d)
	}
	if got := m.calls("b", "attach "); !slices.Equal(got, []string{"attach c2-control-plane", "attach c4-control-plane"}) {
		t.Errorf("host b attaches %v", got)
	}
	// The charts of c2 (host b) get its shared address, unique across hosts.
	vals := m.p.charts.(chartsFake).applied[plan.Clusters[1].Kubeconfig]
	shared := m.p.newEngine
	eng, _ := shared(plan.Hosts[1])
	addr, _ := eng.Shared.Attach(context.Background(), plan, "c2-control-plane")
	if len(vals) == 0 || !strings.HasPrefix(addr, "172.29.1.") || fmt.Sprint(vals[len(vals)-1].Values["testbed"].(map[string]any)["nodeAddress"]) != addr {
		t.Errorf("c2's charts want nodeAddress %s: %+v", addr, vals)
	}
	if len(rep.Hosts) != 2 {
		t.Errorf("report hosts %+v", rep.Hosts)
	}
	again, err := m.p.Up(context.Background(), plan, UpOptions{})
	if err != nil || len(again.Creates) != 0 {
		t.Fatalf("second up: %v, creates %v", err, again.Creates)
	}
}

func TestDownOnTwoHostsRemovesTheDeviceBeforeTheNetworks(t *testing.T) {
	m := newMultiHost(t)
	plan := twoHostPlan(t, 2)
	if _, err := m.p.Up(context.Background(), plan, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := m.p.Down(context.Background(), DownOptions{Topology: plan.Name, Plan: plan, StateRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"c1", "c2"}, rep.Clusters); d != "" {
		t.Errorf("clusters removed (-want +got):\n%s", d)
	}
	for _, host := range []string{"a", "b"} {
		f := m.labs[host]
		iDev, iNet := slices.Index(f.calls, "shared-remove tbvx-x"), slices.IndexFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, "rmnet ") })
		if iDev < 0 || iNet < 0 || iDev > iNet {
			t.Errorf("host %s: device removed at %d, first network at %d: %v", host, iDev, iNet, f.calls)
		}
		if len(f.nodes) != 0 || len(f.networks) != 0 {
			t.Errorf("host %s left %v %v", host, f.nodes, f.networks)
		}
	}
}

func TestUpNamesAnUnreachableHost(t *testing.T) {
	m := newMultiHost(t)
	plan := twoHostPlan(t, 2)
	plan.Hosts[1].Name = "c"
	plan.Clusters[1].Host = "c"
	_, err := m.p.Up(context.Background(), plan, UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "host c (unix:///run/b.sock): unreachable") {
		t.Fatalf("Up = %v, want the host and its endpoint named", err)
	}
}

// A create cut short after kubeadm (a killed up) leaves an API that
// answers and a node that never becomes Ready: the next up makes it again.
func TestUpRecreatesAClusterWhoseNodeNeverGetsReady(t *testing.T) {
	f := newFakeLab()
	plan := testPlan(t, 2)
	p := newTestProvisioner(t, f)
	p.nodeReadyGrace, p.deleteRetry = 30*time.Millisecond, 5*time.Millisecond
	if _, err := p.Up(context.Background(), plan, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	cs, _, _ := f.kube(plan.Clusters[1].Kubeconfig)
	node, err := cs.CoreV1().Nodes().Get(context.Background(), "c2-control-plane", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(context.Background(), node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.calls = nil
	rep, err := p.Up(context.Background(), plan, UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Creates) != 1 || rep.Creates["c2"] == 0 || !slices.Contains(f.calls, "delete c2") || slices.Contains(f.calls, "delete c1") {
		t.Errorf("creates %v, calls %v: want c2 (node never Ready) deleted and made again, c1 kept", rep.Creates, f.calls)
	}
}
