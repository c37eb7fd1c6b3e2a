//go:build e2e

package images

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// skipOrFail skips, or fails under CI (CI=true), where the e2e tier must run.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// runInImage runs a shell command in a throw-away container of img.
func runInImage(ctx context.Context, t *testing.T, api BakeAPI, img, cmd string) string {
	t.Helper()
	name := fmt.Sprintf("testbed-e2e-%d", time.Now().UnixNano())
	c, err := api.ContainerCreate(ctx, &container.Config{Image: img, Entrypoint: []string{"sleep", "infinity"}},
		&container.HostConfig{SecurityOpt: []string{"seccomp=unconfined"}}, nil, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	defer api.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err := api.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := dockerx.Exec(ctx, api, c.ID, []string{"bash", "-c", cmd}, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	return string(out)
}
