package impair

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// ProbeInContainer probes the host kernel from a throw-away privileged
// container of image (the KinD node image, which has tc, nft and unshare,
// so the answer is what the lab's nodes will get), then removes it. The
// container is labelled dev.testbed.managed=true so `down` can find it if
// the removal is interrupted.
func ProbeInContainer(ctx context.Context, cli ProbeAPI, image string) (Capabilities, error) {
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
	return Probe(ctx, dockerx.Nodes{API: cli}, created.ID)
}

// ProbeAPI is the Docker client subset ProbeInContainer needs.
type ProbeAPI interface {
	dockerx.ExecAPI
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
}

// Level is how much of the impairment vocabulary a host supports.
type Level int

// Levels of support.
const (
	// Unsupported: no netem and no nftables egress; only unimpaired
	// scenarios can run.
	Unsupported Level = iota
	// LossOnly: nftables netdev egress, no netem.
	LossOnly
	// Full: netem (loss, delay, jitter, correlation, duplicate, corrupt, rate).
	Full
)

// Assessment is what a host's capabilities mean for a user: the level, a
// one-line detail naming the kernel and the missing features, and the fix.
type Assessment struct {
	Level  Level
	Detail string
	Fix    string
}

// Assess explains the capabilities (doctor prints it).
func (c Capabilities) Assess() Assessment {
	kernel := ""
	if c.Kernel != "" {
		kernel = "kernel " + c.Kernel + ": "
	}
	switch {
	case c.Netem:
		seed := ""
		if !c.NetemSeed {
			seed = " (this tc cannot seed netem; seeds are recorded only)"
		}
		return Assessment{Level: Full, Detail: kernel + "netem: " + strings.Join(c.Supported(), ", ") + seed}
	case c.NftEgress:
		return Assessment{Level: LossOnly,
			Detail: kernel + "loss only, with nftables (netdev egress); no netem (" + c.NetemErr + "): scenarios with delay, jitter, correlation, duplicate, corrupt or rate are refused",
			Fix:    netemHint}
	}
	return Assessment{Level: Unsupported,
		Detail: kernel + "no impairment possible: no netem (" + c.NetemErr + "), no nftables egress (" + c.NftErr + "); only scenarios without impairment can run",
		Fix:    netemHint + "; or " + nftHint}
}
