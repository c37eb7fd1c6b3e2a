package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/internal/capacity"
	"github.com/fluidos-lab/testbed/internal/preflight"
	"github.com/fluidos-lab/testbed/topology"
)

// doctorFakeDocker has every image and runs every container successfully.
type doctorFakeDocker struct{}

func (doctorFakeDocker) ServerVersion(context.Context) (types.Version, error) {
	return types.Version{Version: "28.0.1", APIVersion: "1.48"}, nil
}
func (doctorFakeDocker) Info(context.Context) (system.Info, error) {
	return system.Info{DockerRootDir: "/var/lib/docker"}, nil
}
func (doctorFakeDocker) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{ID: "sha256:abc"}, nil
}
func (doctorFakeDocker) DistributionInspect(context.Context, string, string) (registry.DistributionInspect, error) {
	return registry.DistributionInspect{}, nil
}
func (doctorFakeDocker) ContainerCreate(context.Context, *container.Config, *container.HostConfig, *network.NetworkingConfig, *ocispec.Platform, string) (container.CreateResponse, error) {
	return container.CreateResponse{ID: "x"}, nil
}
func (doctorFakeDocker) ContainerStart(context.Context, string, container.StartOptions) error {
	return nil
}
func (doctorFakeDocker) ContainerWait(context.Context, string, container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	ch := make(chan container.WaitResponse, 1)
	ch <- container.WaitResponse{}
	return ch, nil
}
func (doctorFakeDocker) ContainerRemove(context.Context, string, container.RemoveOptions) error {
	return nil
}

func fixtureHost(memAvailKB int) preflight.Host {
	f := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	return preflight.Host{
		FS: fstest.MapFS{
			"sys/fs/cgroup/cgroup.controllers":       f("cpu memory pids"),
			"proc/sys/fs/inotify/max_user_watches":   f("1048576"),
			"proc/sys/fs/inotify/max_user_instances": f("8192"),
			"proc/sys/kernel/keys/maxkeys":           f("20000"),
			"proc/sys/kernel/keys/maxbytes":          f("1000000"),
			"proc/meminfo":                           f("MemTotal: 33554432 kB\nMemAvailable: " + strconv.Itoa(memAvailKB) + " kB\n"),
			"sys/module/macvlan/refcnt":              f("0"),
		},
		Rlimit: func() (uint64, uint64, error) { return 65536, 65536, nil },
		Free:   func(string) (uint64, error) { return 100 << 30, nil },
	}
}

func runDoctor(t *testing.T, deps doctorDeps, args ...string) (string, string, int) {
	t.Helper()
	return runCLIWith(t, func(root *cobra.Command, streams IOStreams) {
		for _, c := range root.Commands() {
			if c.Name() == "doctor" {
				root.RemoveCommand(c)
			}
		}
		root.AddCommand(newDoctorCommandWith(streams, deps))
	}, append([]string{"doctor"}, args...)...)
}

func TestDoctorCommand(t *testing.T) {
	t.Setenv("TESTBED_STATE_DIR", t.TempDir())
	good := doctorDeps{
		host:   func() preflight.Host { return fixtureHost(30 << 20) },
		docker: func() (preflight.DockerAPI, error) { return doctorFakeDocker{}, nil },
	}
	stdout, stderr, code := runDoctor(t, good, topologyDir+"/24-nodes.yaml")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, w := range []string{"✓ pass  docker engine", "✓ pass  macvlan support", "the 24-cluster lab \"reference-24\" needs about 16800 MiB", "12 passed, 0 warnings, 0 failed"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}

	// Too little memory for 24 clusters, no Docker: non-zero exit, fixes shown.
	bad := doctorDeps{
		host:   func() preflight.Host { return fixtureHost(8 << 20) },
		docker: func() (preflight.DockerAPI, error) { return nil, errors.New("cannot connect to the Docker daemon") },
		extra: func(preflight.Config) []preflight.Check {
			return []preflight.Check{preflight.CheckFunc{CheckName: "impairment", Fn: func(context.Context) preflight.Result {
				return preflight.Result{Status: preflight.Warn, Detail: "no netem", Fix: "load sch_netem"}
			}}}
		},
	}
	stdout, stderr, code = runDoctor(t, bad, topologyDir+"/24-nodes.yaml")
	if code != exitDoctor || !strings.Contains(stderr, "checks failed") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, w := range []string{"✗ fail  docker engine", "fix: start the Docker engine", "! warn  free memory", "! warn  impairment", "fix: load sch_netem"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}

	stdout, _, code = runDoctor(t, bad, "-o", "json")
	var rep preflight.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitDoctor {
		t.Fatalf("json: %v exit %d\n%s", err, code, stdout)
	}
	if rep.Failed == 0 || rep.Checks[0].Name != "docker engine" || rep.Checks[0].Status != preflight.Fail || rep.Checks[0].Fix == "" {
		t.Errorf("report %+v", rep.Checks[0])
	}

	// Without a file: one cluster, the node image from the environment.
	t.Setenv("TESTBED_NODE_IMAGE", "testbed.local/kind-node:v1.34.2")
	stdout, _, code = runDoctor(t, good)
	if code != 0 || !strings.Contains(stdout, "one single-node cluster needs about 700 MiB") || !strings.Contains(stdout, "testbed.local/kind-node:v1.34.2 present locally") {
		t.Errorf("no file: exit %d\n%s", code, stdout)
	}

	_, stderr, code = runDoctor(t, good, topologyDir+"/testdata/invalid-tabs.yaml")
	if code != exitBadInput || !strings.Contains(stderr, "invalid-tabs.yaml:6:1:") {
		t.Errorf("bad topology: exit %d %q", code, stderr)
	}
}

// doctor FILE predicts the largest lab from the costs recorded for the
// topology's profile, naming the binding limit; --measure records first.
func TestDoctorCapacity(t *testing.T) {
	root := t.TempDir()
	t.Setenv("TESTBED_STATE_DIR", root)
	measured := capacity.Costs{Profile: "stock", Source: "measured", Lab: "reference-24", Clusters: 3, Nodes: 3,
		MemoryMiB: 10000, CPUCores: 0.001, InotifyInstances: 1, InotifyWatches: 1, Keys: 1, Neighbours: 1, BridgePorts: 1}
	calls := 0
	deps := doctorDeps{
		host:   func() preflight.Host { return fixtureHost(30 << 20) },
		docker: func() (preflight.DockerAPI, error) { return doctorFakeDocker{}, nil },
		measure: func(_ context.Context, p *topology.Plan, window time.Duration) (capacity.Costs, error) {
			calls++
			if window != 20*time.Second || p.Name != "reference-24" {
				t.Errorf("measure %s over %s", p.Name, window)
			}
			return measured, capacity.Save(filepath.Dir(p.StateDir), measured)
		},
	}
	stdout, stderr, code := runDoctor(t, deps, topologyDir+"/24-nodes.yaml")
	if code != 0 || !strings.Contains(stdout, "built-in estimate: nothing measured on this host yet") {
		t.Fatalf("before measuring: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = runDoctor(t, deps, topologyDir+"/24-nodes.yaml", "--measure", "20s")
	if code != 0 || calls != 1 {
		t.Fatalf("measure: exit %d calls %d\n%s%s", code, calls, stdout, stderr)
	}
	// (32768 - 2048) MiB / 10000 MiB per cluster = 3 clusters, memory binds.
	for _, w := range []string{"measured 0001-01-01", "on lab reference-24", "largest lab on this host: 3 clusters (bound by memory (MiB)); the topology's 24 does NOT fit"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	stdout, _, _ = runDoctor(t, deps, topologyDir+"/24-nodes.yaml", "-o", "json")
	var out struct {
		Capacity capacityView `json:"capacity"`
		Checks   []any        `json:"checks"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.Capacity.Largest != 3 || out.Capacity.Binding != "memory (MiB)" || len(out.Checks) == 0 {
		t.Errorf("json capacity %+v %v", out.Capacity, err)
	}
	for _, args := range [][]string{{"--measure", "30s"}, {topologyDir + "/24-nodes.yaml", "--measure", "1s"}} {
		if _, stderr, code := runDoctor(t, deps, args...); code != exitBadInput || !strings.Contains(stderr, "--measure needs FILE") {
			t.Errorf("%v: exit %d %q", args, code, stderr)
		}
	}
}
