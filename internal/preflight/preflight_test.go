package preflight

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
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
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestSysctlCheck(t *testing.T) {
	fsys := fstest.MapFS{
		"proc/sys/fs/inotify/max_user_watches":   file("8192\n"),
		"proc/sys/fs/inotify/max_user_instances": file("512\n"),
		"proc/sys/kernel/keys/maxkeys":           file("garbage"),
	}
	tests := []struct {
		key  string
		want Status
		text string
	}{
		{"fs.inotify.max_user_watches", Fail, "sudo sysctl -w fs.inotify.max_user_watches=524288"},
		{"fs.inotify.max_user_instances", Pass, "512 (need ≥ 512)"},
		{"kernel.keys.maxkeys", Warn, "not a number"},
		{"kernel.keys.maxbytes", Warn, "cannot read"},
	}
	checks := SysctlChecks(fsys)
	for i, tt := range tests {
		c := checks[i]
		if c.Name() != tt.key {
			t.Fatalf("check %d is %s, want %s", i, c.Name(), tt.key)
		}
		r := c.Run(context.Background())
		if r.Status != tt.want || !strings.Contains(r.Detail+r.Fix, tt.text) {
			t.Errorf("%s: %+v, want %s with %q", tt.key, r, tt.want, tt.text)
		}
	}
}

func TestCgroupCheck(t *testing.T) {
	v2 := fstest.MapFS{"sys/fs/cgroup/cgroup.controllers": file("cpuset cpu io memory pids\n")}
	v1 := fstest.MapFS{"sys/fs/cgroup/memory/memory.limit_in_bytes": file("1")}
	tests := []struct {
		name  string
		fs    fstest.MapFS
		image string
		want  Status
		text  string
	}{
		{"v2", v2, "kindest/node:v1.37.0", Pass, "cgroup v2 (controllers: cpuset cpu io memory pids)"},
		{"v1 old image", v1, "testbed.local/kind-node:v1.34.2", Warn, "cgroup v1"},
		{"v1 new image", v1, "kindest/node:v1.35.1@sha256:abc", Fail, "refuses cgroup v1"},
		{"none", fstest.MapFS{}, "x:v1", Fail, "no /sys/fs/cgroup"},
	}
	for _, tt := range tests {
		r := CgroupCheck{FS: tt.fs, NodeImage: tt.image}.Run(context.Background())
		if r.Status != tt.want || !strings.Contains(r.Detail, tt.text) {
			t.Errorf("%s: %+v", tt.name, r)
		}
		if r.Status != Pass && r.Fix == "" {
			t.Errorf("%s: no fix", tt.name)
		}
	}
}

func TestUlimitCheck(t *testing.T) {
	tests := []struct {
		soft uint64
		err  error
		want Status
	}{
		{1 << 20, nil, Pass}, {4096, nil, Pass}, {2048, nil, Warn}, {256, nil, Fail}, {0, errors.New("boom"), Warn},
	}
	for _, tt := range tests {
		r := UlimitCheck{Rlimit: func() (uint64, uint64, error) { return tt.soft, 1 << 20, tt.err }}.Run(context.Background())
		if r.Status != tt.want {
			t.Errorf("soft %d: %+v, want %s", tt.soft, r, tt.want)
		}
	}
}

func TestMacvlanCheck(t *testing.T) {
	tests := []struct {
		name  string
		fs    fstest.MapFS
		probe func(context.Context) error
		want  Status
		text  string
	}{
		{"probe ok", fstest.MapFS{}, func(context.Context) error { return nil }, Pass, "throw-away network namespace"},
		{"probe unsupported", fstest.MapFS{}, func(context.Context) error { return ErrProbeUnsupported }, Fail, "refused"},
		{"probe eperm falls back", fstest.MapFS{"sys/module/macvlan/refcnt": file("0")}, func(context.Context) error { return errors.New("operation not permitted") },
			Pass, "loaded (live probe failed: operation not permitted)"},
		{"proc modules", fstest.MapFS{"proc/modules": file("veth 1 0\nmacvlan 32768 0 - Live\n")}, nil, Pass, "module loaded"},
		{"builtin config.gz", fstest.MapFS{"proc/config.gz": {Data: gz(t, "CONFIG_VETH=y\nCONFIG_MACVLAN=y\n")}}, nil, Pass, "built into the kernel"},
		{"module boot config", fstest.MapFS{"boot/config-6.1.0": file("CONFIG_MACVLAN=m\n")}, nil, Pass, "available as a module"},
		{"not set", fstest.MapFS{"boot/config-6.1.0": file("# CONFIG_MACVLAN is not set\n")}, nil, Fail, "without macvlan"},
		{"modules.builtin", fstest.MapFS{"lib/modules/6.1.0/modules.builtin": file("kernel/drivers/net/macvlan.ko\n")}, nil, Pass, "modules.builtin"},
		{"module file", fstest.MapFS{"lib/modules/6.1.0/kernel/drivers/net/macvlan.ko.xz": file("")}, nil, Pass, "module installed"},
		{"unknown", fstest.MapFS{}, nil, Warn, "could not tell"},
	}
	for _, tt := range tests {
		r := MacvlanCheck{FS: tt.fs, Release: "6.1.0", Probe: tt.probe}.Run(context.Background())
		if r.Status != tt.want || !strings.Contains(r.Detail, tt.text) {
			t.Errorf("%s: %+v, want %s %q", tt.name, r, tt.want, tt.text)
		}
	}
}

func TestMemoryAndDiskChecks(t *testing.T) {
	mi := fstest.MapFS{"proc/meminfo": file("MemTotal:       16384000 kB\nMemFree:  100 kB\nMemAvailable:    8192000 kB\n")}
	tests := []struct {
		need int
		want Status
	}{{4000, Pass}, {12000, Warn}, {20000, Fail}}
	for _, tt := range tests {
		r := MemoryCheck{FS: mi, NeedMiB: tt.need, For: "the lab"}.Run(context.Background())
		if r.Status != tt.want || !strings.Contains(r.Detail, "8000 MiB available of 16000 MiB") {
			t.Errorf("memory need %d: %+v", tt.need, r)
		}
	}
	if r := (MemoryCheck{FS: fstest.MapFS{}}).Run(context.Background()); r.Status != Warn {
		t.Errorf("no meminfo: %+v", r)
	}
	free := func(string) (uint64, error) { return 10 << 30, nil }
	if r := (DiskCheck{Path: "/d", Free: free, NeedMiB: 5000}).Run(context.Background()); r.Status != Pass || !strings.Contains(r.Detail, "10240 MiB free in /d") {
		t.Errorf("disk: %+v", r)
	}
	if r := (DiskCheck{Path: "/d", Free: free, NeedMiB: 20000}).Run(context.Background()); r.Status != Fail || r.Fix == "" {
		t.Errorf("disk short: %+v", r)
	}
}

// fakeDocker implements DockerAPI in memory.
type fakeDocker struct {
	versionErr  error
	info        system.Info
	images      map[string]bool
	distErr     error
	exitCode    int64
	createErr   error
	created     []*container.Config
	hostConfigs []*container.HostConfig
	removed     []string
}

func (f *fakeDocker) ServerVersion(context.Context) (types.Version, error) {
	return types.Version{Version: "28.0.1", APIVersion: "1.48", Os: "linux", Arch: "amd64", KernelVersion: "6.8"}, f.versionErr
}
func (f *fakeDocker) Info(context.Context) (system.Info, error) { return f.info, f.versionErr }
func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if f.images[ref] {
		return image.InspectResponse{ID: "sha256:0123456789abcdef0123", Size: 900 << 20}, nil
	}
	return image.InspectResponse{}, errors.New("No such image: " + ref)
}
func (f *fakeDocker) DistributionInspect(context.Context, string, string) (registry.DistributionInspect, error) {
	return registry.DistributionInspect{Descriptor: ocispec.Descriptor{Digest: "sha256:feed"}}, f.distErr
}
func (f *fakeDocker) ContainerCreate(_ context.Context, cfg *container.Config, host *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	f.created = append(f.created, cfg)
	f.hostConfigs = append(f.hostConfigs, host)
	return container.CreateResponse{ID: "probe-container-id"}, f.createErr
}
func (f *fakeDocker) ContainerStart(context.Context, string, container.StartOptions) error {
	return nil
}
func (f *fakeDocker) ContainerWait(context.Context, string, container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	ch := make(chan container.WaitResponse, 1)
	ch <- container.WaitResponse{StatusCode: f.exitCode}
	return ch, make(chan error)
}
func (f *fakeDocker) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	f.removed = append(f.removed, id)
	return nil
}

func TestDockerChecks(t *testing.T) {
	ctx := context.Background()
	img := "kindest/node:v1.34.0"
	if r := (EngineCheck{Err: errors.New("no socket")}).Run(ctx); r.Status != Fail || !strings.Contains(r.Fix, "systemctl start docker") {
		t.Errorf("no client: %+v", r)
	}
	if r := (EngineCheck{Docker: &fakeDocker{versionErr: errors.New("refused")}}).Run(ctx); r.Status != Fail {
		t.Errorf("unreachable: %+v", r)
	}
	if r := (EngineCheck{Docker: &fakeDocker{}}).Run(ctx); r.Status != Pass || !strings.Contains(r.Detail, "Docker 28.0.1 (API 1.48") {
		t.Errorf("engine: %+v", r)
	}

	d := &fakeDocker{images: map[string]bool{img: true}}
	r := PrivilegedCheck{Docker: d, NodeImage: img}.Run(ctx)
	if r.Status != Pass || len(d.created) != 1 || !d.hostConfigs[0].Privileged || d.created[0].Labels["dev.testbed.managed"] != "true" ||
		len(d.removed) != 1 {
		t.Errorf("privileged: %+v created=%v removed=%v", r, d.created, d.removed)
	}
	d = &fakeDocker{images: map[string]bool{img: true}, exitCode: 32}
	if r := (PrivilegedCheck{Docker: d, NodeImage: img}).Run(ctx); r.Status != Fail || !strings.Contains(r.Detail, "status 32") || len(d.removed) != 1 {
		t.Errorf("privileged failing: %+v", r)
	}
	d = &fakeDocker{info: system.Info{SecurityOptions: []string{"name=seccomp", "name=userns"}}}
	if r := (PrivilegedCheck{Docker: d, NodeImage: img}).Run(ctx); r.Status != Fail || !strings.Contains(r.Fix, "userns-remap") {
		t.Errorf("userns: %+v", r)
	}
	d = &fakeDocker{info: system.Info{SecurityOptions: []string{"name=rootless"}}, images: map[string]bool{img: true}}
	if r := (PrivilegedCheck{Docker: d, NodeImage: img}).Run(ctx); r.Status != Warn || !strings.Contains(r.Detail, "rootless") {
		t.Errorf("rootless: %+v", r)
	}
	if r := (PrivilegedCheck{Docker: &fakeDocker{}, NodeImage: img}).Run(ctx); r.Status != Warn || !strings.Contains(r.Detail, "not present locally") {
		t.Errorf("absent image: %+v", r)
	}

	if r := (NodeImageCheck{Docker: &fakeDocker{images: map[string]bool{img: true}}, Image: img}).Run(ctx); r.Status != Pass || !strings.Contains(r.Detail, "present locally (0123456789ab, 900 MiB)") {
		t.Errorf("present: %+v", r)
	}
	if r := (NodeImageCheck{Docker: &fakeDocker{}, Image: img}).Run(ctx); r.Status != Pass || !strings.Contains(r.Detail, "pullable") {
		t.Errorf("pullable: %+v", r)
	}
	if r := (NodeImageCheck{Docker: &fakeDocker{distErr: errors.New("no route")}, Image: img}).Run(ctx); r.Status != Fail || !strings.Contains(r.Fix, "TESTBED_NODE_IMAGE") {
		t.Errorf("unavailable: %+v", r)
	}
}

func TestRun(t *testing.T) {
	checks := []Check{
		CheckFunc{"ok", func(context.Context) Result { return Result{Status: Pass, Detail: "fine"} }},
		CheckFunc{"meh", func(context.Context) Result { return Result{Status: Warn, Detail: "hm", Fix: "x"} }},
		CheckFunc{"bad", func(context.Context) Result { return Result{Status: "bogus"} }},
		CheckFunc{"boom", func(context.Context) Result { panic("kaboom") }},
		CheckFunc{"deadline", func(ctx context.Context) Result {
			if _, ok := ctx.Deadline(); !ok {
				return Result{Status: Fail, Detail: "no deadline"}
			}
			return Result{Status: Pass}
		}},
	}
	r := Run(context.Background(), checks, time.Minute)
	if r.Passed != 2 || r.Warned != 1 || r.Failed != 2 || r.OK() {
		t.Fatalf("report %+v", r)
	}
	if r.Checks[3].Status != Fail || !strings.Contains(r.Checks[3].Detail, "kaboom") {
		t.Errorf("panic not reported: %+v", r.Checks[3])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := Run(ctx, checks[:1], 0); r.Failed != 1 {
		t.Errorf("cancelled run: %+v", r)
	}
}
