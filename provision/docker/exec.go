package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// ExecError is a command that ran and failed; it carries the output.
type ExecError struct {
	Container string
	Cmd       []string
	ExitCode  int
	Output    string
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("%s: %q exited %d: %s", e.Container, strings.Join(e.Cmd, " "), e.ExitCode, strings.TrimSpace(e.Output))
}

// Exec runs cmd in the container, streaming stdin (when not nil) into it,
// and returns its stdout. A non-zero exit is an *ExecError with stderr.
func Exec(ctx context.Context, api ExecAPI, containerName string, cmd []string, stdin io.Reader) ([]byte, error) {
	created, err := api.ContainerExecCreate(ctx, containerName, container.ExecOptions{
		Cmd: cmd, AttachStdin: stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: exec %q: %w", containerName, strings.Join(cmd, " "), err)
	}
	att, err := api.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: attach %q: %w", containerName, strings.Join(cmd, " "), err)
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
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %q: %w", containerName, strings.Join(cmd, " "), ctx.Err())
		}
		return nil, fmt.Errorf("%s: reading output of %q: %w", containerName, strings.Join(cmd, " "), err)
	}
	if err := <-copyErr; err != nil {
		return nil, fmt.Errorf("%s: streaming input to %q: %w", containerName, strings.Join(cmd, " "), err)
	}
	insp, err := api.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return nil, fmt.Errorf("%s: inspecting exec %q: %w", containerName, strings.Join(cmd, " "), err)
	}
	if insp.ExitCode != 0 {
		return stdout.Bytes(), &ExecError{Container: containerName, Cmd: cmd, ExitCode: insp.ExitCode, Output: stderr.String() + stdout.String()}
	}
	return stdout.Bytes(), nil
}
