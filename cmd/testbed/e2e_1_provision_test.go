//go:build e2e

package main

import (
	"github.com/fluidos-lab/testbed/internal/dockerx"
	"github.com/fluidos-lab/testbed/internal/kubeclient"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/internal/images"
	"github.com/fluidos-lab/testbed/provision"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/topology"
)

// e2eTopology is the CI lab's topology file (TESTBED_E2E_TOPOLOGY overrides
// it, e.g. to run next to other labs under unique names).
func e2eTopology(t *testing.T) string {
	t.Helper()
	if f := os.Getenv("TESTBED_E2E_TOPOLOGY"); f != "" {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	return filepath.Join(repoRoot(t), "topology", "ci-3-nodes.yaml")
}

// testbedRun runs the binary from the repository root (chart paths in the
// shipped topologies are relative to it) and returns its combined output.
func testbedRun(t *testing.T, bin string, timeout time.Duration, args ...string) (string, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = repoRoot(t)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	t.Logf("testbed %s (%s):\n%s", strings.Join(args, " "), d.Round(time.Millisecond), out.String())
	return out.String(), d, err
}

func e2ePlan(t *testing.T, file string) *topology.Plan {
	t.Helper()
	_, p, err := loadTopologyPlan(file)
	if err != nil {
		t.Fatalf("loading %s: %v", file, err)
	}
	return p
}

func TestE2EProvision(t *testing.T) {
	bin := e2eBinary(t)
	file := e2eTopology(t)
	plan := e2ePlan(t, file)
	if len(plan.Clusters) < 2 {
		t.Fatalf("%s: need at least 2 clusters", file)
	}
	saveDockerBefore(t)

	// 1. up on the CI lab.
	out, upTime, err := testbedRun(t, bin, 30*time.Minute, "up", file)
	if err != nil {
		t.Fatalf("up %s: %v", file, err)
	}
	t.Logf("MEASURED: %d-cluster up: %s", len(plan.Clusters), upTime.Round(time.Millisecond))
	if i := strings.Index(out, "provisioning efficiency"); i >= 0 {
		t.Logf("MEASURED: %s", strings.SplitN(out[i:], "\n", 2)[0])
	}

	// 2. multicast between pods on two clusters' macvlan interfaces.
	t.Run("multicast", func(t *testing.T) { testMulticast(t, plan) })

	// 3. status explains the lab: every cluster's agent, installed as an
	// extra chart under its own release name, has ready pods and sees
	// every other cluster.
	t.Run("status", func(t *testing.T) { testStatus(t, bin, file, plan) })

	// 3b. the lean profile is in place, and doctor measures the lab's
	// per-cluster costs and predicts the largest lab from them.
	t.Run("lean", func(t *testing.T) { testLean(t, plan) })
	t.Run("capacity", func(t *testing.T) { testCapacity(t, bin, file) })

	// 4. a second up is a no-op.
	t.Run("noop", func(t *testing.T) {
		out, d, err := testbedRun(t, bin, 5*time.Minute, "up", file)
		if err != nil {
			t.Fatalf("second up: %v", err)
		}
		t.Logf("MEASURED: no-op up: %s", d.Round(time.Millisecond))
		if !strings.Contains(out, "nothing changed") {
			t.Errorf("second up changed something")
		}
		if d > time.Minute {
			t.Errorf("no-op up took %s, want seconds", d)
		}
	})

	// 5. Ctrl-C halfway through a fresh lab, converge, down.
	t.Run("interrupt", func(t *testing.T) { testInterrupt(t, bin) })
	// The CI lab stays up for the e2e tests that follow.
}

// statusDeadline bounds the wait, after up, for every cluster's reference
// agent to be ready and to have discovered every other cluster.
const statusDeadline = 2 * time.Minute

// statusRun is one `testbed status -o json`: its exit, its stdout (the
// JSON) and its stderr (logs and problems) apart.
type statusRun struct {
	st             *provision.LabStatus
	stdout, stderr string
	err            error // the exit, or why stdout is not a lab status
}

func (r statusRun) String() string {
	return fmt.Sprintf("exit: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}

func runStatus(t *testing.T, bin, file string) statusRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "status", file, "-o", "json")
	cmd.Dir = repoRoot(t)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	r := statusRun{err: cmd.Run()}
	r.stdout, r.stderr = out.String(), errOut.String()
	var st provision.LabStatus
	if err := json.NewDecoder(strings.NewReader(r.stdout)).Decode(&st); err != nil {
		r.err = errors.Join(r.err, fmt.Errorf("decoding the status: %w", err))
		return r
	}
	r.st = &st
	return r
}

// testStatus polls `status -o json` until it exits 0 and shows, on every
// cluster, the reference agent (an extra chart under its own release name)
// in the namespace the plan installs it in, its pods all ready and N-1
// peers; then the table shows the same. On the deadline it fails with the
// problems and the last status output.
func testStatus(t *testing.T, bin, file string, plan *topology.Plan) {
	start := time.Now()
	deadline := time.NewTimer(statusDeadline)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	var r statusRun
	for {
		r = runStatus(t, bin, file)
		probs := statusProblems(plan, r)
		if len(probs) == 0 {
			break
		}
		select {
		case <-deadline.C:
			t.Fatalf("status did not explain the lab within %s:\n  %s\nlast status:\n%s", statusDeadline, strings.Join(probs, "\n  "), r)
		case <-tick.C:
		}
	}
	t.Logf("MEASURED: status shows every agent ready with %d peers %s after up (release %s)",
		len(plan.Clusters)-1, time.Since(start).Round(time.Second), provision.AgentChart(plan.Clusters[0]).Release)
	t.Logf("status -o json:\n%s", r.stdout)
	out, _, err := testbedRun(t, bin, time.Minute, "status", file)
	if err != nil {
		t.Fatalf("status (table): %v", err)
	}
	for _, p := range statusTableProblems(out, r.st) {
		t.Error(p)
	}
}

// statusProblems lists what keeps one status run from explaining the lab;
// empty when it exits 0 and every check holds.
func statusProblems(plan *topology.Plan, r statusRun) []string {
	if r.st == nil {
		return []string{fmt.Sprintf("status: %v", r.err)}
	}
	var probs []string
	if r.err != nil {
		probs = append(probs, fmt.Sprintf("status exited: %v", r.err))
	}
	st := r.st
	if st.Network == nil || st.Network.Name != plan.Network.Name || len(st.Clusters) != len(plan.Clusters) {
		return append(probs, fmt.Sprintf("status of network %+v with %d clusters, want %s with %d", st.Network, len(st.Clusters), plan.Network.Name, len(plan.Clusters)))
	}
	for i, c := range st.Clusters {
		probs = append(probs, clusterStatusProblems(plan, plan.Clusters[i], c)...)
	}
	return probs
}

// clusterStatusProblems checks one cluster of a status: healthy, Multus
// ready, every node addressed, every planned release deployed, and exactly
// one reference agent, in its planned namespace, all pods ready, with a
// peer for every other cluster.
func clusterStatusProblems(plan *topology.Plan, cp topology.ClusterPlan, c provision.ClusterStatus) []string {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, c.Name+": "+fmt.Sprintf(format, args...)) }
	if c.Name != cp.Name {
		add("reported in place of %s", cp.Name)
	}
	if !c.Healthy() || !c.MultusReady {
		add("healthy=%v multus=%v errors=%v", c.Healthy(), c.MultusReady, c.Errors)
	}
	for _, n := range c.Nodes {
		if n.Address == "" {
			add("node %s has no address on %s", n.Name, plan.Network.Name)
		}
	}
	rels := map[string]bool{}
	for _, r := range c.Releases {
		rels[r.Name] = r.Status == "deployed"
	}
	for _, want := range append([]string{"multus"}, chartReleases(cp)...) {
		if !rels[want] {
			add("release %s not deployed: %+v", want, c.Releases)
		}
	}
	agentNS := provision.AgentChart(cp).Namespace
	var agents []provision.DiscoveryStatus
	for _, d := range c.Discovery {
		if d.Protocol == scenarios.PresetReferenceAgent {
			agents = append(agents, d)
		}
	}
	if len(agents) != 1 {
		add("%d %s discovery entries, want 1 (in %s): %+v", len(agents), scenarios.PresetReferenceAgent, agentNS, c.Discovery)
		return probs
	}
	a, peers := agents[0], len(plan.Clusters)-1
	if a.Namespace != agentNS || a.Missing || a.Pods == 0 || a.PodsReady != a.Pods || a.Peers != peers {
		add("%s in %s (missing=%v): %d/%d pods ready, %d peers; want it in %s, all pods ready, %d peers",
			a.Protocol, a.Namespace, a.Missing, a.PodsReady, a.Pods, a.Peers, agentNS, peers)
	}
	return probs
}

// chartReleases are the releases the plan installs on a cluster besides
// Multus.
func chartReleases(cp topology.ClusterPlan) []string {
	var out []string
	for _, ch := range cp.Charts {
		if ch.Name != "multus" {
			out = append(out, ch.Release)
		}
	}
	return out
}

// statusTableProblems checks that status's table shows, on each cluster's
// row (CLUSTER, or CLUSTER@HOST on a multi-host lab), the reference
// agent's namespace, ready pods and peers as st does.
func statusTableProblems(table string, st *provision.LabStatus) []string {
	rows := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = line
		}
	}
	for _, c := range st.Clusters {
		if c.Host != "" {
			rows[c.Name] = rows[c.Name+"@"+c.Host]
		}
	}
	var probs []string
	for _, c := range st.Clusters {
		for _, d := range c.Discovery {
			if d.Protocol != scenarios.PresetReferenceAgent {
				continue
			}
			cell := fmt.Sprintf("%s(%s) %d/%d", d.Protocol, d.Namespace, d.PodsReady, d.Pods)
			row := rows[c.Name]
			_, after, ok := strings.Cut(row, cell)
			if f := strings.Fields(after); !ok || len(f) == 0 || f[0] != strconv.Itoa(d.Peers) {
				probs = append(probs, fmt.Sprintf("status table row of %s is %q, want %q then %d peers", c.Name, row, cell, d.Peers))
			}
		}
	}
	return probs
}

// testMulticast loads a tools image (perl) into two clusters, attaches a
// receiver pod on the second and a sender pod on the first to a test
// macvlan NAD (same master and /24 as the lab's, addresses .201 so the
// discovery pods keep .101), and proves the receiver gets the sender's
// datagram on the group.
func testMulticast(t *testing.T, plan *topology.Plan) {
	tools := os.Getenv("TESTBED_E2E_TOOLS_IMAGE")
	if tools == "" {
		tools = "testbed.local/debian-iptables:bookworm"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dc, err := dockerx.NewClient("")
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if missing, err := images.Missing(ctx, dc, []string{tools}); err != nil || len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tools image %s missing (%v)", tools, err)
		}
		t.Skipf("tools image %s not on the host (set TESTBED_E2E_TOOLS_IMAGE)", tools)
	}
	sender, receiver := plan.Clusters[0], plan.Clusters[1]
	if _, err := images.LoadIntoNodes(ctx, dc, tools, []string{sender.Nodes[0].Name, receiver.Nodes[0].Name}); err != nil {
		t.Fatalf("loading %s: %v", tools, err)
	}
	const ns, nad, group, port = "e2e-mcast", "e2e-macvlan", "239.7.7.7", "4999"
	addr := func(c topology.ClusterPlan) string {
		return fmt.Sprintf("%d.%d.%d.201", c.Macvlan.Octets[0], c.Macvlan.Octets[1], c.Macvlan.Octets[2])
	}
	setup := func(c topology.ClusterPlan) kubernetes.Interface {
		cs, dyn, err := (&kubeclient.Factory{}).KubeDynamic(c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		waitGone(ctx, t, cs, ns)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: namespace: %v", c.Name, err)
		}
		cfg := fmt.Sprintf(`{"cniVersion":"0.3.1","type":"macvlan","master":%q,"mode":"bridge","ipam":{"type":"host-local","subnet":%q,"rangeStart":%q,"rangeEnd":%q}}`,
			plan.Macvlan.Master, c.Macvlan.Subnet, addr(c), addr(c))
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
			"metadata": map[string]any{"name": nad, "namespace": ns},
			"spec":     map[string]any{"config": cfg},
		}}
		if _, err := dyn.Resource(provision.NADResource).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: NAD: %v", c.Name, err)
		}
		return cs
	}
	pod := func(name string, args ...string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": nad + "@eth1"}},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Tolerations:   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{
					Name: "perl", Image: tools, ImagePullPolicy: corev1.PullNever,
					Command: append([]string{"perl", "-e"}, args...),
				}},
			},
		}
	}
	rcs := setup(receiver)
	scs := setup(sender)
	if _, err := rcs.CoreV1().Pods(ns).Create(ctx, pod("receiver", recvScript, group, port, addr(receiver), "90"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(ctx, t, rcs, ns, "receiver", corev1.PodRunning)
	msg := "hello-from-" + sender.Name
	if _, err := scs.CoreV1().Pods(ns).Create(ctx, pod("sender", sendScript, group, port, addr(sender), msg, "120"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(ctx, t, rcs, ns, "receiver", corev1.PodSucceeded)
	logs, err := rcs.CoreV1().Pods(ns).GetLogs("receiver", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := "GOT " + msg + " FROM " + addr(sender)
	if !strings.Contains(string(logs), want) {
		t.Fatalf("receiver on %s logged %q, want %q", receiver.Name, logs, want)
	}
	t.Logf("multicast %s:%s from %s (%s, eth1) received on %s (%s, eth1)", group, port, sender.Name, addr(sender), receiver.Name, addr(receiver))
	for _, cs := range []kubernetes.Interface{rcs, scs} {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	}
}

const recvScript = `use strict; use IO::Socket::INET; use Socket qw(IPPROTO_IP IP_ADD_MEMBERSHIP inet_aton inet_ntoa pack_ip_mreq unpack_sockaddr_in);
my ($group, $port, $ifaddr, $timeout) = @ARGV;
my $s = IO::Socket::INET->new(LocalAddr => $group, LocalPort => $port, Proto => 'udp', ReuseAddr => 1) or die "bind: $!";
setsockopt($s, IPPROTO_IP, IP_ADD_MEMBERSHIP, pack_ip_mreq(inet_aton($group), inet_aton($ifaddr))) or die "join: $!";
$| = 1; print "JOINED $group on $ifaddr\n";
local $SIG{ALRM} = sub { print "TIMEOUT\n"; exit 2 }; alarm $timeout;
my $from = $s->recv(my $buf, 1500) // die "recv: $!";
my ($p, $a) = unpack_sockaddr_in($from);
print "GOT $buf FROM ", inet_ntoa($a), "\n"; exit 0;`

const sendScript = `use strict; use IO::Socket::INET; use Socket qw(IPPROTO_IP IP_MULTICAST_IF IP_MULTICAST_TTL inet_aton pack_sockaddr_in);
my ($group, $port, $ifaddr, $msg, $count) = @ARGV;
my $s = IO::Socket::INET->new(Proto => 'udp', LocalAddr => $ifaddr) or die "socket: $!";
setsockopt($s, IPPROTO_IP, IP_MULTICAST_IF, inet_aton($ifaddr)) or die "mcast if: $!";
setsockopt($s, IPPROTO_IP, IP_MULTICAST_TTL, pack("C", 4)) or die "ttl: $!";
my $dst = pack_sockaddr_in($port, inet_aton($group));
for (1..$count) { $s->send($msg, 0, $dst) or warn "send: $!"; select(undef, undef, undef, 0.5); }`

func waitPod(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string, phase corev1.PodPhase) {
	t.Helper()
	for {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == phase {
			return
		}
		if err == nil && (p.Status.Phase == corev1.PodFailed || (phase == corev1.PodRunning && p.Status.Phase == corev1.PodSucceeded)) {
			logs, _ := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
			t.Fatalf("pod %s/%s is %s (want %s): %s", ns, name, p.Status.Phase, phase, logs)
		}
		select {
		case <-ctx.Done():
			var st any
			if p != nil {
				st = p.Status
			}
			t.Fatalf("pod %s/%s never reached %s: %v %+v", ns, name, phase, err, st)
		case <-time.After(500 * time.Millisecond): // polling a real cluster
		}
	}
}

func waitGone(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	for {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("namespace %s not deleted", ns)
		case <-time.After(time.Second):
		}
	}
}

// testInterrupt sends SIGINT to `up` of a fresh 2-cluster lab once its
// first node container exists, then SIGKILLs `up` inside each of its phases
// in turn (killUpInEachPhase), converges it with `up`, removes it, and
// checks that Docker holds exactly the containers, networks and volumes it
// held before.
func testInterrupt(t *testing.T, bin string) {
	dockerBefore := dockerObjects(t)
	defer func() {
		if t.Failed() {
			return
		}
		if diff := dockerBefore.diff(dockerObjects(t)); diff != "" {
			t.Errorf("FAULT down-leaves-docker: Docker is not as before the lab:\n%s", diff)
		} else {
			t.Logf("FAULT down-leaves-docker: pass (%d containers, %d networks, %d volumes as before)", len(dockerBefore.containers), len(dockerBefore.networks), len(dockerBefore.volumes))
		}
	}()
	prefix := os.Getenv("TESTBED_E2E_PREFIX")
	if prefix == "" {
		prefix = "ci-int"
	}
	count := 2
	if n, err := strconv.Atoi(os.Getenv("TESTBED_E2E_INTERRUPT_CLUSTERS")); err == nil && n > 0 {
		count = n // 1 keeps a developer's machine at 3 clusters next to a 2-cluster lab
	}
	file := filepath.Join(t.TempDir(), "interrupt.yaml")
	topo := fmt.Sprintf(`apiVersion: testbed.dev/v1alpha1
kind: Topology
metadata:
  name: %[1]s
clusters:
  count: %[2]d
  namePattern: %[1]s-%%02d
network:
  name: testbed-%[1]s
  subnet: 172.31.251.0/24
macvlan:
  subnet: 10.120.0.0/16
fluidos:
  enabled: false
extraCharts:
  - name: reference-agent
    chart: charts/reference-agent
    namespace: testbed-agent
provisioning:
  parallelism: 1
  retries: 0
`, prefix, count)
	if err := os.WriteFile(file, []byte(topo), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := e2ePlan(t, file)
	first := plan.Clusters[0].Name
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "up", file)
	cmd.Dir = repoRoot(t)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the first node container, then interrupt.
	for {
		b, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster="+first).Output()
		if len(bytes.TrimSpace(b)) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no node container of %s appeared: %s", first, out.String())
		case <-time.After(300 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	t.Logf("interrupted up:\n%s", out.String())
	if err == nil {
		t.Fatalf("interrupted up exited 0")
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Errorf("interrupted up does not say so")
	}
	for _, c := range plan.Clusters[1:] {
		if b, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster="+c.Name).Output(); len(bytes.TrimSpace(b)) > 0 {
			t.Errorf("cluster %s was scheduled after the interrupt", c.Name)
		}
	}
	killUpInEachPhase(t, bin, file)
	// The converging up takes the fallback path: the plain node image and
	// a per-node import of the lab's images into the clusters it creates.
	if out, d, err := testbedRun(t, bin, 20*time.Minute, "up", file, "--no-bake"); err != nil {
		t.Fatalf("converging up: %v", err)
	} else {
		t.Logf("MEASURED: converging up after interrupt (--no-bake): %s", d.Round(time.Millisecond))
		if failed := regexp.MustCompile(`(?m)^.*\s✗\s.*$`).FindAllString(out, -1); len(failed) > 0 {
			t.Errorf("converging up: steps failed:\n%s", strings.Join(failed, "\n"))
		}
		if !regexp.MustCompile(`images\s+✓ [1-9]\d* image\(s\) loaded`).MatchString(out) {
			t.Errorf("converging --no-bake up imported no image into a new cluster:\n%s", out)
		}
	}
	if _, d, err := testbedRun(t, bin, 10*time.Minute, "down", file); err != nil {
		t.Fatalf("down: %v", err)
	} else {
		t.Logf("MEASURED: 2-cluster down: %s", d.Round(time.Millisecond))
	}
	assertNoLabDocker(t, plan)
}

// testLean checks on every cluster of the lean CI lab what the profile
// promises: the node label, one CoreDNS replica, leader election off, the
// slower kubelet housekeeping, GOGC and GOMAXPROCS in the control plane
// (GOMAXPROCS in the kubelet and containerd too),
// the API server's, etcd's and the scheduler's readiness probes every
// 10 s and liveness probes every 30 s, API Priority and Fairness and the
// watch cache off, etcd's watch progress every 60 s and three more
// controllers off.
func testLean(t *testing.T, plan *topology.Plan) {
	for _, c := range plan.Clusters {
		node := c.Name + "-control-plane"
		kubectl := func(args ...string) string {
			out, err := exec.Command("docker", append([]string{"exec", node, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: kubectl %v: %v\n%s", c.Name, args, err, out)
			}
			return strings.TrimSpace(string(out))
		}
		if got := kubectl("get", "node", node, "-o", "jsonpath={.metadata.labels.testbed\\.dev/profile}"); got != "lean" {
			t.Errorf("%s: node profile label %q, want lean", c.Name, got)
		}
		if got := kubectl("-n", "kube-system", "get", "deploy", "coredns", "-o", "jsonpath={.spec.replicas}"); got != "1" {
			t.Errorf("%s: CoreDNS replicas %s, want 1", c.Name, got)
		}
		if got := kubectl("get", "storageclass", "standard", "-o", "jsonpath={.provisioner}"); got != "kubernetes.io/host-path" {
			t.Errorf("%s: StorageClass standard on %q, want kubernetes.io/host-path", c.Name, got)
		}
		if got := kubectl("get", "ns", "--field-selector", "metadata.name=local-path-storage", "-o", "jsonpath={.items[*].status.phase}"); got != "" && got != "Terminating" {
			t.Errorf("%s: the local-path provisioner's namespace is %s, want it gone", c.Name, got)
		}
		if c.Name == plan.Clusters[0].Name {
			// A claim of the default class binds on the in-tree provisioner.
			pvc := `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"testbed-e2e","namespace":"default"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Mi"}}}}`
			cmd := exec.Command("docker", "exec", "-i", node, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "apply", "-f", "-")
			cmd.Stdin = strings.NewReader(pvc)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: creating a claim: %v\n%s", c.Name, err, out)
			}
			kubectl("wait", "--for=jsonpath={.status.phase}=Bound", "pvc/testbed-e2e", "--timeout=90s")
			kubectl("delete", "pvc", "testbed-e2e", "--wait=true", "--timeout=90s")
		}
		for _, pod := range []string{"kube-apiserver", "etcd", "kube-scheduler"} {
			if got := kubectl("-n", "kube-system", "get", "pod", pod+"-"+node, "-o", "jsonpath={.spec.containers[0].readinessProbe.periodSeconds}"); got != "10" {
				t.Errorf("%s: %s's readiness probe period is %q, want 10", c.Name, pod, got)
			}
		}
		for _, pod := range []string{"kube-apiserver", "etcd", "kube-scheduler", "kube-controller-manager"} {
			if got := kubectl("-n", "kube-system", "get", "pod", pod+"-"+node, "-o", "jsonpath={.spec.containers[0].livenessProbe.periodSeconds}"); got != "30" {
				t.Errorf("%s: %s's liveness probe period is %q, want 30", c.Name, pod, got)
			}
		}
		ps, err := exec.Command("docker", "exec", node, "ps", "-eo", "args").Output()
		if err != nil {
			t.Fatalf("%s: ps: %v", c.Name, err)
		}
		for _, want := range []string{"kube-scheduler .*--leader-elect=false", "kube-controller-manager .*--leader-elect=false", "kubelet .*--housekeeping-interval=60s", "kube-controller-manager .*--controllers=[^ ]*,-attachdetach,-disruption,-ttl,[^ ]*-device-taint-eviction-controller",
			"kube-apiserver .*--enable-priority-and-fairness=false", "kube-apiserver .*--watch-cache=false", "etcd .*--watch-progress-notify-interval=60s"} {
			if !regexp.MustCompile(want).Match(ps) {
				t.Errorf("%s: no process matches %q", c.Name, want)
			}
		}
		// GOGC and GOMAXPROCS from the kubeadm patches the baked node
		// image carries, in every static pod's process environment.
		for _, proc := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			env, err := exec.Command("docker", "exec", node, "sh", "-c", `tr '\0' '\n' < /proc/$(pgrep -o -f "^`+proc+` ")/environ`).Output()
			if err != nil || !regexp.MustCompile(`(?m)^GOGC=25$`).Match(env) || !regexp.MustCompile(`(?m)^GOMAXPROCS=1$`).Match(env) {
				t.Errorf("%s: %s's environment lacks GOGC=25 or GOMAXPROCS=1 (%v):\n%s", c.Name, proc, err, env)
			}
		}
		// GOMAXPROCS from the systemd drop-ins of the lean node image, and
		// GOGC in containerd and the pods' shims, which inherit it
		// (containerd sets the shims' GOMAXPROCS itself).
		for _, d := range []struct {
			proc             string
			gomaxprocs, gogc bool
		}{{"kubelet", true, false}, {"containerd", true, true}, {"containerd-shim", false, true}} {
			env, err := exec.Command("docker", "exec", node, "sh", "-c", `tr '\0' '\n' < /proc/$(pgrep -o -x `+d.proc+`)/environ`).Output()
			if err != nil {
				t.Errorf("%s: %s's environment: %v", c.Name, d.proc, err)
				continue
			}
			if d.gomaxprocs && !regexp.MustCompile(`(?m)^GOMAXPROCS=1$`).Match(env) {
				t.Errorf("%s: %s's environment lacks GOMAXPROCS=1:\n%s", c.Name, d.proc, env)
			}
			if gogc := regexp.MustCompile(`(?m)^GOGC=25$`).Match(env); gogc != d.gogc {
				t.Errorf("%s: %s's environment has GOGC=25: %v, want %v:\n%s", c.Name, d.proc, gogc, d.gogc, env)
			}
		}
		// CoreDNS runs with GOGC=25 too.
		if got := kubectl("-n", "kube-system", "get", "deploy", "coredns", "-o", `jsonpath={.spec.template.spec.containers[?(@.name=="coredns")].env[?(@.name=="GOGC")].value}`); got != "25" {
			t.Errorf("%s: CoreDNS GOGC %q, want 25", c.Name, got)
		}
	}
}

// testCapacity measures the CI lab's per-cluster costs with doctor and
// checks that doctor and plan predict from them.
func testCapacity(t *testing.T, bin, file string) {
	out, _, err := testbedRun(t, bin, 3*time.Minute, "doctor", file, "--measure", "15s", "-o", "json")
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == exitDoctor) {
		t.Fatalf("doctor --measure: %v", err) // exit 4 is a host finding, logged above
	}
	var d struct {
		Capacity capacityView `json:"capacity"`
	}
	i := strings.Index(out, "{")
	if i < 0 {
		t.Fatalf("doctor printed no JSON")
	}
	if err := json.NewDecoder(strings.NewReader(out[i:])).Decode(&d); err != nil {
		t.Fatalf("doctor json: %v", err)
	}
	c := d.Capacity.Costs
	t.Logf("MEASURED: lean CI lab per cluster: %.0f MiB, %.3f core, %.0f inotify instances, %.0f watches, %.1f keys; largest lab here %d clusters (bound by %s)",
		c.MemoryMiB, c.CPUCores, c.InotifyInstances, c.InotifyWatches, c.Keys, d.Capacity.Largest, d.Capacity.Binding)
	if c.Source != "measured" || c.Profile != "lean" || c.Clusters != 3 || c.MemoryMiB < 100 || c.MemoryMiB > 4000 || c.CPUCores <= 0 || c.CPUCores > 2 || c.InotifyInstances < 1 {
		t.Errorf("implausible costs %+v", c)
	}
	if d.Capacity.Largest < 1 || d.Capacity.Binding == "" {
		t.Errorf("no prediction: %+v", d.Capacity)
	}
	plan, _, err := testbedRun(t, bin, time.Minute, "plan", file)
	if err != nil || !strings.Contains(plan, "on lab ci-3") || !strings.Contains(plan, "largest lab on this host:") {
		t.Errorf("plan does not predict from the measurement (%v):\n%s", err, plan)
	}
}

// assertNoLabDocker checks that no node container or network of the lab remains.
func assertNoLabDocker(t *testing.T, plan *topology.Plan) {
	t.Helper()
	for _, c := range plan.Clusters {
		b, err := exec.Command("docker", "ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster="+c.Name).Output()
		if err != nil || len(bytes.TrimSpace(b)) > 0 {
			t.Errorf("cluster %s: containers left: %q %v", c.Name, b, err)
		}
	}
	b, err := exec.Command("docker", "network", "ls", "-q", "--filter", "label=dev.testbed.topology="+plan.Name).Output()
	if err != nil || len(bytes.TrimSpace(b)) > 0 {
		t.Errorf("topology %s: networks left: %q %v", plan.Name, b, err)
	}
}

// upPhaseLine is a progress line of up starting a cluster's phase.
var upPhaseLine = regexp.MustCompile(`^(\S+)\s+(create|images|cni|multus|nad|charts)\s+\.\.\.$`)

// killUpInEachPhase runs `up --no-bake` once per phase (create, images,
// CNI, Multus, charts) and SIGKILLs it as soon as some cluster starts that
// phase, checking that the phase had not ended: each up must take over
// what the killed one left half done.
func killUpInEachPhase(t *testing.T, bin, file string) {
	for _, phase := range []string{"create", "images", "cni", "multus", "charts"} {
		var cluster string
		start := time.Now()
		out, err := runUntilLine(t, bin, 15*time.Minute, func(l string) bool {
			m := upPhaseLine.FindStringSubmatch(strings.TrimSpace(l))
			if m != nil && m[2] == phase {
				cluster = m[1]
				return true
			}
			return false
		}, sigkill(t), "up", file, "--no-bake")
		if err == nil {
			t.Fatalf("FAULT up-sigkill-%s: up exited 0 after SIGKILL", phase)
		}
		// Whatever the previous kill left half done, no step fails (a node
		// container created but never started once made the next up
		// refuse its cluster as "not this lab's"; the `docker run` a
		// SIGKILLed up leaves running once made the next create fail with
		// a name conflict or "node(s) already exist": KinD's create and
		// delete now wait for it, internal/kind/stray.go).
		for _, l := range regexp.MustCompile(`(?m)^.*\s✗\s.*$`).FindAllString(out, -1) {
			t.Errorf("FAULT up-sigkill-%s: a step failed before the kill: %s", phase, strings.TrimSpace(l))
		}
		if regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(cluster) + `\s+` + phase + `\s+✓`).MatchString(out) {
			t.Errorf("FAULT up-sigkill-%s: %s's %s phase had ended before the kill", phase, cluster, phase)
		}
		t.Logf("FAULT up-sigkill-%s: killed in %s's %s phase after %s", phase, cluster, phase, time.Since(start).Round(time.Millisecond))
	}
}

// dockerState is what a lab may leave behind in the engine.
type dockerState struct{ containers, networks, volumes []string }

// dockerBeforeFile holds the engine's objects before the CI lab existed,
// for TestE2EDown: after every fault case the tier puts the lab through,
// down must leave Docker exactly as it found it.
func dockerBeforeFile() string {
	return filepath.Join(os.Getenv("TESTBED_STATE_DIR"), "e2e-docker-before.json")
}

func saveDockerBefore(t *testing.T) {
	t.Helper()
	if os.Getenv("TESTBED_STATE_DIR") == "" {
		return
	}
	s := dockerObjects(t)
	b, err := json.Marshal([][]string{s.containers, s.networks, s.volumes})
	if err == nil {
		err = os.WriteFile(dockerBeforeFile(), b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// dockerBefore is the state saveDockerBefore recorded, if any.
func dockerBefore(t *testing.T) (dockerState, bool) {
	t.Helper()
	b, err := os.ReadFile(dockerBeforeFile())
	if err != nil || os.Getenv("TESTBED_STATE_DIR") == "" {
		return dockerState{}, false
	}
	var l [][]string
	if err := json.Unmarshal(b, &l); err != nil || len(l) != 3 {
		t.Fatalf("%s: %v", dockerBeforeFile(), err)
	}
	return dockerState{containers: l[0], networks: l[1], volumes: l[2]}, true
}

func dockerObjects(t *testing.T) dockerState {
	t.Helper()
	return dockerObjectsOn(t)
}

// dockerObjectsOn is dockerObjects of the engine the docker flags (e.g.
// -H URL) reach.
func dockerObjectsOn(t *testing.T, flags ...string) dockerState {
	t.Helper()
	list := func(args ...string) []string {
		b, err := exec.Command("docker", append(append([]string(nil), flags...), args...)...).Output()
		if err != nil {
			t.Fatalf("docker %v: %v", args, err)
		}
		l := strings.Fields(string(b))
		sort.Strings(l)
		return l
	}
	return dockerState{
		containers: list("ps", "-a", "--format", "{{.ID}}/{{.Names}}"),
		networks:   list("network", "ls", "--format", "{{.ID}}/{{.Name}}"),
		volumes:    list("volume", "ls", "-q"),
	}
}

// diff describes what differs between two states ("" when equal).
func (a dockerState) diff(b dockerState) string {
	var out []string
	for _, k := range []struct {
		what string
		x, y []string
	}{{"containers", a.containers, b.containers}, {"networks", a.networks, b.networks}, {"volumes", a.volumes, b.volumes}} {
		if strings.Join(k.x, " ") != strings.Join(k.y, " ") {
			out = append(out, fmt.Sprintf("%s before: %v\n%s after:  %v", k.what, k.x, k.what, k.y))
		}
	}
	return strings.Join(out, "\n")
}
