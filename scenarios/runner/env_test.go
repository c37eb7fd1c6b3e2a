package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/impair"
	"github.com/fluidos-lab/testbed/topology"
)

// labKube serves a fakeLab's clients by kubeconfig path ("kc-<cluster>").
type labKube struct{ l *fakeLab }

func (k labKube) KubeDynamic(kubeconfig string) (kubernetes.Interface, dynamic.Interface, error) {
	name := strings.TrimPrefix(kubeconfig, "kc-")
	if k.l.kube[name] == nil {
		return nil, nil, errors.New("no such kubeconfig " + kubeconfig)
	}
	return k.l.kube[name], k.l.dyn[name], nil
}

func labPlan(names ...string) *topology.Plan {
	p := &topology.Plan{Name: "lab", File: "lab.yaml", Macvlan: topology.MacvlanPlan{PodInterface: "eth1"}}
	for _, n := range names {
		p.Clusters = append(p.Clusters, topology.ClusterPlan{Name: n, Kubeconfig: "kc-" + n,
			Nodes: []topology.NodePlan{{Name: n + "-control-plane", Role: "control-plane"}}})
	}
	return p
}

// One Env runs every cell: the host is probed once (by the Env's owner, on
// the first cell that needs impairments), a new campaign collects its
// manifest with the cell's inputs and only the cell's clusters are peers.
func TestEnvRunsCells(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b", "c")
	var probes, collects atomic.Int32
	var collected []string
	imp := newFakeImpairment()
	env := &Env{
		Kube: labKube{lab}, Clock: clk,
		Impairments: func(context.Context, *topology.Plan) (ImpairmentSelector, error) {
			probes.Add(1)
			return func(impair.Spec) (impair.Impairment, error) { return imp, nil }, nil
		},
		Collect: func(_ context.Context, _ *topology.Plan, clusters []string, in []results.Input) (results.Manifest, error) {
			collects.Add(1)
			collected = clusters
			return results.Manifest{Inputs: in}, nil
		},
	}
	cond := scenarios.Condition{Name: "loss-10", Runs: 1, Target: scenarios.TargetPeers, Impairment: impair.Spec{LossPct: 10}}
	s := testScenario(0, 0, cond)
	s.Measurements = []string{scenarios.MeasureDiscovery}
	var seq atomic.Int64
	lab.onStart = func(l *fakeLab) {
		clk.Advance(time.Second)
		l.create("a", "b", "u"+time.Duration(seq.Add(1)).String(), 0)
	}
	dir := t.TempDir()
	sum, err := env.Run(context.Background(), Cell{Scenario: s, Plan: labPlan("a", "b", "c"), Clusters: []string{"a", "b"}, Dir: dir,
		Inputs: []results.Input{{Role: "scenario", Path: "s.yaml"}}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Runs != 1 || probes.Load() != 1 || collects.Load() != 1 || strings.Join(collected, ",") != "a,b" {
		t.Errorf("runs %d probes %d collects %d on %v", sum.Runs, probes.Load(), collects.Load(), collected)
	}
	runs := readRuns(t, dir)
	if len(runs) != 1 || len(runs[0].Peers) != 1 || runs[0].Peers[0].Peer != "b" || runs[0].Impairment.Backend != impair.BackendNftables {
		t.Errorf("runs %+v", runs)
	}
	// Resume: no new manifest.
	if _, err := env.Run(context.Background(), Cell{Scenario: s, Plan: labPlan("a", "b", "c"), Clusters: []string{"a", "b"}, Dir: dir, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if collects.Load() != 1 {
		t.Errorf("resume collected a manifest again")
	}
}

// The Env claims the lab before the campaign touches it and releases it
// when the campaign ends; a lab it cannot claim is left untouched.
func TestEnvClaimsTheLab(t *testing.T) {
	for _, busy := range []bool{false, true} {
		t.Run(map[bool]string{false: "free", true: "busy"}[busy], func(t *testing.T) {
			clk := newTestClock()
			lab := newFakeLab(t, clk, "a", "b")
			var starts, collects atomic.Int32
			lab.onStart = func(l *fakeLab) {
				starts.Add(1)
				clk.Advance(time.Second)
				l.create("a", "b", "u"+time.Duration(starts.Load()).String(), 0)
			}
			var claimed []string
			released := 0
			env := &Env{Kube: labKube{lab}, Clock: clk,
				Collect: func(context.Context, *topology.Plan, []string, []results.Input) (results.Manifest, error) {
					collects.Add(1)
					return results.Manifest{}, nil
				},
				Claim: func(plan *topology.Plan, dir string) (func(), error) {
					claimed = append(claimed, plan.Name+" "+dir)
					if busy {
						return nil, errors.New(`lab "lab" is busy: "testbed run other.yaml" (pid 7) holds it`)
					}
					return func() { released++ }, nil
				},
			}
			s := testScenario(1, 0)
			s.Measurements = []string{scenarios.MeasureDiscovery}
			dir := t.TempDir()
			_, err := env.Run(context.Background(), Cell{Scenario: s, Plan: labPlan("a", "b"), Dir: dir})
			if len(claimed) != 1 || claimed[0] != "lab "+dir {
				t.Errorf("claims %q, want one of lab %s", claimed, dir)
			}
			if busy {
				if err == nil || !strings.Contains(err.Error(), `lab "lab" is busy`) {
					t.Fatalf("err = %v, want the claim's", err)
				}
				if starts.Load() != 0 || collects.Load() != 0 || released != 0 {
					t.Errorf("a busy lab was touched: %d starts, %d manifests, %d releases", starts.Load(), collects.Load(), released)
				}
				if _, err := os.Stat(filepath.Join(dir, "runs.jsonl")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a busy lab's campaign wrote runs: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if released != 1 || starts.Load() == 0 {
				t.Errorf("released %d times after %d starts, want once after the campaign", released, starts.Load())
			}
		})
	}
}

func TestEnvRefuses(t *testing.T) {
	clk := newTestClock()
	lab := newFakeLab(t, clk, "a", "b")
	impaired := testScenario(0, 0, scenarios.Condition{Name: "x", Runs: 1, Impairment: impair.Spec{LossPct: 5}})
	for _, tc := range []struct {
		name string
		env  *Env
		cell Cell
		want string
	}{
		{"no kube", &Env{}, Cell{Scenario: testScenario(1, 0), Plan: labPlan("a", "b")}, "no Kubernetes client factory"},
		{"unknown cluster", &Env{Kube: labKube{lab}}, Cell{Scenario: testScenario(1, 0), Plan: labPlan("a", "b"), Clusters: []string{"a", "z"}}, "has 1 of the 2 clusters"},
		{"impairment without backend", &Env{Kube: labKube{lab}}, Cell{Scenario: impaired, Plan: labPlan("a", "b")}, "no impairment backend is configured"},
		{"probe fails", &Env{Kube: labKube{lab}, Impairments: func(context.Context, *topology.Plan) (ImpairmentSelector, error) {
			return nil, errors.New("exec into node: no such container")
		}}, Cell{Scenario: impaired, Plan: labPlan("a", "b")}, "probing impairment support: exec into node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cell.Dir = t.TempDir()
			if _, err := tc.env.Run(context.Background(), tc.cell); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestImpairmentRecord(t *testing.T) {
	a := impair.Stats{Seen: 1000, Dropped: 238}
	r := impairmentRecord(impair.BackendNftables, "peers", impair.Spec{LossPct: 25, Seed: 11, Delay: 1500 * time.Microsecond}, a)
	if r.AchievedLossPct == nil || *r.AchievedLossPct != 23.8 || r.PacketsSeen != 1000 || r.PacketsDropped != 238 ||
		r.Backend != "nftables" || r.Target != "peers" || r.LossPct != 25 || r.Seed != 11 || r.DelayMS != 1.5 {
		t.Errorf("record = %+v", r)
	}
	if r := impairmentRecord(impair.BackendNone, "", impair.Spec{}, a); r.AchievedLossPct != nil || r.PacketsSeen != 0 {
		t.Errorf("record(none) = %+v", r)
	}
}
