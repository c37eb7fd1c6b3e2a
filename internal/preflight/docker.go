package preflight

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DockerAPI is the subset of the Docker client the checks use.
type DockerAPI interface {
	ServerVersion(ctx context.Context) (types.Version, error)
	Info(ctx context.Context) (system.Info, error)
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	DistributionInspect(ctx context.Context, ref, encodedRegistryAuth string) (registry.DistributionInspect, error)
	ContainerCreate(ctx context.Context, cfg *container.Config, host *container.HostConfig, net *network.NetworkingConfig, platform *ocispec.Platform, name string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, id string, opts container.StartOptions) error
	ContainerWait(ctx context.Context, id string, cond container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerRemove(ctx context.Context, id string, opts container.RemoveOptions) error
}

const dockerFix = "start the Docker engine (sudo systemctl start docker) and let your user use it (sudo usermod -aG docker $USER, then log in again), or point DOCKER_HOST at a running engine"

// EngineCheck reports whether the Docker engine answers, and its version.
type EngineCheck struct {
	Docker DockerAPI
	// Err is the error from creating the client, if any.
	Err error
}

// Name implements Check.
func (c EngineCheck) Name() string { return "docker engine" }

// Run implements Check.
func (c EngineCheck) Run(ctx context.Context) Result {
	if c.Err != nil || c.Docker == nil {
		return Result{Status: Fail, Detail: fmt.Sprintf("no Docker client: %v", c.Err), Fix: dockerFix}
	}
	v, err := c.Docker.ServerVersion(ctx)
	if err != nil {
		return Result{Status: Fail, Detail: "Docker engine unreachable: " + err.Error(), Fix: dockerFix}
	}
	return Result{Status: Pass, Detail: fmt.Sprintf("Docker %s (API %s, %s/%s, kernel %s)", v.Version, v.APIVersion, v.Os, v.Arch, v.KernelVersion)}
}

// PrivilegedCheck verifies the engine can run the privileged containers
// KinD nodes are: it inspects docker info and, when the node image is
// present, runs a privileged container that mounts a tmpfs (only possible
// with privileges) and removes it.
type PrivilegedCheck struct {
	Docker    DockerAPI
	NodeImage string
	// Labels mark the probe container (dev.testbed.managed=true ...).
	Labels map[string]string
}

// Name implements Check.
func (c PrivilegedCheck) Name() string { return "privileged containers" }

// Run implements Check.
func (c PrivilegedCheck) Run(ctx context.Context) Result {
	if c.Docker == nil {
		return Result{Status: Fail, Detail: "not checked: no Docker engine", Fix: dockerFix}
	}
	info, err := c.Docker.Info(ctx)
	if err != nil {
		return Result{Status: Fail, Detail: "docker info failed: " + err.Error(), Fix: dockerFix}
	}
	var notes []string
	rootless := false
	for _, o := range info.SecurityOptions {
		if strings.Contains(o, "name=rootless") {
			rootless = true
		}
		if strings.Contains(o, "name=userns") {
			return Result{Status: Fail, Detail: "the engine runs with user-namespace remapping (userns-remap): KinD nodes cannot be privileged",
				Fix: "remove \"userns-remap\" from /etc/docker/daemon.json and restart Docker"}
		}
	}
	if rootless {
		notes = append(notes, "rootless engine (KinD needs cgroup v2 with delegation, see https://kind.sigs.k8s.io/docs/user/rootless/)")
	}
	if _, err := c.Docker.ImageInspect(ctx, c.NodeImage); err != nil {
		return Result{Status: Warn, Detail: strings.Join(append(notes, "not started: node image "+c.NodeImage+" is not present locally"), "; "),
			Fix: "pull or build the node image, then run testbed doctor again"}
	}
	if err := c.runProbe(ctx); err != nil {
		fix := "run the engine as root (rootful Docker), without userns-remap, and make sure no policy (e.g. SELinux/AppArmor or an authorization plugin) blocks --privileged"
		return Result{Status: Fail, Detail: strings.Join(append(notes, "privileged probe container failed: "+err.Error()), "; "), Fix: fix}
	}
	notes = append(notes, "started a privileged "+c.NodeImage+" container that mounted a tmpfs")
	st := Pass
	fix := ""
	if rootless {
		st, fix = Warn, "prefer rootful Docker for large labs, or follow https://kind.sigs.k8s.io/docs/user/rootless/"
	}
	return Result{Status: st, Detail: strings.Join(notes, "; "), Fix: fix}
}

func (c PrivilegedCheck) runProbe(ctx context.Context) (err error) {
	labels := map[string]string{"dev.testbed.managed": "true", "dev.testbed.check": "privileged"}
	for k, v := range c.Labels {
		labels[k] = v
	}
	created, err := c.Docker.ContainerCreate(ctx, &container.Config{
		Image:      c.NodeImage,
		Entrypoint: []string{"/bin/sh", "-c", "mount -t tmpfs testbed /mnt && umount /mnt"},
		Labels:     labels,
	}, &container.HostConfig{Privileged: true}, nil, nil, "")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	defer func() {
		// Remove even when ctx is done; bounded by its own timeout.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if rerr := c.Docker.ContainerRemove(rctx, created.ID, container.RemoveOptions{Force: true}); rerr != nil && err == nil {
			err = fmt.Errorf("remove probe container %s: %w", created.ID[:min(12, len(created.ID))], rerr)
		}
	}()
	waitCh, errCh := c.Docker.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := c.Docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	select {
	case w := <-waitCh:
		if w.Error != nil {
			return fmt.Errorf("wait: %s", w.Error.Message)
		}
		if w.StatusCode != 0 {
			return fmt.Errorf("mount inside the privileged container exited with status %d", w.StatusCode)
		}
		return nil
	case err := <-errCh:
		return fmt.Errorf("wait: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NodeImageCheck verifies the node image is present locally or pullable.
type NodeImageCheck struct {
	Docker DockerAPI
	Image  string
}

// Name implements Check.
func (c NodeImageCheck) Name() string { return "node image" }

// Run implements Check.
func (c NodeImageCheck) Run(ctx context.Context) Result {
	if c.Docker == nil {
		return Result{Status: Fail, Detail: "not checked: no Docker engine", Fix: dockerFix}
	}
	if img, err := c.Docker.ImageInspect(ctx, c.Image); err == nil {
		return Result{Status: Pass, Detail: fmt.Sprintf("%s present locally (%s, %d MiB)", c.Image, shortID(img.ID), img.Size>>20)}
	}
	d, err := c.Docker.DistributionInspect(ctx, c.Image, "")
	if err != nil {
		return Result{Status: Fail, Detail: fmt.Sprintf("%s is not present locally and its registry cannot be reached: %v", c.Image, err),
			Fix: fmt.Sprintf("docker pull %s on a connected host (docker save | docker load to move it), or set TESTBED_NODE_IMAGE to a local node image", c.Image)}
	}
	return Result{Status: Pass, Detail: fmt.Sprintf("%s pullable (%s); testbed up pulls it", c.Image, d.Descriptor.Digest)}
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
