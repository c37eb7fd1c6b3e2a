//go:build e2e

package impair

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// TestE2EImpairKindNode runs the backends against a real KinD node: it
// creates a one-node cluster (TESTBED_NODE_IMAGE, KIND_BIN or kind on
// PATH), starts a pod, gives it a veth "eth1" standing in for the macvlan
// interface, and then, through the Docker API only: probes the node,
// applies loss with the selected backend, sends datagrams from the pod's
// namespace, reads the counters, removes the impairment (twice, then with
// the pod gone) and reads the container start time from crictl.
func TestE2EImpairKindNode(t *testing.T) {
	image := os.Getenv("TESTBED_NODE_IMAGE")
	if image == "" {
		t.Skip("TESTBED_NODE_IMAGE is not set (an offline KinD node image is needed)")
	}
	kind := os.Getenv("KIND_BIN")
	if kind == "" {
		kind = "kind"
	}
	if _, err := exec.LookPath(kind); err != nil {
		t.Skipf("kind binary %q not found (set KIND_BIN)", kind)
	}
	if _, err := os.Stat("/var/run/docker.sock"); err != nil && os.Getenv("DOCKER_HOST") == "" {
		t.Skip("no Docker daemon")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	name := fmt.Sprintf("tb-impair-%d", os.Getpid()%100000)
	node := name + "-control-plane"
	kubeconfig := path.Join(t.TempDir(), "kubeconfig")
	run(t, kind, "create", "cluster", "--name", name, "--image", image, "--kubeconfig", kubeconfig, "--wait", "3m")
	t.Cleanup(func() { _ = exec.Command(kind, "delete", "cluster", "--name", name, "--kubeconfig", kubeconfig).Run() })

	cli, err := dockerx.NewClient("")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	x := dockerx.Nodes{API: cli}
	kubectl := func(stdin string, args ...string) string {
		t.Helper()
		cmd := append([]string{"kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"}, args...)
		var in *strings.Reader
		if stdin != "" {
			in = strings.NewReader(stdin)
		}
		var out, stderr []byte
		var err error
		if in != nil {
			out, stderr, err = x.Exec(ctx, node, cmd, in)
		} else {
			out, stderr, err = x.Exec(ctx, node, cmd, nil)
		}
		if err != nil {
			t.Fatalf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr)
		}
		return string(out)
	}

	// A pod from an image the node already has (no registry here).
	imgs, _, err := x.Exec(ctx, node, []string{"crictl", "images", "-o", "json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pause := pauseImage(t, imgs)
	kubectl(`apiVersion: v1
kind: Pod
metadata: {name: sleeper, namespace: default}
spec:
  tolerations: [{operator: Exists}]
  containers: [{name: sleeper, image: "`+pause+`", imagePullPolicy: Never}]
`, "apply", "-f", "-")
	kubectl("", "wait", "--for=condition=Ready", "pod/sleeper", "--timeout=180s")

	r := NewResolver(x)
	ns, err := r.NetNS(ctx, node, "default", "sleeper")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pod netns %s", ns)
	// eth1 in the pod, its peer in the node's root namespace.
	nodeExec(ctx, t, x, node, "ip", "link", "add", "tbe2e0", "type", "veth", "peer", "name", "eth1", "netns", path.Base(ns))
	nodeExec(ctx, t, x, node, "ip", "addr", "add", "10.96.77.2/24", "dev", "tbe2e0")
	nodeExec(ctx, t, x, node, "ip", "link", "set", "tbe2e0", "up")
	nodeExec(ctx, t, x, node, inNetNS(ns, "ip", "addr", "add", "10.96.77.1/24", "dev", "eth1")...)
	nodeExec(ctx, t, x, node, inNetNS(ns, "ip", "link", "set", "eth1", "up")...)
	mac := strings.TrimSpace(nodeExec(ctx, t, x, node, "cat", "/sys/class/net/tbe2e0/address"))
	nodeExec(ctx, t, x, node, inNetNS(ns, "ip", "neigh", "replace", "10.96.77.2", "lladdr", mac, "dev", "eth1", "nud", "permanent")...)

	caps, err := Probe(ctx, x, node)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node capabilities: %s", caps.Summary())
	spec := Spec{LossPct: 25, Seed: 1}
	im, err := Select(caps, spec, x, r)
	if err != nil {
		t.Fatal(err)
	}
	tg := Target{Cluster: name, Node: node, Namespace: "default", Pod: "sleeper", Interface: "eth1"}
	t0 := time.Now()
	if err := im.Apply(ctx, tg, spec); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	before, err := im.Stats(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("latency through the Docker API: Apply %v, Stats %v", t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	const N = 1000
	// bash's /dev/udp reports a failed write (e.g. EPERM) as an error.
	send := fmt.Sprintf(`fail=0; for i in $(seq %d); do echo announce > /dev/udp/10.96.77.2/9 || fail=$((fail+1)); done; echo $fail`, N)
	fails := strings.TrimSpace(nodeExec(ctx, t, x, node, inNetNS(ns, "bash", "-c", send)...))
	if fails != "0" {
		t.Errorf("%s writes failed under loss", fails)
	}
	after, err := im.Stats(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	st := after.Sub(before)
	t.Logf("backend %s: requested %.0f%%, seen %d, dropped %d, achieved %.2f%%", im.Backend(), spec.LossPct, st.Seen, st.Dropped, deref(st.AchievedLossPct()))
	if st.Seen < N {
		t.Errorf("counted %d packets, sent %d", st.Seen, N)
	}
	if a := deref(st.AchievedLossPct()); math.Abs(a-25) > 5*100*math.Sqrt(0.25*0.75/float64(N)) {
		t.Errorf("achieved loss %.2f%% outside binomial bounds around 25%%", a)
	}
	// eth0 (API path) is untouched.
	if q := nodeExec(ctx, t, x, node, inNetNS(ns, "tc", "qdisc", "show", "dev", "eth0")...); strings.Contains(q, "netem") {
		t.Errorf("eth0 has netem: %s", q)
	}

	// Start marker: sub-second runtime time agrees with the API's.
	t2 := time.Now()
	started, err := r.ContainerStart(ctx, node, "default", "sleeper", "sleeper")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ContainerStart latency %v", time.Since(t2).Round(time.Millisecond))
	var pod struct {
		Status struct {
			ContainerStatuses []struct {
				State struct {
					Running struct {
						StartedAt time.Time `json:"startedAt"`
					} `json:"running"`
				} `json:"state"`
			} `json:"containerStatuses"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(kubectl("", "get", "pod", "sleeper", "-o", "json")), &pod); err != nil {
		t.Fatal(err)
	}
	api := pod.Status.ContainerStatuses[0].State.Running.StartedAt
	t.Logf("container started %s (CRI), %s (API, whole seconds)", started.Format(time.RFC3339Nano), api.Format(time.RFC3339))
	if d := started.Sub(api); d < 0 || d >= time.Second {
		t.Errorf("CRI start %v is not within the API's second %v", started, api)
	}

	for i := 0; i < 2; i++ {
		t3 := time.Now()
		if err := im.Remove(ctx, tg); err != nil {
			t.Fatalf("Remove #%d: %v", i, err)
		}
		t.Logf("Remove #%d latency %v", i, time.Since(t3).Round(time.Millisecond))
	}
	if tabs := nodeExec(ctx, t, x, node, inNetNS(ns, "nft", "list", "tables")...); strings.Contains(tabs, "testbed") {
		t.Errorf("table left after Remove: %s", tabs)
	}
	kubectl("", "delete", "pod", "sleeper", "--wait=true")
	if err := im.Remove(ctx, tg); err != nil {
		t.Errorf("Remove with the pod gone: %v", err)
	}
}

func pauseImage(t *testing.T, out []byte) string {
	t.Helper()
	var doc struct {
		Images []struct {
			RepoTags []string `json:"repoTags"`
		} `json:"images"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	for _, im := range doc.Images {
		for _, tag := range im.RepoTags {
			if strings.Contains(tag, "pause") {
				return tag
			}
		}
	}
	t.Skip("the node image has no pause image to run a pod from")
	return ""
}

func nodeExec(ctx context.Context, t *testing.T, x dockerx.Executor, node string, cmd ...string) string {
	t.Helper()
	out, _, err := x.Exec(ctx, node, cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestE2EProbeInContainer probes the kernel from a throw-away container of
// the node image, as doctor does, and checks the container is gone after.
func TestE2EProbeInContainer(t *testing.T) {
	image := os.Getenv("TESTBED_NODE_IMAGE")
	if image == "" {
		t.Skip("TESTBED_NODE_IMAGE is not set (an offline KinD node image is needed)")
	}
	cli, err := dockerx.NewClient("")
	if err != nil {
		t.Skipf("no Docker: %v", err)
	}
	defer cli.Close()
	ctx := context.Background()
	if _, err := cli.Ping(ctx); err != nil {
		t.Skipf("no Docker daemon: %v", err)
	}
	caps, err := ProbeInContainer(ctx, cli, image)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", caps.Summary())
	host, err := Probe(ctx, dockerx.Local{}, "")
	if err == nil && os.Geteuid() == 0 {
		for _, bin := range []string{"tc", "nft", "unshare"} {
			if _, err := exec.LookPath(bin); err != nil {
				t.Logf("host lacks %s; not comparing with the host probe", bin)
				return
			}
		}
		if host.Netem != caps.Netem || host.NftEgress != caps.NftEgress {
			t.Errorf("container probe %+v disagrees with the host probe %+v (same kernel)", caps, host)
		}
	}
	r := caps.Assess()
	t.Logf("doctor: level %d: %s (fix: %s)", r.Level, r.Detail, r.Fix)
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=dev.testbed.role=impair-probe", "-q").Output()
	if err == nil && strings.TrimSpace(string(out)) != "" {
		t.Errorf("probe containers left behind: %s", out)
	}
}
