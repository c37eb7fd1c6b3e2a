//go:build e2e

package helm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/internal/kubeclient"
	"github.com/fluidos-lab/testbed/topology"
)

// TestE2EMultusOnKind installs the embedded Multus chart with the Helm SDK on
// a real single-node KinD cluster, waits for the DaemonSet through a watch,
// checks that Multus wrote its CNI config, then re-applies (no-op), lists and
// uninstalls. It needs Docker and the offline env
// (. /var/tmp/testbed-offline/env: KIND_BIN, TESTBED_NODE_IMAGE,
// TESTBED_MULTUS_IMAGE).
func TestE2EMultusOnKind(t *testing.T) {
	kind, nodeImage, multusImage := os.Getenv("KIND_BIN"), os.Getenv("TESTBED_NODE_IMAGE"), os.Getenv("TESTBED_MULTUS_IMAGE")
	if kind == "" || nodeImage == "" || multusImage == "" {
		t.Skip("e2e: KIND_BIN, TESTBED_NODE_IMAGE and TESTBED_MULTUS_IMAGE must be set (source the offline env)")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skipf("e2e: docker is not reachable: %v", err)
	}
	const name = "tb-helm-e2e"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	_ = exec.Command(kind, "delete", "cluster", "--name", name).Run() // leftovers of an earlier run
	start := time.Now()
	run(kind, "create", "cluster", "--name", name, "--image", nodeImage, "--kubeconfig", kubeconfig, "--wait", "3m")
	t.Cleanup(func() { _ = exec.Command(kind, "delete", "cluster", "--name", name).Run() })
	t.Logf("kind create: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	run(kind, "load", "docker-image", multusImage, "--name", name)
	t.Logf("kind load multus image: %v", time.Since(start).Round(time.Millisecond))

	plan := &topology.Plan{Name: "helm-e2e", Multus: topology.MultusPlan{Version: "v4.2.2", Image: multusImage}}
	ch, err := MultusChart(plan, topology.ClusterPlan{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	sdk := New(WithTimeout(3*time.Minute), WithCacheDir(t.TempDir()), WithLogger(t.Logf))

	start = time.Now()
	rel, err := sdk.Apply(ctx, kubeconfig, ch)
	if err != nil {
		t.Fatal(err)
	}
	install := time.Since(start)
	if !rel.Changed || rel.Status != "deployed" || rel.Revision != 1 {
		t.Fatalf("install: %+v", rel)
	}
	start = time.Now()
	cs, err := (&kubeclient.Factory{}).Kube(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitMultusReady(ctx, cs); err != nil {
		t.Fatal(err)
	}
	wait := time.Since(start)
	conf := run("docker", "exec", name+"-control-plane", "ls", "/etc/cni/net.d")
	if !strings.Contains(conf, "00-multus.conf") {
		t.Errorf("multus did not write 00-multus.conf: %q", conf)
	}
	bins := run("docker", "exec", name+"-control-plane", "ls", "/opt/cni/bin")
	if !strings.Contains(bins, "multus") {
		t.Errorf("multus binary not installed: %q", bins)
	}

	start = time.Now()
	rel, err = sdk.Apply(ctx, kubeconfig, ch)
	if err != nil {
		t.Fatal(err)
	}
	noop := time.Since(start)
	if rel.Changed || rel.Revision != 1 {
		t.Fatalf("second apply must be a no-op: %+v", rel)
	}
	rels, err := sdk.List(ctx, kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 1 || rels[0].Name != MultusRelease || rels[0].Version != MultusChartVersion {
		t.Fatalf("list: %+v", rels)
	}
	start = time.Now()
	if err := sdk.Uninstall(ctx, kubeconfig, MultusNamespace, MultusRelease); err != nil {
		t.Fatal(err)
	}
	uninstall := time.Since(start)
	if rels, err := sdk.List(ctx, kubeconfig); err != nil || len(rels) != 0 {
		t.Fatalf("after uninstall: %+v %v", rels, err)
	}
	t.Logf("helm install (with wait) %v; DaemonSet ready watch %v; no-op apply %v; uninstall %v",
		install.Round(time.Millisecond), wait.Round(time.Millisecond), noop.Round(time.Millisecond), uninstall.Round(time.Millisecond))
}
