package impair

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/fluidos-lab/testbed/provision/preflight"
)

// ProbeInContainer probes the host kernel from a throw-away privileged
// container of image (the KinD node image, which has tc, nft and unshare,
// so the answer is what the lab's nodes will get), then removes it. The
// container is labelled dev.testbed.managed=true so `down` can find it if
// the removal is interrupted.
func ProbeInContainer(ctx context.Context, cli *client.Client, image string) (Capabilities, error) {
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := "testbed-impair-probe-" + hex.EncodeToString(suffix[:])
	created, err := cli.ContainerCreate(ctx,
		&container.Config{
			Image:      image,
			Entrypoint: []string{"sleep", "300"},
			Labels:     map[string]string{"dev.testbed.managed": "true", "dev.testbed.role": "impair-probe"},
		},
		&container.HostConfig{Privileged: true, NetworkMode: "none", AutoRemove: true},
		nil, nil, name)
	if err != nil {
		return Capabilities{}, fmt.Errorf("create probe container from %s: %w", image, err)
	}
	defer func() {
		_ = cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	}()
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return Capabilities{}, fmt.Errorf("start probe container from %s: %w", image, err)
	}
	return Probe(ctx, NewDockerFromClient(cli), created.ID)
}

// SupportCheck is the `testbed doctor` check of impairment support.
type SupportCheck struct {
	// Image is the KinD node image to probe from.
	Image string
	// probe is the seam for tests; nil uses ProbeInContainer.
	probe func(ctx context.Context) (Capabilities, error)
}

var _ preflight.Check = SupportCheck{}

// Name implements preflight.Check.
func (SupportCheck) Name() string { return "impairment support" }

// Run implements preflight.Check: pass with netem, warn with nftables only
// (loss only) or nothing, naming the missing kernel feature and its fix.
func (c SupportCheck) Run(ctx context.Context) preflight.Result {
	probe := c.probe
	if probe == nil {
		probe = func(ctx context.Context) (Capabilities, error) {
			cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
			if err != nil {
				return Capabilities{}, fmt.Errorf("docker client: %w", err)
			}
			defer cli.Close()
			return ProbeInContainer(ctx, cli, c.Image)
		}
	}
	caps, err := probe(ctx)
	if err != nil {
		return preflight.Result{Status: preflight.Warn,
			Detail: "could not probe the kernel: " + err.Error(),
			Fix:    "make the node image " + c.Image + " available (testbed doctor checks it above), then run testbed doctor again"}
	}
	return supportResult(caps)
}

func supportResult(caps Capabilities) preflight.Result {
	kernel := ""
	if caps.Kernel != "" {
		kernel = "kernel " + caps.Kernel + ": "
	}
	switch {
	case caps.Netem:
		seed := ""
		if !caps.NetemSeed {
			seed = " (this tc cannot seed netem; seeds are recorded only)"
		}
		return preflight.Result{Status: preflight.Pass,
			Detail: kernel + "netem: " + strings.Join(caps.Supported(), ", ") + seed}
	case caps.NftEgress:
		return preflight.Result{Status: preflight.Warn,
			Detail: kernel + "loss only, with nftables (netdev egress); no netem (" + caps.NetemErr + "): scenarios with delay, jitter, correlation, duplicate, corrupt or rate are refused",
			Fix:    netemHint}
	}
	return preflight.Result{Status: preflight.Warn,
		Detail: kernel + "no impairment possible: no netem (" + caps.NetemErr + "), no nftables egress (" + caps.NftErr + "); only scenarios without impairment can run",
		Fix:    netemHint + "; or " + nftHint}
}
