package dockerx

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-cmp/cmp"
)

// fakeExec plays the daemon over a real loopback TCP connection (which has
// the half close the hijacked exec stream relies on): it reads stdin to EOF,
// then answers "out:<stdin>" on stdout and stderr text, and exits with code.
type fakeExec struct {
	code   int
	stderr string
	opts   container.ExecOptions
	target string
	block  bool // never answer (to test cancellation)
}

func (f *fakeExec) ContainerExecCreate(_ context.Context, c string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	f.opts, f.target = o, c
	if c == "missing" {
		return container.ExecCreateResponse{}, errors.New("No such container: missing")
	}
	return container.ExecCreateResponse{ID: "exec1"}, nil
}

func (f *fakeExec) ContainerExecAttach(context.Context, string, container.ExecAttachOptions) (types.HijackedResponse, error) {
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
		if f.block {
			_, _ = io.Copy(io.Discard, server) // until the client closes
			return
		}
		var in []byte
		if f.opts.AttachStdin {
			in, _ = io.ReadAll(server)
		}
		_, _ = stdcopy.NewStdWriter(server, stdcopy.Stdout).Write([]byte("out:" + string(in)))
		if f.stderr != "" {
			_, _ = stdcopy.NewStdWriter(server, stdcopy.Stderr).Write([]byte(f.stderr))
		}
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return types.HijackedResponse{}, err
	}
	return types.NewHijackedResponse(conn, ""), nil
}

func (f *fakeExec) ContainerExecInspect(context.Context, string) (container.ExecInspect, error) {
	return container.ExecInspect{ExitCode: f.code}, nil
}

func TestExec(t *testing.T) {
	for _, tt := range []struct {
		name, container string
		stdin           io.Reader
		code            int
		stderr          string
		wantOut         string
		wantErrOut      string
		wantErr         string
		wantExit        int
	}{
		{name: "stdin streamed, stdout returned", container: "n1", stdin: strings.NewReader("image-bytes"), wantOut: "out:image-bytes"},
		{name: "no stdin", container: "n1", wantOut: "out:"},
		{name: "stderr returned apart", container: "n1", stderr: "warn\n", wantOut: "out:", wantErrOut: "warn\n"},
		{name: "non-zero exit carries stderr", container: "n1", code: 2, stderr: "Error: Specified qdisc kind is unknown.",
			wantErr: `n1: "tc qdisc add" exited 2: Error: Specified qdisc kind is unknown.`, wantExit: 2},
		{name: "non-zero exit without stderr shows stdout", container: "n1", code: 1, wantErr: `exited 1: out:`, wantExit: 1},
		{name: "create error names the container", container: "missing", wantErr: "missing: exec"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExec{code: tt.code, stderr: tt.stderr}
			out, errOut, err := Nodes{API: f}.Exec(context.Background(), tt.container, []string{"tc", "qdisc", "add"}, tt.stdin)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				var ee *ExecError
				if got := errors.As(err, &ee); got != (tt.wantExit != 0) || (got && ee.ExitCode != tt.wantExit) {
					t.Fatalf("ExecError = %v (%+v), want exit %d", got, ee, tt.wantExit)
				}
				return
			}
			if err != nil || string(out) != tt.wantOut || string(errOut) != tt.wantErrOut {
				t.Fatalf("out = %q, stderr %q, %v; want %q, %q", out, errOut, err, tt.wantOut, tt.wantErrOut)
			}
			want := container.ExecOptions{Cmd: []string{"tc", "qdisc", "add"}, AttachStdin: tt.stdin != nil, AttachStdout: true, AttachStderr: true}
			if d := cmp.Diff(want, f.opts); d != "" || f.target != tt.container {
				t.Errorf("exec options on %q (-want +got):\n%s", f.target, d)
			}
		})
	}
}

func TestExecCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeExec{block: true}
	done := make(chan error, 1)
	go func() {
		_, _, err := Exec(ctx, f, "n1", []string{"sleep", "inf"}, nil)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestLocal(t *testing.T) {
	ctx := context.Background()
	out, _, err := Local{}.Exec(ctx, "", []string{"sh", "-c", "cat; echo oops >&2; exit 3"}, strings.NewReader("hi"))
	var ee *ExecError
	if !errors.As(err, &ee) || ee.ExitCode != 3 || strings.TrimSpace(ee.Stderr) != "oops" || string(out) != "hi" || ee.Container != "" {
		t.Fatalf("out %q err %v", out, err)
	}
	if !strings.HasPrefix(err.Error(), "host: ") {
		t.Errorf("host error %q does not say host", err)
	}
	if _, _, err := (Local{}).Exec(ctx, "", nil, nil); err == nil {
		t.Error("empty command accepted")
	}
	if _, _, err := (Local{}).Exec(ctx, "", []string{"/nonexistent/tool"}, nil); !errors.As(err, &ee) || ee.ExitCode != -1 {
		t.Errorf("missing binary: %v", err)
	}
}

func TestNewClient(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	c, err := NewClient("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.DaemonHost() != "unix:///nonexistent/docker.sock" {
		t.Errorf("host %q, want DOCKER_HOST", c.DaemonHost())
	}
	c2, err := NewClient("tcp://10.0.0.2:2376")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.DaemonHost() != "tcp://10.0.0.2:2376" {
		t.Errorf("endpoint not honoured: %q", c2.DaemonHost())
	}
	if _, err := NewClient("tcp://[::1"); err == nil || !strings.Contains(err.Error(), "tcp://[::1") {
		t.Errorf("bad endpoint: %v", err)
	}
}
