package dockerx

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
	"github.com/docker/docker/pkg/stdcopy"
)

// ExecAPI is the subset of the Docker client needed to run a command in a
// container through the Engine API (no docker CLI).
type ExecAPI interface {
	ContainerExecCreate(ctx context.Context, containerID string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecAttach(ctx context.Context, execID string, config container.ExecAttachOptions) (types.HijackedResponse, error)
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
}

// ExecError is a command that ran and exited non-zero, or could not start
// on the host (ExitCode -1). It carries the command's output.
type ExecError struct {
	// Container is where the command ran; empty for the host.
	Container string
	Cmd       []string
	ExitCode  int
	Stdout    string
	Stderr    string
}

func (e *ExecError) Error() string {
	where := "host"
	if e.Container != "" {
		where = e.Container
	}
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = strings.TrimSpace(e.Stdout)
	}
	if msg == "" {
		msg = "no output"
	}
	return fmt.Sprintf("%s: %q exited %d: %s", where, strings.Join(e.Cmd, " "), e.ExitCode, msg)
}

// Exec runs cmd in the container, streaming stdin (when not nil) into it,
// and returns its stdout and stderr. A non-zero exit is an *ExecError that
// carries both. When ctx ends the stream is closed and Exec returns.
func Exec(ctx context.Context, api ExecAPI, containerName string, cmd []string, stdin io.Reader) (stdout, stderr []byte, err error) {
	what := strings.Join(cmd, " ")
	created, err := api.ContainerExecCreate(ctx, containerName, container.ExecOptions{
		Cmd: cmd, AttachStdin: stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: exec %q: %w", containerName, what, err)
	}
	att, err := api.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: attach %q: %w", containerName, what, err)
	}
	defer att.Close()
	// Close the connection when ctx ends so a blocked copy returns.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	copyErr := make(chan error, 1)
	if stdin != nil {
		go func() {
			_, err := io.Copy(att.Conn, stdin)
			if cerr := att.CloseWrite(); err == nil {
				err = cerr
			}
			copyErr <- err
		}()
	} else {
		copyErr <- nil
	}
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, att.Reader); err != nil {
		if ctx.Err() != nil {
			return out.Bytes(), errb.Bytes(), fmt.Errorf("%s: %q: %w", containerName, what, ctx.Err())
		}
		return out.Bytes(), errb.Bytes(), fmt.Errorf("%s: reading output of %q: %w", containerName, what, err)
	}
	if err := <-copyErr; err != nil {
		return out.Bytes(), errb.Bytes(), fmt.Errorf("%s: streaming input to %q: %w", containerName, what, err)
	}
	insp, err := api.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return out.Bytes(), errb.Bytes(), fmt.Errorf("%s: inspecting exec %q: %w", containerName, what, err)
	}
	if insp.ExitCode != 0 {
		return out.Bytes(), errb.Bytes(), &ExecError{Container: containerName, Cmd: cmd, ExitCode: insp.ExitCode,
			Stdout: out.String(), Stderr: errb.String()}
	}
	return out.Bytes(), errb.Bytes(), nil
}

// Executor runs a command in a KinD node container (or, for Local, on this
// host). A non-zero exit is an *ExecError.
type Executor interface {
	Exec(ctx context.Context, node string, cmd []string, stdin io.Reader) (stdout, stderr []byte, err error)
}

// Nodes is the Executor over a Docker engine: node is the container name.
type Nodes struct{ API ExecAPI }

var _ Executor = Nodes{}

// Exec implements Executor.
func (n Nodes) Exec(ctx context.Context, node string, cmd []string, stdin io.Reader) ([]byte, []byte, error) {
	return Exec(ctx, n.API, node, cmd, stdin)
}

// Local runs commands on this host; the node argument is ignored. doctor
// uses it to probe the host kernel, and the integration tests to act on
// network namespaces.
type Local struct{}

var _ Executor = Local{}

// Exec implements Executor.
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
		return out.Bytes(), errb.Bytes(), &ExecError{Cmd: cmd, ExitCode: ee.ExitCode(), Stdout: out.String(), Stderr: errb.String()}
	case err != nil:
		return out.Bytes(), errb.Bytes(), &ExecError{Cmd: cmd, ExitCode: -1, Stderr: err.Error()}
	}
	return out.Bytes(), errb.Bytes(), nil
}
