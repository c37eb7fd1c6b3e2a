package dockerx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const helperID = "4e1f0c9a7b3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f"

// fakeHost plays the Docker engine for one helper container. The
// "container" exits (with code) once it has read its standard input to
// EOF when it has one, at once after start otherwise, unless it runs
// until removed (running). Its output is stdout and stderr; with
// standard input, stdout is "out:" + what it read.
type fakeHost struct {
	code           int
	stdout, stderr string
	running        bool  // never exits by itself
	createErr      error // ContainerCreate fails
	startErr       error
	removeErr      error

	mu       sync.Mutex
	config   *container.Config
	host     *container.HostConfig
	stdin    []byte
	exited   chan struct{}
	exitOnce sync.Once
	removed  []removal
}

type removal struct {
	id    string
	force bool
	ctxOK bool // the context was live when Remove was called
}

func newFakeHost() *fakeHost { return &fakeHost{exited: make(chan struct{})} }

func (f *fakeHost) exit() { f.exitOnce.Do(func() { close(f.exited) }) }

func (f *fakeHost) ContainerCreate(_ context.Context, c *container.Config, h *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.config, f.host = c, h
	if f.createErr != nil {
		return container.CreateResponse{}, f.createErr
	}
	return container.CreateResponse{ID: helperID}, nil
}

// ContainerAttach serves the hijacked stream over loopback TCP (it has
// the half close the stream relies on).
func (f *fakeHost) ContainerAttach(_ context.Context, _ string, o container.AttachOptions) (types.HijackedResponse, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return types.HijackedResponse{}, err
	}
	go func() {
		defer l.Close()
		server, err := l.Accept()
		if err != nil {
			return
		}
		defer server.Close()
		if o.Stdin {
			in, _ := io.ReadAll(server)
			f.mu.Lock()
			f.stdin = in
			f.mu.Unlock()
			if !f.running {
				f.exit()
			}
			return
		}
		_, _ = stdcopy.NewStdWriter(server, stdcopy.Stdout).Write([]byte(f.stdout))
		if f.stderr != "" {
			_, _ = stdcopy.NewStdWriter(server, stdcopy.Stderr).Write([]byte(f.stderr))
		}
		if f.running {
			_, _ = io.Copy(io.Discard, server) // until the client detaches
		}
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return types.HijackedResponse{}, err
	}
	return types.NewHijackedResponse(conn, ""), nil
}

func (f *fakeHost) ContainerStart(context.Context, string, container.StartOptions) error {
	if f.startErr != nil {
		return f.startErr
	}
	if !f.running && !f.config.OpenStdin {
		f.exit()
	}
	return nil
}

func (f *fakeHost) ContainerWait(ctx context.Context, _ string, cond container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	waitC, errC := make(chan container.WaitResponse, 1), make(chan error, 1)
	if cond != container.WaitConditionNextExit {
		errC <- errors.New("want next-exit")
		return waitC, errC
	}
	go func() {
		select {
		case <-f.exited:
			waitC <- container.WaitResponse{StatusCode: int64(f.code)}
		case <-ctx.Done():
			errC <- ctx.Err()
		}
	}()
	return waitC, errC
}

func (f *fakeHost) ContainerLogs(context.Context, string, container.LogsOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b bytes.Buffer
	out := f.stdout
	if f.config.OpenStdin {
		out = "out:" + string(f.stdin)
	}
	_, _ = stdcopy.NewStdWriter(&b, stdcopy.Stdout).Write([]byte(out))
	if f.stderr != "" {
		_, _ = stdcopy.NewStdWriter(&b, stdcopy.Stderr).Write([]byte(f.stderr))
	}
	return io.NopCloser(&b), nil
}

func (f *fakeHost) ContainerRemove(ctx context.Context, id string, o container.RemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, removal{id: id, force: o.Force, ctxOK: ctx.Err() == nil})
	f.exit()
	return f.removeErr
}

func (f *fakeHost) removals() []removal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]removal(nil), f.removed...)
}

var wantRemoved = []removal{{id: helperID, force: true, ctxOK: true}}

func TestRunOnHost(t *testing.T) {
	base := HostRun{Name: "l2-ensure", Image: "testbed.local/reference-agent:abc", Cmd: []string{"l2", "ensure"}}
	for _, tc := range []struct {
		name           string
		run            func(*HostRun)
		fake           func(*fakeHost)
		wantOut        string
		wantErrOut     string
		wantErr        string
		wantExit       int
		wantCreateOnly bool
	}{
		{name: "stdin in, stdout out", run: func(o *HostRun) { o.Stdin = []byte(`{"vni":42}`) }, wantOut: `out:{"vni":42}`},
		{name: "empty stdin is still closed", run: func(o *HostRun) { o.Stdin = []byte{} }, wantOut: "out:"},
		{name: "no stdin, both outputs", fake: func(f *fakeHost) { f.stdout, f.stderr = `{"removed":true}`, "warn\n" },
			wantOut: `{"removed":true}`, wantErrOut: "warn\n"},
		{name: "non-zero exit is an ExecError with stderr", fake: func(f *fakeHost) { f.code, f.stderr = 2, "testbed: spec on standard input: EOF\n" },
			wantErr: `helper l2-ensure (container 4e1f0c9a7b3d): "l2 ensure" exited 2: testbed: spec on standard input: EOF`, wantExit: 2,
			wantErrOut: "testbed: spec on standard input: EOF\n"},
		{name: "start fails, still removed", fake: func(f *fakeHost) { f.startErr = errors.New("image has no /testbed") },
			wantErr: "helper l2-ensure (container 4e1f0c9a7b3d): starting: image has no /testbed"},
		{name: "removal fails after success", fake: func(f *fakeHost) { f.removeErr = errors.New("engine gone") },
			wantOut: "", wantErr: "removing: engine gone"},
		{name: "already removed is fine", fake: func(f *fakeHost) { f.removeErr = cerrdefs.ErrNotFound.WithMessage("No such container") }},
		{name: "create fails", fake: func(f *fakeHost) { f.createErr = errors.New("no such image") },
			wantErr: "helper l2-ensure: creating a container from testbed.local/reference-agent:abc: no such image", wantCreateOnly: true},
		{name: "no image", run: func(o *HostRun) { o.Image = "" }, wantErr: "helper l2-ensure: no image", wantCreateOnly: true},
		{name: "no name", run: func(o *HostRun) { o.Name = "" }, wantErr: "helper container: no name", wantCreateOnly: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			if tc.run != nil {
				tc.run(&o)
			}
			f := newFakeHost()
			if tc.fake != nil {
				tc.fake(f)
			}
			out, errOut, err := RunOnHost(context.Background(), f, o)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			var ee *ExecError
			if got := errors.As(err, &ee); got != (tc.wantExit != 0) || got && ee.ExitCode != tc.wantExit {
				t.Errorf("ExecError = %v (%+v), want exit %d", got, ee, tc.wantExit)
			}
			if string(out) != tc.wantOut || string(errOut) != tc.wantErrOut {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out, errOut, tc.wantOut, tc.wantErrOut)
			}
			if tc.wantCreateOnly {
				if r := f.removals(); len(r) != 0 {
					t.Errorf("removed %v, but nothing was created", r)
				}
				return
			}
			if d := cmp.Diff(wantRemoved, f.removals(), cmp.AllowUnexported(removal{})); d != "" {
				t.Errorf("removals (-want +got):\n%s", d)
			}
		})
	}
}

// TestRunOnHostConfig pins the helper's container: host network,
// NET_ADMIN, root, labels, json-file logs, kept until read.
func TestRunOnHostConfig(t *testing.T) {
	f := newFakeHost()
	o := HostRun{Name: "l2-ensure", Image: "img", Cmd: []string{"l2", "ensure"}, Stdin: []byte("{}"), Privileged: true,
		Labels: map[string]string{"dev.testbed.topology": "lab1", LabelHelper: "overridden"}}
	if _, _, err := RunOnHost(context.Background(), f, o); err != nil {
		t.Fatal(err)
	}
	wantCfg := &container.Config{Image: "img", Cmd: []string{"l2", "ensure"}, User: "0",
		Labels:      map[string]string{"dev.testbed.managed": "true", "dev.testbed.helper": "l2-ensure", "dev.testbed.topology": "lab1"},
		AttachStdin: true, OpenStdin: true, StdinOnce: true, AttachStdout: true, AttachStderr: true}
	if d := cmp.Diff(wantCfg, f.config); d != "" {
		t.Errorf("container config (-want +got):\n%s", d)
	}
	wantHost := &container.HostConfig{NetworkMode: "host", CapAdd: []string{"NET_ADMIN"}, Privileged: true, AutoRemove: false,
		LogConfig: container.LogConfig{Type: "json-file"}}
	if d := cmp.Diff(wantHost, f.host); d != "" {
		t.Errorf("host config (-want +got):\n%s", d)
	}
	if o.Labels[LabelHelper] != "overridden" {
		t.Error("RunOnHost changed the caller's labels")
	}
	f2 := newFakeHost()
	if _, _, err := RunOnHost(context.Background(), f2, HostRun{Name: "x", Image: "img", User: "65532"}); err != nil {
		t.Fatal(err)
	}
	if f2.config.User != "65532" || f2.config.OpenStdin || f2.host.Privileged {
		t.Errorf("config %+v / %+v: want the given user, no stdin, unprivileged", f2.config, f2.host)
	}
}

// TestRunOnHostCancel: a helper that never ends is abandoned when ctx
// ends, and removed with a live context.
func TestRunOnHostCancel(t *testing.T) {
	for _, stdin := range [][]byte{nil, []byte("spec")} {
		f := newFakeHost()
		f.running = true
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, _, err := RunOnHost(ctx, f, HostRun{Name: "l2-listen", Image: "img", Cmd: []string{"l2", "listen"}, Stdin: stdin})
			done <- err
		}()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("stdin %q: err = %v, want context.Canceled", stdin, err)
		}
		if d := cmp.Diff(wantRemoved, f.removals(), cmp.AllowUnexported(removal{})); d != "" {
			t.Errorf("stdin %q: removals (-want +got):\n%s", stdin, d)
		}
	}
}

func TestStartOnHost(t *testing.T) {
	listen := HostRun{Name: "l2-listen", Image: "img", Cmd: []string{"l2", "listen", "0.0.0.0:4790"}, Ready: `"listening"`}
	for _, tc := range []struct {
		name     string
		run      func(*HostRun)
		fake     func(*fakeHost)
		wantErr  string
		wantExit int
		execErr  bool // an *ExecError (exit code wantExit)
		started  bool // returned a stop func
	}{
		{name: "ready line", fake: func(f *fakeHost) { f.running, f.stdout = true, `{"listening":"0.0.0.0:4790"}`+"\n" }, started: true},
		{name: "no ready string: returns once started", run: func(o *HostRun) { o.Ready = "" }, fake: func(f *fakeHost) { f.running = true }, started: true},
		{name: "exits before ready", fake: func(f *fakeHost) {
			f.code, f.stderr = 1, "testbed: listening on udp 0.0.0.0:4790: address already in use\n"
		},
			wantErr:  `exited before it printed "\"listening\"": helper l2-listen (container 4e1f0c9a7b3d): "l2 listen 0.0.0.0:4790" exited 1: testbed: listening on udp 0.0.0.0:4790: address already in use`,
			wantExit: 1, execErr: true},
		{name: "exits 0 without the line", fake: func(f *fakeHost) { f.stdout = "something else\n" }, wantErr: "exited 0: something else", execErr: true},
		{name: "start fails", fake: func(f *fakeHost) { f.startErr = errors.New("port taken") }, wantErr: "starting: port taken"},
		{name: "stdin refused", run: func(o *HostRun) { o.Stdin = []byte("x") }, wantErr: "StartOnHost takes no standard input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := listen
			if tc.run != nil {
				tc.run(&o)
			}
			f := newFakeHost()
			if tc.fake != nil {
				tc.fake(f)
			}
			stop, err := StartOnHost(context.Background(), f, o)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			var ee *ExecError
			if got := errors.As(err, &ee); got != tc.execErr || got && ee.ExitCode != tc.wantExit {
				t.Errorf("ExecError = %v (%+v), want exit %d", got, ee, tc.wantExit)
			}
			if (stop != nil) != tc.started {
				t.Fatalf("stop func = %v, want %v", stop != nil, tc.started)
			}
			if stop != nil {
				if r := f.removals(); len(r) != 0 {
					t.Fatalf("removed before stop: %v", r)
				}
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				if !f.host.AutoRemove || f.host.NetworkMode != "host" || f.config.Labels[LabelHelper] != "l2-listen" {
					t.Errorf("config %+v / %+v: want auto-removed, host network, helper label", f.config, f.host)
				}
			}
			want := wantRemoved
			if o.Stdin != nil {
				want = nil
			}
			if d := cmp.Diff(want, f.removals(), cmp.AllowUnexported(removal{}), cmpEmpty); d != "" {
				t.Errorf("removals (-want +got):\n%s", d)
			}
		})
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []removal) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return cmp.Equal(a, b, cmp.AllowUnexported(removal{}))
})

// TestStartOnHostCancel: waiting for a helper that never gets ready ends
// with ctx, and the helper is removed.
func TestStartOnHostCancel(t *testing.T) {
	f := newFakeHost()
	f.running, f.stdout = true, "starting...\n"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := StartOnHost(ctx, f, HostRun{Name: "l2-listen", Image: "img", Ready: "listening"})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := cmp.Diff(wantRemoved, f.removals(), cmp.AllowUnexported(removal{})); d != "" {
		t.Errorf("removals (-want +got):\n%s", d)
	}
}
