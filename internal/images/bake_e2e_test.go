//go:build e2e

package images

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// TestE2EBake bakes the Multus image into the offline KinD node image on the
// real Docker engine, checks that a container of the baked image has it in
// containerd (pinned), that a second Bake reuses the image, and that Prune
// removes it. Needs the offline env (TESTBED_NODE_IMAGE, TESTBED_MULTUS_IMAGE).
func TestE2EBake(t *testing.T) {
	node, multus := os.Getenv("TESTBED_NODE_IMAGE"), os.Getenv("TESTBED_MULTUS_IMAGE")
	if node == "" || multus == "" {
		skipOrFail(t, "e2e: TESTBED_NODE_IMAGE and TESTBED_MULTUS_IMAGE must be set (source the offline env)")
	}
	api, err := dockerx.NewClient("")
	if err != nil {
		skipOrFail(t, err.Error())
	}
	defer api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := api.Ping(ctx); err != nil {
		skipOrFail(t, "e2e: docker is not reachable: "+err.Error())
	}
	start := time.Now()
	files := map[string]string{"/etc/testbed/e2e/a+strategic.yaml": "spec: {}\n"}
	ref, built, err := Bake(ctx, api, node, []string{multus}, files)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bake of %s + %s: %s (built %v) in %s", node, multus, ref, built, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if _, err := Prune(context.Background(), api, nil); err != nil {
			t.Errorf("prune: %v", err)
		}
	})
	again, built2, err := Bake(ctx, api, node, []string{multus}, files)
	if err != nil || again != ref || built2 {
		t.Fatalf("second bake: %s built=%v err=%v, want reuse of %s", again, built2, err, ref)
	}
	// A container of the baked image (containerd only, as in the bake) lists
	// the image, pinned.
	out := runInImage(ctx, t, api, ref, `nohup containerd >/dev/null 2>&1 & for i in $(seq 1 60); do ctr version >/dev/null 2>&1 && break; sleep 0.5; done; ctr -n k8s.io images list`)
	if !strings.Contains(out, Normalize(multus)) || !strings.Contains(out, "io.cri-containerd.pinned=pinned") {
		t.Errorf("baked image lacks %s (pinned):\n%s", multus, out)
	}
	checkUnpack(ctx, t, api, ref, multus)
	// The files are in it, and an image with files only needs no containerd.
	if out := runInImage(ctx, t, api, ref, `stat -c '%a %s' /etc/testbed/e2e/a+strategic.yaml`); strings.TrimSpace(out) != "644 9" {
		t.Errorf("baked file: %q, want mode 644 and 9 bytes", out)
	}
	only, _, err := Bake(ctx, api, node, nil, files)
	if err != nil || only == ref {
		t.Fatalf("files-only bake: %s %v (the image with images is %s)", only, err, ref)
	}
	if out := runInImage(ctx, t, api, only, `cat /etc/testbed/e2e/a+strategic.yaml`); out != files["/etc/testbed/e2e/a+strategic.yaml"] {
		t.Errorf("files-only image: %q", out)
	}
	removed, err := Prune(ctx, api, nil)
	if err != nil || len(removed) == 0 {
		t.Errorf("prune removed %v, %v", removed, err)
	}
}

// checkUnpack starts a node-like container of the baked image (privileged,
// /var on a volume, as KinD makes its nodes) with containerd, and checks
// that the baked image is content only until UnpackInNodes, and unpacked
// for the CRI's snapshotter after it: containerd labels the image config
// with the snapshot of its top layer.
func checkUnpack(ctx context.Context, t *testing.T, api BakeAPI, baked, ref string) {
	t.Helper()
	info, err := api.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("testbed-e2e-unpack-%d", time.Now().UnixNano())
	c, err := api.ContainerCreate(ctx, &container.Config{Image: baked, Entrypoint: []string{"sleep", "infinity"}, Volumes: map[string]struct{}{"/var": {}}},
		&container.HostConfig{Privileged: true, SecurityOpt: []string{"seccomp=unconfined"}}, nil, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	defer api.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err := api.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	sh := func(cmd string) string {
		out, errOut, err := dockerx.Exec(ctx, api, c.ID, []string{"bash", "-c", cmd}, nil)
		if err != nil {
			t.Fatalf("%v\n%s", err, errOut)
		}
		return string(out)
	}
	sh(`nohup containerd >/tmp/containerd.log 2>&1 & for i in $(seq 1 60); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.5; done; cat /tmp/containerd.log; exit 1`)
	snapLabel := func() string {
		return sh(`ctr -n k8s.io content ls | awk -v d="` + info.ID + `" '$1 == d { print $NF }'`)
	}
	if l := snapLabel(); strings.Contains(l, "containerd.io/gc.ref.snapshot.") {
		t.Fatalf("baked %s is already unpacked (labels %s): the test proves nothing", ref, l)
	}
	if err := UnpackInNodes(ctx, api, []string{ref}, []string{name}); err != nil {
		t.Fatal(err)
	}
	if l := snapLabel(); !strings.Contains(l, "containerd.io/gc.ref.snapshot.overlayfs=") {
		t.Errorf("after UnpackInNodes, %s's config %s has labels %q, want an overlayfs snapshot", ref, info.ID, strings.TrimSpace(l))
	}
	// Again: a no-op on an unpacked image, and a clear error for an absent one.
	if err := UnpackInNodes(ctx, api, []string{ref}, []string{name}); err != nil {
		t.Errorf("second unpack: %v", err)
	}
	err = UnpackInNodes(ctx, api, []string{"testbed.invalid/absent:1"}, []string{name})
	if err == nil || !strings.Contains(err.Error(), "node "+name) || !strings.Contains(err.Error(), "testbed.invalid/absent:1") {
		t.Errorf("unpacking an absent image: %v, want an error naming the node and the image", err)
	}
}
