package impair

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-cmp/cmp"
)

// fakeDocker serves one exec: it records the options and stdin and answers
// with multiplexed stdout/stderr and an exit code.
type fakeDocker struct {
	opts     container.ExecOptions
	node     string
	stdout   string
	stderr   string
	exit     int
	stdin    bytes.Buffer
	closedWr bool
}

func (f *fakeDocker) ContainerExecCreate(_ context.Context, node string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	f.node, f.opts = node, o
	if node == "missing" {
		return container.ExecCreateResponse{}, errors.New("No such container: missing")
	}
	return container.ExecCreateResponse{ID: "exec1"}, nil
}

func (f *fakeDocker) ContainerExecAttach(context.Context, string, container.ExecAttachOptions) (hijacked, error) {
	var mux bytes.Buffer
	_, _ = stdcopy.NewStdWriter(&mux, stdcopy.Stdout).Write([]byte(f.stdout))
	_, _ = stdcopy.NewStdWriter(&mux, stdcopy.Stderr).Write([]byte(f.stderr))
	return &fakeConn{f: f, r: &mux}, nil
}

func (f *fakeDocker) ContainerExecInspect(context.Context, string) (container.ExecInspect, error) {
	return container.ExecInspect{ExitCode: f.exit}, nil
}

type fakeConn struct {
	f *fakeDocker
	r io.Reader
}

func (c *fakeConn) Reader() io.Reader           { return c.r }
func (c *fakeConn) CloseWrite() error           { c.f.closedWr = true; return nil }
func (c *fakeConn) Write(p []byte) (int, error) { return c.f.stdin.Write(p) }
func (c *fakeConn) Close()                      {}

func TestDockerExec(t *testing.T) {
	ctx := context.Background()
	t.Run("ok with stdin", func(t *testing.T) {
		f := &fakeDocker{stdout: "out\n", stderr: "warn\n"}
		d := &Docker{api: f}
		out, errb, err := d.Exec(ctx, "n1", []string{"nft", "-f", "-"}, strings.NewReader("table netdev x\n"))
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != "out\n" || string(errb) != "warn\n" {
			t.Errorf("stdout %q stderr %q", out, errb)
		}
		want := container.ExecOptions{Cmd: []string{"nft", "-f", "-"}, AttachStdin: true, AttachStdout: true, AttachStderr: true}
		if d := cmp.Diff(want, f.opts); d != "" || f.node != "n1" {
			t.Errorf("exec options on %q (-want +got):\n%s", f.node, d)
		}
		if f.stdin.String() != "table netdev x\n" || !f.closedWr {
			t.Errorf("stdin %q, closed %v", f.stdin.String(), f.closedWr)
		}
	})
	t.Run("non-zero exit", func(t *testing.T) {
		f := &fakeDocker{stderr: "Error: Specified qdisc kind is unknown.\n", exit: 2}
		_, _, err := (&Docker{api: f}).Exec(ctx, "n1", []string{"tc", "qdisc"}, nil)
		var ee *ExecError
		if !errors.As(err, &ee) || ee.ExitCode != 2 || ee.Node != "n1" || !strings.Contains(err.Error(), "qdisc kind is unknown") {
			t.Fatalf("err = %v", err)
		}
		if f.opts.AttachStdin {
			t.Error("stdin attached without input")
		}
	})
	t.Run("no container", func(t *testing.T) {
		_, _, err := (&Docker{api: &fakeDocker{}}).Exec(ctx, "missing", []string{"true"}, nil)
		var ee *ExecError
		if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), "node missing") {
			t.Fatalf("err = %v, want a transport error naming the node", err)
		}
	})
}

func TestLocalExec(t *testing.T) {
	ctx := context.Background()
	out, _, err := Local{}.Exec(ctx, "", []string{"sh", "-c", "cat; echo oops >&2; exit 3"}, strings.NewReader("hi"))
	var ee *ExecError
	if !errors.As(err, &ee) || ee.ExitCode != 3 || strings.TrimSpace(ee.Stderr) != "oops" || string(out) != "hi" {
		t.Fatalf("out %q err %v", out, err)
	}
	if _, _, err := (Local{}).Exec(ctx, "", nil, nil); err == nil {
		t.Error("empty command accepted")
	}
	if _, _, err := (Local{}).Exec(ctx, "", []string{"/nonexistent/tool"}, nil); err == nil {
		t.Error("missing binary accepted")
	}
}
