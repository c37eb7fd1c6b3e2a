package preflight

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/fluidos-lab/testbed/topology"
)

// Host is the machine the checks inspect. Every field is a seam.
type Host struct {
	// FS is the host filesystem rooted at "/".
	FS fs.FS
	// Release is the kernel release (uname -r).
	Release string
	// Rlimit returns RLIMIT_NOFILE.
	Rlimit func() (soft, hard uint64, err error)
	// Free returns the bytes available under a path (statfs).
	Free func(path string) (uint64, error)
	// MacvlanProbe creates a real macvlan link; nil when not root.
	MacvlanProbe func(ctx context.Context) error
}

// Config selects what the default checks compare against.
type Config struct {
	Host Host
	// Docker is nil when the client could not be created (DockerErr says why).
	Docker    DockerAPI
	DockerErr error
	// Plan is the topology to size the lab from; nil checks for one
	// single-node cluster.
	Plan *topology.Plan
	// NodeImage is used when Plan is nil ($TESTBED_NODE_IMAGE or the default).
	NodeImage string
}

// DefaultChecks returns the checks of `testbed doctor`, in report order.
// Other packages append their own (e.g. impairment support).
func DefaultChecks(ctx context.Context, cfg Config) []Check {
	images := []string{cfg.NodeImage}
	need := topology.Resources{MemoryMiB: 700, CPUCores: 0.5, DiskMiB: 2560}
	what := "one single-node cluster"
	if p := cfg.Plan; p != nil {
		need = p.Estimate
		what = fmt.Sprintf("the %d-cluster lab %q", len(p.Clusters), p.Name)
		images = nil
		seen := map[string]bool{}
		for _, c := range p.Clusters {
			if !seen[c.NodeImage] {
				seen[c.NodeImage] = true
				images = append(images, c.NodeImage)
			}
		}
	}
	dockerRoot := "/var/lib/docker"
	if cfg.Docker != nil {
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		info, err := cfg.Docker.Info(ictx)
		cancel()
		if err == nil && info.DockerRootDir != "" {
			dockerRoot = info.DockerRootDir
		}
	}
	checks := []Check{
		EngineCheck{Docker: cfg.Docker, Err: cfg.DockerErr},
		PrivilegedCheck{Docker: cfg.Docker, NodeImage: images[0]},
		CgroupCheck{FS: cfg.Host.FS, NodeImage: images[0]},
	}
	checks = append(checks, SysctlChecks(cfg.Host.FS)...)
	checks = append(checks,
		UlimitCheck{Rlimit: cfg.Host.Rlimit},
		MacvlanCheck{FS: cfg.Host.FS, Release: cfg.Host.Release, Probe: cfg.Host.MacvlanProbe},
		MemoryCheck{FS: cfg.Host.FS, NeedMiB: need.MemoryMiB, For: what},
		DiskCheck{Path: dockerRoot, Free: cfg.Host.Free, NeedMiB: need.DiskMiB, For: what},
	)
	for _, img := range images {
		checks = append(checks, namedCheck{NodeImageCheck{Docker: cfg.Docker, Image: img}, len(images) > 1})
	}
	return checks
}

// namedCheck adds the image to the name when a lab uses several node images.
type namedCheck struct {
	NodeImageCheck
	qualify bool
}

func (c namedCheck) Name() string {
	if c.qualify {
		return "node image " + c.Image
	}
	return c.NodeImageCheck.Name()
}

// LocalHost describes the running machine.
func LocalHost() Host {
	h := Host{FS: os.DirFS("/"), Release: kernelRelease(), Rlimit: rlimitNofile, Free: freeBytes}
	if os.Geteuid() == 0 {
		h.MacvlanProbe = ProbeMacvlan
	}
	return h
}
