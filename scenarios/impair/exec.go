package impair

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Executor runs a command inside a KinD node container (or, for Local, on
// this host). It returns the command's stdout and stderr; a non-zero exit is
// an *ExecError carrying both.
type Executor interface {
	Exec(ctx context.Context, node string, cmd []string, stdin io.Reader) (stdout, stderr []byte, err error)
}

// ExecError is a command that ran and exited non-zero (or could not start).
type ExecError struct {
	Node     string
	Cmd      []string
	ExitCode int
	Stderr   string
}

func (e *ExecError) Error() string {
	where := "host"
	if e.Node != "" {
		where = "node " + e.Node
	}
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = "no output"
	}
	return fmt.Sprintf("%s: %q exited %d: %s", where, strings.Join(e.Cmd, " "), e.ExitCode, msg)
}

// dockerAPI is the part of the Docker client the executor needs.
type dockerAPI interface {
	ContainerExecCreate(ctx context.Context, container string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecAttach(ctx context.Context, execID string, config container.ExecAttachOptions) (hijacked, error)
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
}

// hijacked is the subset of types.HijackedResponse used here.
type hijacked interface {
	Reader() io.Reader
	CloseWrite() error
	Write(p []byte) (int, error)
	Close()
}

// Docker executes commands in node containers through the Docker API.
type Docker struct {
	api dockerAPI
}

var _ Executor = (*Docker)(nil)

// NewDocker returns an Executor over a Docker client (API version negotiated
// with the daemon, environment honoured: DOCKER_HOST etc.). Close it when
// done.
func NewDocker() (*Docker, *client.Client, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, nil, fmt.Errorf("docker client: %w", err)
	}
	return &Docker{api: clientAdapter{c}}, c, nil
}

// NewDockerFromClient wraps an existing Docker client.
func NewDockerFromClient(c *client.Client) *Docker {
	return &Docker{api: clientAdapter{c}}
}

// Exec runs cmd in the node container and waits for it (or for ctx).
func (d *Docker) Exec(ctx context.Context, node string, cmd []string, stdin io.Reader) ([]byte, []byte, error) {
	created, err := d.api.ContainerExecCreate(ctx, node, container.ExecOptions{
		Cmd:          cmd,
		AttachStdin:  stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("node %s: create exec %q: %w", node, strings.Join(cmd, " "), err)
	}
	resp, err := d.api.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("node %s: attach exec %q: %w", node, strings.Join(cmd, " "), err)
	}
	defer resp.Close()

	// Unblock the copy when ctx ends.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			resp.Close()
		case <-done:
		}
	}()

	if stdin != nil {
		if _, err := io.Copy(resp, stdin); err != nil {
			return nil, nil, fmt.Errorf("node %s: write stdin of %q: %w", node, strings.Join(cmd, " "), err)
		}
		if err := resp.CloseWrite(); err != nil {
			return nil, nil, fmt.Errorf("node %s: close stdin of %q: %w", node, strings.Join(cmd, " "), err)
		}
	}
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, resp.Reader()); err != nil {
		if ctx.Err() != nil {
			return out.Bytes(), errb.Bytes(), fmt.Errorf("node %s: %q: %w", node, strings.Join(cmd, " "), ctx.Err())
		}
		return out.Bytes(), errb.Bytes(), fmt.Errorf("node %s: read output of %q: %w", node, strings.Join(cmd, " "), err)
	}
	ins, err := d.api.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return out.Bytes(), errb.Bytes(), fmt.Errorf("node %s: inspect exec %q: %w", node, strings.Join(cmd, " "), err)
	}
	if ins.ExitCode != 0 {
		return out.Bytes(), errb.Bytes(), &ExecError{Node: node, Cmd: cmd, ExitCode: ins.ExitCode, Stderr: errb.String()}
	}
	return out.Bytes(), errb.Bytes(), nil
}

type clientAdapter struct{ c *client.Client }

func (a clientAdapter) ContainerExecCreate(ctx context.Context, ctr string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	return a.c.ContainerExecCreate(ctx, ctr, o)
}

func (a clientAdapter) ContainerExecAttach(ctx context.Context, id string, o container.ExecAttachOptions) (hijacked, error) {
	r, err := a.c.ContainerExecAttach(ctx, id, o)
	if err != nil {
		return nil, err
	}
	return hijackAdapter{r: &r}, nil
}

func (a clientAdapter) ContainerExecInspect(ctx context.Context, id string) (container.ExecInspect, error) {
	return a.c.ContainerExecInspect(ctx, id)
}

type hijackAdapter struct{ r *types.HijackedResponse }

func (h hijackAdapter) Reader() io.Reader           { return h.r.Reader }
func (h hijackAdapter) CloseWrite() error           { return h.r.CloseWrite() }
func (h hijackAdapter) Write(p []byte) (int, error) { return h.r.Conn.Write(p) }
func (h hijackAdapter) Close()                      { h.r.Close() }

// Local runs commands on this host; the node argument is ignored. It is used
// by doctor (probing the host kernel) and the integration tests.
type Local struct{}

var _ Executor = Local{}

// Exec runs cmd on the host.
func (Local) Exec(ctx context.Context, _ string, cmd []string, stdin io.Reader) ([]byte, []byte, error) {
	if len(cmd) == 0 {
		return nil, nil, errors.New("empty command")
	}
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Stdin = stdin
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.Bytes(), errb.Bytes(), &ExecError{Cmd: cmd, ExitCode: ee.ExitCode(), Stderr: errb.String()}
	case err != nil:
		return out.Bytes(), errb.Bytes(), &ExecError{Cmd: cmd, ExitCode: -1, Stderr: err.Error()}
	}
	return out.Bytes(), errb.Bytes(), nil
}
