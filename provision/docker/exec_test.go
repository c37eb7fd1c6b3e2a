package docker

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
)

// fakeExec plays the daemon over a real loopback TCP connection (which has
// the half close the hijacked exec stream relies on): it reads stdin to EOF,
// then answers "out:<stdin>" on stdout and a line on stderr, and exits with
// code.
type fakeExec struct {
	code  int
	stdin bool
}

func (f *fakeExec) ContainerExecCreate(_ context.Context, c string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	f.stdin = o.AttachStdin
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
		var in []byte
		if f.stdin {
			in, _ = io.ReadAll(server)
		}
		stdcopy.NewStdWriter(server, stdcopy.Stdout).Write([]byte("out:" + string(in)))
		stdcopy.NewStdWriter(server, stdcopy.Stderr).Write([]byte("some error text"))
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
		want, wantErr   string
	}{
		{name: "stdin streamed, stdout returned", container: "n1", stdin: strings.NewReader("image-bytes"), want: "out:image-bytes"},
		{name: "no stdin", container: "n1", want: "out:"},
		{name: "non-zero exit carries stderr", container: "n1", code: 1, wantErr: `exited 1: some error text`},
		{name: "create error names the container", container: "missing", wantErr: "missing: exec"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExec{code: tt.code}
			out, err := Exec(context.Background(), f, tt.container, []string{"ctr", "images", "import", "-"}, tt.stdin)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(out) != tt.want {
				t.Fatalf("out = %q, %v; want %q", out, err, tt.want)
			}
		})
	}
}
