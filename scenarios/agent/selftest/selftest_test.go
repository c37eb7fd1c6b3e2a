package selftest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/fluidos-lab/testbed/scenarios/agent"
	"github.com/fluidos-lab/testbed/topology"
)

const sec = int64(time.Second)

// peer builds what observer's agent writes for peer: both agents started at
// the given Unix ns, the announcement sent at send and read 1 ms later.
func peer(observer, p string, obsStart, peerStart, send int64) agent.Peer {
	return agent.Peer{Cluster: p, Observer: observer, Address: "10.101.1.101:4001", Groups: []string{"default"},
		ObserverStartNS: obsStart, PeerStartNS: peerStart, FirstSendNS: send, FirstRecvNS: send + int64(time.Millisecond),
		LastSeen: time.Unix(0, send), Expiry: time.Unix(0, send).Add(10 * time.Second)}
}

func fullMatrix(clusters ...string) map[string]map[string]agent.Peer {
	m := map[string]map[string]agent.Peer{}
	for _, o := range clusters {
		m[o] = map[string]agent.Peer{}
		for _, p := range clusters {
			if o != p {
				m[o][p] = peer(o, p, 100*sec, 101*sec, 106*sec)
			}
		}
	}
	return m
}

func readyAgents(clusters ...string) []Agent {
	var out []Agent
	for _, c := range clusters {
		out = append(out, Agent{Cluster: c, Pod: "reference-agent-x", Ready: true, State: "Running"})
	}
	return out
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	cl := []string{"ci-01", "ci-02", "ci-03"}
	tests := []struct {
		name    string
		peers   func() map[string]map[string]agent.Peer
		agents  []Agent
		passed  bool
		reasons []string
	}{
		{name: "complete", peers: func() map[string]map[string]agent.Peer { return fullMatrix(cl...) }, passed: true},
		{
			name: "one cluster hears nobody",
			peers: func() map[string]map[string]agent.Peer {
				m := fullMatrix(cl...)
				m["ci-02"] = map[string]agent.Peer{}
				return m
			},
			reasons: []string{"cluster ci-02 hears nobody: multicast is not reaching it"},
		},
		{
			name: "one cluster heard by nobody",
			peers: func() map[string]map[string]agent.Peer {
				m := fullMatrix(cl...)
				delete(m["ci-01"], "ci-03")
				delete(m["ci-02"], "ci-03")
				return m
			},
			reasons: []string{"ci-03 is heard by nobody: its announcements do not leave"},
		},
		{
			name: "one direction missing",
			peers: func() map[string]map[string]agent.Peer {
				m := fullMatrix(cl...)
				delete(m["ci-01"], "ci-02")
				return m
			},
			reasons: []string{"ci-01 does not hear ci-02"},
		},
		{
			name:   "agent not ready",
			peers:  func() map[string]map[string]agent.Peer { return fullMatrix(cl...) },
			agents: append(readyAgents("ci-01", "ci-02"), Agent{Cluster: "ci-03", State: "ImagePullBackOff"}),
			reasons: []string{
				"cluster ci-03: the reference agent is not ready (ImagePullBackOff)",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := &Result{Clusters: cl, Agents: tc.agents}
			if res.Agents == nil {
				res.Agents = readyAgents(cl...)
			}
			evaluate(res, tc.peers(), 12*time.Second)
			if res.Passed != tc.passed {
				t.Fatalf("passed = %v, reasons %v", res.Passed, res.Reasons)
			}
			if diff := cmp.Diff(tc.reasons, res.Reasons); diff != "" {
				t.Fatalf("reasons (-want +got):\n%s", diff)
			}
			if res.Expected != 6 {
				t.Fatalf("expected = %d, want 6", res.Expected)
			}
		})
	}
}

func TestEvaluateTimes(t *testing.T) {
	t.Parallel()
	m := map[string]map[string]agent.Peer{
		// a started at 100 s, b at 103 s; a hears b's first announcement
		// sent at 108 s (first delay 5 s), read 1 ms later.
		"a": {"b": peer("a", "b", 100*sec, 103*sec, 108*sec)},
		// b hears a at 120 s: far beyond the bound.
		"b": {"a": peer("b", "a", 103*sec, 100*sec, 120*sec)},
	}
	res := &Result{Clusters: []string{"a", "b"}, Agents: readyAgents("a", "b")}
	evaluate(res, m, 12*time.Second)
	ab, _ := res.Cell("a", "b")
	want := Cell{Observer: "a", Peer: "b", Found: true, DiscoveryMS: 5001, TransitMS: 1, SinceObserverStartMS: 8001, SincePeerStartMS: 5001, WithinBound: true, Address: "10.101.1.101:4001"}
	if diff := cmp.Diff(want, ab); diff != "" {
		t.Fatalf("cell a<-b (-want +got):\n%s", diff)
	}
	ba, _ := res.Cell("b", "a")
	if ba.WithinBound || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "b heard a after 17001 ms") {
		t.Fatalf("slow cell %+v warnings %v", ba, res.Warnings)
	}
	if !res.Passed {
		t.Fatalf("a slow direction is a warning, not a failure: %v", res.Reasons)
	}
}

func TestTiming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		values          map[string]any
		interval, delay time.Duration
	}{
		{nil, 5 * time.Second, 5 * time.Second},
		{map[string]any{"agent": map[string]any{"interval": "2s"}}, 2 * time.Second, 2 * time.Second},
		{map[string]any{"agent": map[string]any{"interval": "2s", "firstDelay": "0s"}}, 2 * time.Second, 0},
	}
	for _, tc := range tests {
		i, d := timing(tc.values)
		if i != tc.interval || d != tc.delay {
			t.Errorf("timing(%v) = %v, %v; want %v, %v", tc.values, i, d, tc.interval, tc.delay)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	var m agent.Metrics
	m.AnnouncementsSent.Add(7)
	m.APIErrors[0].Add(2)
	var b strings.Builder
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	v := ParseMetrics(b.String())
	if v["testbed_agent_announcements_sent_total"] != 7 || v[`testbed_agent_api_errors_total{op="create"}`] != 2 || v["process_resident_memory_bytes"] <= 0 {
		t.Fatalf("parsed %v", v)
	}
}

// TestRunWaitsForMatrix runs the wait-and-report half against fake
// clusters whose Peer objects appear while it watches.
func TestRunWaitsForMatrix(t *testing.T) {
	t.Parallel()
	clusters := []string{"ci-01", "ci-02"}
	plan := &topology.Plan{Name: "ci", Clusters: []topology.ClusterPlan{{Name: "ci-01", Kubeconfig: "k1"}, {Name: "ci-02", Kubeconfig: "k2"}}}
	dyn := map[string]*dynamicfake.FakeDynamicClient{}
	kube := map[string]kubernetes.Interface{}
	for i, c := range clusters {
		dyn[plan.Clusters[i].Kubeconfig] = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schemaGVR]string{agent.PeerGVR: "PeerList"})
		kube[plan.Clusters[i].Kubeconfig] = kubefake.NewClientset(&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "reference-agent-" + c, Namespace: agent.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "reference-agent"}},
			Status:     corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		})
	}
	// ci-01 already knows ci-02; ci-02 learns ci-01 once the test watches.
	create := func(kubeconfig, observer, p string) {
		obj := agent.PeerObject(peer(observer, p, 100*sec, 100*sec, 105*sec), agent.Namespace)
		if _, err := dyn[kubeconfig].Resource(agent.PeerGVR).Namespace(agent.Namespace).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	}
	create("k1", "ci-01", "ci-02")
	waiting := make(chan struct{})
	res, err := Run(context.Background(), Options{
		Plan: plan, SkipInstall: true, Timeout: time.Minute,
		Kube: func(k string) (kubernetes.Interface, dynamic.Interface, error) { return kube[k], dyn[k], nil },
		Logf: func(format string, _ ...any) {
			if strings.HasPrefix(format, "waiting") {
				close(waiting)
				go create("k2", "ci-02", "ci-01")
			}
		},
	})
	<-waiting
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed || res.Found != 2 {
		t.Fatalf("result %+v", res)
	}
	if c, _ := res.Cell("ci-02", "ci-01"); c.DiscoveryMS != 5001 {
		t.Fatalf("cell %+v", c)
	}
}

// TestAgentOfLastExit: a restarted agent's pod says how its previous
// container ended, so a restart in a report comes with its cause.
func TestAgentOfLastExit(t *testing.T) {
	t.Parallel()
	finished := metav1.NewTime(time.Date(2026, 12, 6, 2, 41, 19, 0, time.UTC))
	for _, tc := range []struct {
		name     string
		st       corev1.ContainerStatus
		restarts int32
		want     string
	}{
		{"never restarted", corev1.ContainerStatus{Name: "agent"}, 0, ""},
		{"exit code", corev1.ContainerStatus{Name: "agent", RestartCount: 1, LastTerminationState: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 255, Reason: "Unknown", FinishedAt: finished}}}, 1,
			"exit 255 (Unknown) at 2026-12-06T02:41:19Z"},
		{"signal and message", corev1.ContainerStatus{Name: "agent", RestartCount: 3, LastTerminationState: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Signal: 9, Reason: "OOMKilled", Message: " out of memory\n"}}}, 3,
			"signal 9 (OOMKilled): out of memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := kubefake.NewClientset(&corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "reference-agent-x", Namespace: agent.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "reference-agent"}},
				Status:     corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{tc.st}},
			})
			a := agentOf(context.Background(), cs, "ci-01")
			if a.Restarts != tc.restarts || a.LastExit != tc.want {
				t.Fatalf("restarts %d, last exit %q; want %d, %q", a.Restarts, a.LastExit, tc.restarts, tc.want)
			}
		})
	}
}
