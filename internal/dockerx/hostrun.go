package dockerx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// LabelHelper names a helper container's job (HostRun.Name); with
// dev.testbed.managed=true it finds helpers left behind.
const LabelHelper = "dev.testbed.helper"

// labelManaged marks every Docker object testbed makes (as
// dockernet.LabelManaged).
const labelManaged = "dev.testbed.managed"

// helperRemoveTimeout bounds the removal of a helper container, which also
// runs after the caller's context ended.
const helperRemoveTimeout = 15 * time.Second

// HostRunAPI is the subset of the Docker client needed to run a helper
// container on a Docker host.
type HostRunAPI interface {
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerAttach(ctx context.Context, container string, options container.AttachOptions) (types.HijackedResponse, error)
	ContainerStart(ctx context.Context, container string, options container.StartOptions) error
	ContainerWait(ctx context.Context, container string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerLogs(ctx context.Context, container string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerRemove(ctx context.Context, container string, options container.RemoveOptions) error
}

// HostRun is a helper container: a command run in the network namespace
// of a Docker host (host networking) with CAP_NET_ADMIN.
type HostRun struct {
	// Name names the helper in its dev.testbed.helper label and in errors.
	Name string
	// Image to run; its entrypoint stays (for the testbed image, Cmd are
	// the arguments of /testbed).
	Image string
	Cmd   []string
	// Stdin, when not nil, is the command's standard input, closed after
	// it (RunOnHost only).
	Stdin []byte
	// Privileged runs the helper privileged (beyond CAP_NET_ADMIN).
	Privileged bool
	// User runs the command; empty is root ("0"), which the capabilities
	// need (the testbed image's own user is 65532).
	User string
	// Labels are added to the helper's (dev.testbed.managed=true and
	// dev.testbed.helper=Name).
	Labels map[string]string
	// Ready (StartOnHost only): StartOnHost returns once the helper's
	// standard output contains it; empty returns once it started.
	Ready string
}

func (o HostRun) check() error {
	switch {
	case o.Name == "":
		return errors.New("helper container: no name")
	case o.Image == "":
		return fmt.Errorf("helper %s: no image", o.Name)
	}
	return nil
}

// where names the helper container in errors.
func (o HostRun) where(id string) string {
	return fmt.Sprintf("helper %s (container %s)", o.Name, shortID(id))
}

func shortID(id string) string { return id[:min(12, len(id))] }

// createHelper creates the helper container and returns its ID.
func createHelper(ctx context.Context, api HostRunAPI, o HostRun, autoRemove bool) (string, error) {
	labels := map[string]string{}
	for k, v := range o.Labels {
		labels[k] = v
	}
	labels[labelManaged], labels[LabelHelper] = "true", o.Name
	user := o.User
	if user == "" {
		user = "0"
	}
	stdin := o.Stdin != nil
	created, err := api.ContainerCreate(ctx,
		&container.Config{
			Image: o.Image, Cmd: o.Cmd, User: user, Labels: labels,
			AttachStdin: stdin, OpenStdin: stdin, StdinOnce: stdin, AttachStdout: true, AttachStderr: true,
		},
		&container.HostConfig{
			NetworkMode: "host", CapAdd: []string{"NET_ADMIN"}, Privileged: o.Privileged, AutoRemove: autoRemove,
			LogConfig: container.LogConfig{Type: "json-file"},
		}, nil, nil, "")
	if err != nil {
		return "", fmt.Errorf("helper %s: creating a container from %s: %w", o.Name, o.Image, err)
	}
	return created.ID, nil
}

// removeHelper force-removes the helper, also after ctx ended (bounded by
// helperRemoveTimeout). A helper already gone (auto-removed) is no error.
func removeHelper(ctx context.Context, api HostRunAPI, o HostRun, id string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), helperRemoveTimeout)
	defer cancel()
	err := api.ContainerRemove(rctx, id, container.RemoveOptions{Force: true})
	if err == nil || cerrdefs.IsNotFound(err) || (cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress")) {
		return nil
	}
	return fmt.Errorf("%s: removing: %w", o.where(id), err)
}

// RunOnHost runs o to its end in a new container with host networking,
// CAP_NET_ADMIN (and privileges when o.Privileged), labelled
// dev.testbed.managed=true and dev.testbed.helper=o.Name, feeds it
// o.Stdin, and returns its standard output and error (from its logs). The
// container is removed in every case, also when ctx ends. A non-zero exit
// is an *ExecError carrying both outputs.
func RunOnHost(ctx context.Context, api HostRunAPI, o HostRun) (stdout, stderr []byte, err error) {
	if err := o.check(); err != nil {
		return nil, nil, err
	}
	id, err := createHelper(ctx, api, o, false)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if rerr := removeHelper(ctx, api, o, id); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	var feed *stdinFeed
	if o.Stdin != nil {
		att, err := api.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: attaching its standard input: %w", o.where(id), err)
		}
		feed = &stdinFeed{att: att, done: make(chan error, 1)}
	}
	waitC, errC := api.ContainerWait(ctx, id, container.WaitConditionNextExit)
	if err := api.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		feed.close()
		return nil, nil, fmt.Errorf("%s: starting: %w", o.where(id), err)
	}
	feed.start(o.Stdin)
	code, err := awaitExit(ctx, waitC, errC)
	werr := feed.close()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: waiting for %q: %w", o.where(id), strings.Join(o.Cmd, " "), err)
	}
	stdout, stderr, err = helperLogs(ctx, api, id)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", o.where(id), err)
	}
	if code != 0 {
		return stdout, stderr, &ExecError{Container: o.where(id), Cmd: o.Cmd, ExitCode: code, Stdout: string(stdout), Stderr: string(stderr)}
	}
	if werr != nil {
		return stdout, stderr, fmt.Errorf("%s: writing its standard input: %w", o.where(id), werr)
	}
	return stdout, stderr, nil
}

// stdinFeed writes a helper's standard input through its attach stream.
// A nil *stdinFeed does nothing.
type stdinFeed struct {
	att     types.HijackedResponse
	done    chan error
	started bool
}

func (f *stdinFeed) start(b []byte) {
	if f == nil {
		return
	}
	f.started = true
	go func() {
		_, err := f.att.Conn.Write(b)
		if cerr := f.att.CloseWrite(); err == nil {
			err = cerr
		}
		f.done <- err
	}()
}

// close ends the stream (unblocking a write the helper never read) and
// returns the write's error.
func (f *stdinFeed) close() error {
	if f == nil {
		return nil
	}
	f.att.Close()
	if !f.started {
		return nil
	}
	return <-f.done
}

// awaitExit returns the exit code of a container being waited on.
func awaitExit(ctx context.Context, waitC <-chan container.WaitResponse, errC <-chan error) (int, error) {
	select {
	case w := <-waitC:
		if w.Error != nil && w.Error.Message != "" {
			return 0, errors.New(w.Error.Message)
		}
		return int(w.StatusCode), nil
	case err := <-errC:
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// helperLogs reads an exited container's standard output and error.
func helperLogs(ctx context.Context, api HostRunAPI, id string) ([]byte, []byte, error) {
	rc, err := api.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return nil, nil, fmt.Errorf("reading its output: %w", err)
	}
	defer rc.Close()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, rc); err != nil {
		return out.Bytes(), errb.Bytes(), fmt.Errorf("reading its output: %w", err)
	}
	return out.Bytes(), errb.Bytes(), nil
}

// StartOnHost starts o as a long-running helper (host networking,
// CAP_NET_ADMIN, the labels of RunOnHost; removed by Docker when it
// exits) and returns once it runs, or once its standard output contains
// o.Ready when that is set. stop removes it (force, also after ctx ended);
// calling it again is harmless. A helper that exits before it is ready is
// an *ExecError with its output, and is removed.
func StartOnHost(ctx context.Context, api HostRunAPI, o HostRun) (stop func() error, err error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Stdin != nil {
		return nil, fmt.Errorf("helper %s: StartOnHost takes no standard input", o.Name)
	}
	id, err := createHelper(ctx, api, o, true)
	if err != nil {
		return nil, err
	}
	stop = func() error { return removeHelper(ctx, api, o, id) }
	fail := func(err error) (func() error, error) {
		if rerr := stop(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	var att types.HijackedResponse
	if o.Ready != "" {
		if att, err = api.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true}); err != nil {
			return fail(fmt.Errorf("%s: attaching its output: %w", o.where(id), err))
		}
		defer att.Close()
	}
	waitC, errC := api.ContainerWait(ctx, id, container.WaitConditionNextExit)
	if err := api.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fail(fmt.Errorf("%s: starting: %w", o.where(id), err))
	}
	if o.Ready == "" {
		return stop, nil
	}
	if err := awaitReady(ctx, att, o, id, waitC, errC); err != nil {
		return fail(err)
	}
	return stop, nil
}

// awaitReady reads the helper's output until o.Ready appears on its
// standard output, it exits, or ctx ends.
func awaitReady(ctx context.Context, att types.HijackedResponse, o HostRun, id string, waitC <-chan container.WaitResponse, errC <-chan error) error {
	rw := &readyWriter{want: []byte(o.Ready), ready: make(chan struct{})}
	var errb bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(rw, &errb, att.Reader)
		copied <- err
	}()
	select {
	case <-rw.ready:
		att.Close()
		<-copied
		return nil
	case <-ctx.Done():
		att.Close()
		<-copied
		return fmt.Errorf("%s: waiting for %q: %w", o.where(id), o.Ready, ctx.Err())
	case <-copied:
		// The stream ended: the helper exited before it was ready.
	}
	code, err := awaitExit(ctx, waitC, errC)
	if err != nil {
		return fmt.Errorf("%s: exited before it printed %q: %w", o.where(id), o.Ready, err)
	}
	return fmt.Errorf("exited before it printed %q: %w", o.Ready,
		&ExecError{Container: o.where(id), Cmd: o.Cmd, ExitCode: code, Stdout: rw.String(), Stderr: errb.String()})
}

// readyWriter collects a stream and closes ready once it contains want.
type readyWriter struct {
	want  []byte
	ready chan struct{}
	mu    sync.Mutex
	buf   bytes.Buffer
	seen  bool
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.seen && bytes.Contains(w.buf.Bytes(), w.want) {
		w.seen = true
		close(w.ready)
	}
	return len(p), nil
}

func (w *readyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
