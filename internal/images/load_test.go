package images

import (
	"context"
	"errors"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-cmp/cmp"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// fakeEngine answers the exec commands LoadIntoNodes runs, per node, over
// loopback TCP hijacked streams, and records what each import received.
type fakeEngine struct {
	mu       sync.Mutex
	images   map[string][]string // node -> ctr image names
	execs    map[string]execReq
	imported map[string]string // node -> stdin of the import
	saved    int
	// unpacked records each node's unpack arguments; a node in failUnpack
	// exits 1 with a ctr error instead.
	unpacked   map[string][]string
	failUnpack map[string]bool
}

type execReq struct {
	node  string
	cmd   []string
	stdin bool
}

func (f *fakeEngine) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{}, nil
}

func (f *fakeEngine) ImagePull(context.Context, string, image.PullOptions) (io.ReadCloser, error) {
	return nil, errors.New("no registry")
}

func (f *fakeEngine) ImageSave(_ context.Context, refs []string, _ ...client.ImageSaveOption) (io.ReadCloser, error) {
	f.mu.Lock()
	f.saved++
	f.mu.Unlock()
	return io.NopCloser(strings.NewReader("TAR(" + strings.Join(refs, ",") + ")")), nil
}

func (f *fakeEngine) ContainerExecCreate(_ context.Context, node string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := node + "/" + strings.Join(o.Cmd, " ")
	f.execs[id] = execReq{node: node, cmd: o.Cmd, stdin: o.AttachStdin}
	return container.ExecCreateResponse{ID: id}, nil
}

func (f *fakeEngine) ContainerExecAttach(_ context.Context, id string, _ container.ExecAttachOptions) (types.HijackedResponse, error) {
	f.mu.Lock()
	req := f.execs[id]
	f.mu.Unlock()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return types.HijackedResponse{}, err
	}
	go func() {
		defer l.Close()
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		var in []byte
		if req.stdin {
			in, _ = io.ReadAll(conn)
		}
		out := ""
		cmd := strings.Join(req.cmd, " ")
		f.mu.Lock()
		switch {
		case strings.HasPrefix(cmd, "ctr --namespace=k8s.io images list"):
			out = strings.Join(f.images[req.node], "\n") + "\n"
		case cmd == "containerd config dump":
			out = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"overlayfs\"\n"
		case strings.HasPrefix(cmd, "ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -"):
			f.imported[req.node] = string(in)
		case len(req.cmd) > 4 && req.cmd[0] == "sh" && req.cmd[2] == unpackScript:
			if f.unpacked == nil {
				f.unpacked = map[string][]string{}
			}
			f.unpacked[req.node] = req.cmd[4:]
			if f.failUnpack[req.node] {
				stdcopy.NewStdWriter(conn, stdcopy.Stderr).Write([]byte("ctr: image \"x\": not found\n"))
			}
		default:
			out = "unexpected command " + cmd
		}
		f.mu.Unlock()
		stdcopy.NewStdWriter(conn, stdcopy.Stdout).Write([]byte(out))
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return types.HijackedResponse{}, err
	}
	return types.NewHijackedResponse(conn, ""), nil
}

func (f *fakeEngine) ContainerExecInspect(_ context.Context, id string) (container.ExecInspect, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req := f.execs[id]; req.cmd[0] == "sh" && f.failUnpack[req.node] {
		return container.ExecInspect{ExitCode: 1}, nil
	}
	return container.ExecInspect{}, nil
}

func TestUnpackInNodes(t *testing.T) {
	refs := []string{"busybox", "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2"}
	want := []string{"overlayfs", "docker.io/library/busybox:latest", "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2"}
	tests := []struct {
		name    string
		refs    []string
		fail    map[string]bool
		wantErr string
		want    map[string][]string
	}{
		{name: "every node, the CRI snapshotter, normalized refs", refs: refs,
			want: map[string][]string{"n1": want, "n2": want}},
		{name: "no refs: no exec", want: map[string][]string{}},
		{name: "a failure names the node, the images and ctr's message", refs: refs, fail: map[string]bool{"n2": true},
			wantErr: `node n2: unpacking docker.io/library/busybox:latest, ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2 into overlayfs: unpack script exited 1: ctr: image "x": not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEngine{execs: map[string]execReq{}, unpacked: map[string][]string{}, failUnpack: tc.fail}
			err := UnpackInNodes(context.Background(), f, tc.refs, []string{"n1", "n2"})
			if tc.wantErr != "" {
				var xe *dockerx.ExecError
				if err == nil || err.Error() != tc.wantErr || !errors.As(err, &xe) || xe.ExitCode != 1 {
					t.Fatalf("error %v, want %s wrapping the exec's exit status", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, f.unpacked); d != "" {
				t.Errorf("unpack arguments per node (-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadIntoNodes(t *testing.T) {
	f := &fakeEngine{
		images:   map[string][]string{"n1": {"ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2"}, "n2": nil, "n3": {"docker.io/library/busybox:latest"}},
		execs:    map[string]execReq{},
		imported: map[string]string{},
	}
	got, err := LoadIntoNodes(context.Background(), f, "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2", []string{"n1", "n2", "n3"})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "n2,n3" {
		t.Errorf("loaded into %v, want n2,n3 (n1 has it)", got)
	}
	if f.saved != 1 {
		t.Errorf("image saved %d times, want once for all nodes", f.saved)
	}
	for _, n := range []string{"n2", "n3"} {
		if f.imported[n] != "TAR(ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2)" {
			t.Errorf("%s imported %q", n, f.imported[n])
		}
	}
	// A short name matches containerd's normalized one: nothing to load.
	got, err = LoadIntoNodes(context.Background(), f, "busybox", []string{"n3"})
	if err != nil || len(got) != 0 {
		t.Errorf("busybox on n3: loaded %v %v, want nothing", got, err)
	}
}
