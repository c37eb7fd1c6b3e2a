//go:build e2e

package dockerhost

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// liveEndpoint is the engine the e2e tier talks to: TESTBED_DOCKERHOST_E2E
// (any endpoint form), else the default socket.
func liveEndpoint(t *testing.T) Endpoint {
	t.Helper()
	s := os.Getenv("TESTBED_DOCKERHOST_E2E")
	if s == "" {
		s = DefaultSocket
	}
	e, err := Parse(s, TLSFiles{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func liveEngine(t *testing.T) Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := liveEndpoint(t)
	c, err := e.Client(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	t.Cleanup(func() { c.Close() })
	return Engine{HostName: "live", Client: c}
}

func TestE2EClockOffset(t *testing.T) {
	eng := liveEngine(t)
	off, err := ClockOffset(context.Background(), eng, 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("engine %s (API %s): offset %v ± %v, rtt %v, spread %v over %d samples",
		off.Host, eng.ClientVersion(), time.Duration(off.OffsetNS), time.Duration(off.UncertaintyNS),
		time.Duration(off.RTTNS), time.Duration(off.SpreadNS), off.Samples)
	if off.RTTNS <= 0 || off.UncertaintyNS != off.RTTNS/2 || off.Samples != 20 {
		t.Errorf("implausible figures: %+v", off)
	}
	if e := liveEndpoint(t); e.IsLocal() && abs(off.OffsetNS) > off.UncertaintyNS+int64(time.Millisecond) {
		t.Errorf("a local engine's clock is ours, but the offset is %v ± %v", time.Duration(off.OffsetNS), time.Duration(off.UncertaintyNS))
	}
}

// forgetful is an engine that claims not to have ref once, so that
// CopyImages copies ref from the engine to itself: a real save streamed
// into a real load.
type forgetful struct {
	Engine
	ref    string
	forgot bool
}

func (f *forgetful) Name() string { return "live (forgetful)" }

func (f *forgetful) ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error) {
	if ref == f.ref && !f.forgot {
		f.forgot = true
		return image.InspectResponse{}, fmt.Errorf("forgotten: %w", cerrdefs.ErrNotFound)
	}
	return f.Engine.ImageInspect(ctx, ref, opts...)
}

func TestE2ECopyImages(t *testing.T) {
	eng := liveEngine(t)
	ctx := context.Background()
	imgs, err := eng.ImageList(ctx, image.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ref string
	var size int64
	for _, im := range imgs {
		if len(im.RepoTags) > 0 && im.RepoTags[0] != "<none>:<none>" && (ref == "" || im.Size < size) {
			ref, size = im.RepoTags[0], im.Size
		}
	}
	if ref == "" {
		t.Skip("no tagged image on the engine")
	}
	copied, err := CopyImages(ctx, eng, eng, []string{ref}, nil)
	if err != nil || len(copied) != 0 {
		t.Fatalf("copy of a present image: copied %v, %v", copied, err)
	}
	var last int64
	start := time.Now()
	copied, err = CopyImages(ctx, eng, &forgetful{Engine: eng, ref: ref}, []string{ref}, func(_ string, n int64) { last = n })
	if err != nil || len(copied) != 1 {
		t.Fatalf("copy of %s: copied %v, %v", ref, copied, err)
	}
	t.Logf("copied %s (%d bytes streamed) in %v", ref, last, time.Since(start).Round(time.Millisecond))
	_, err = CopyImages(ctx, eng, eng, []string{"testbed.invalid/none:never"}, nil)
	if err == nil || !strings.Contains(err.Error(), "live does not have it") {
		t.Errorf("copy of a missing image: %v", err)
	}
}

// TestE2EEnv: the docker CLI, given Env, reaches the same engine.
func TestE2EEnv(t *testing.T) {
	eng := liveEngine(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker CLI")
	}
	info, err := eng.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Endpoint{liveEndpoint(t), mustParse(t, DefaultContext, TLSFiles{})} {
		if e.Kind() == KindContext && !liveEndpoint(t).IsLocal() {
			continue
		}
		cmd := exec.Command("docker", "info", "--format", "{{.ID}}")
		cmd.Env = append(append(os.Environ(), "DOCKER_HOST=tcp://192.0.2.1:1", "DOCKER_TLS_VERIFY=1"), e.Env()...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: docker info: %v\n%s", e, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != info.ID {
			t.Errorf("%s: the docker CLI reached engine %s, the client %s", e, got, info.ID)
		}
	}
}
