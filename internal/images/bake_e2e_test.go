//go:build e2e

package images

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

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
