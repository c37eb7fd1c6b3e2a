package dockernet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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

// sharedFake plays one host's Docker engine for Shared: its networks, its
// node containers and their endpoints, the execs into them, and the helper
// containers that run `testbed l2 ...` (each prints the answer configured
// for its l2 subcommand, once it read its standard input when it has one).
// Nothing here waits on time: a helper's exit is a buffered channel fed at
// start, or when its standard input is closed.
type sharedFake struct {
	nets         []network.Summary
	createdNames []string
	createdOpts  []network.CreateOptions

	// answers and exits are the helpers' stdout and exit code by l2
	// subcommand ("underlay", "ensure", "remove").
	answers map[string]string
	exits   map[string]int

	mu      sync.Mutex
	helpers []*fakeHelper

	// nodes are the node containers ContainerInspect knows.
	nodes map[string]*container.InspectResponse
	// assign is the endpoint NetworkConnect gives a node.
	assign network.EndpointSettings
	// connectErr is NetworkConnect's error; connectNoop leaves the node
	// unattached.
	connectErr  error
	connectNoop bool
	connects    []string
	inspectErr  error
	// macs are what `cat /sys/class/net/eth1/address` prints in each node.
	macs     map[string]string
	execCode int
	execs    []string
}

// fakeHelper is one helper container.
type fakeHelper struct {
	id, image string
	name      string // its dev.testbed.helper label
	cmd       []string
	openStdin bool
	stdin     bytes.Buffer
	waitC     chan container.WaitResponse
	exitOnce  sync.Once
	code      int
	removed   bool
}

func (h *fakeHelper) exit() {
	h.exitOnce.Do(func() { h.waitC <- container.WaitResponse{StatusCode: int64(h.code)} })
}

// sub is the helper's l2 subcommand.
func (h *fakeHelper) sub() string {
	if len(h.cmd) < 2 {
		return ""
	}
	return h.cmd[1]
}

func (f *sharedFake) NetworkList(_ context.Context, o network.ListOptions) ([]network.Summary, error) {
	var out []network.Summary
	for _, n := range f.nets {
		if names := o.Filters.Get("name"); len(names) > 0 && !strings.Contains(n.Name, names[0]) {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

func (f *sharedFake) NetworkCreate(_ context.Context, name string, o network.CreateOptions) (network.CreateResponse, error) {
	f.createdNames = append(f.createdNames, name)
	f.createdOpts = append(f.createdOpts, o)
	id := "f00dfeed0123456789" + name
	f.nets = append(f.nets, network.Summary{Name: name, ID: id, Driver: o.Driver, Labels: o.Labels, IPAM: *o.IPAM, Options: o.Options})
	return network.CreateResponse{ID: id}, nil
}

func (f *sharedFake) NetworkInspect(_ context.Context, id string, _ network.InspectOptions) (network.Inspect, error) {
	for _, n := range f.nets {
		if n.ID == id {
			return n, nil
		}
	}
	return network.Inspect{}, cerrdefs.ErrNotFound.WithMessage("network " + id)
}

func (f *sharedFake) NetworkRemove(context.Context, string) error { return nil }

func (f *sharedFake) ContainerList(context.Context, container.ListOptions) ([]container.Summary, error) {
	return nil, nil
}

func (f *sharedFake) NetworkConnect(_ context.Context, netID, node string, _ *network.EndpointSettings) error {
	f.connects = append(f.connects, node+"→"+netID)
	if !f.connectNoop {
		c := f.nodes[node]
		if c.NetworkSettings == nil {
			c.NetworkSettings = &container.NetworkSettings{}
		}
		if c.NetworkSettings.Networks == nil {
			c.NetworkSettings.Networks = map[string]*network.EndpointSettings{}
		}
		ep := f.assign
		c.NetworkSettings.Networks[netID] = &ep
	}
	return f.connectErr
}

func (f *sharedFake) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	if f.inspectErr != nil {
		return container.InspectResponse{}, f.inspectErr
	}
	c, ok := f.nodes[id]
	if !ok {
		return container.InspectResponse{}, cerrdefs.ErrNotFound.WithMessage("No such container: " + id)
	}
	return *c, nil
}

func (f *sharedFake) ContainerCreate(_ context.Context, c *container.Config, _ *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := &fakeHelper{id: fmt.Sprintf("helper%02d", len(f.helpers)+1), image: c.Image, name: c.Labels["dev.testbed.helper"], cmd: c.Cmd, openStdin: c.OpenStdin,
		waitC: make(chan container.WaitResponse, 1)}
	if len(c.Cmd) > 1 {
		h.code = f.exits[c.Cmd[1]]
	}
	f.helpers = append(f.helpers, h)
	return container.CreateResponse{ID: h.id}, nil
}

func (f *sharedFake) helper(id string) *fakeHelper {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.helpers {
		if h.id == id {
			return h
		}
	}
	panic("no helper " + id)
}

// ContainerAttach is only used for standard input here: what is written
// is the helper's stdin, and closing the write side makes it exit.
func (f *sharedFake) ContainerAttach(_ context.Context, id string, o container.AttachOptions) (types.HijackedResponse, error) {
	h := f.helper(id)
	if !o.Stdin {
		return types.HijackedResponse{}, errors.New("the fake only attaches standard input")
	}
	return types.NewHijackedResponse(&fakeConn{w: &h.stdin, onCloseWrite: h.exit}, ""), nil
}

func (f *sharedFake) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	if h := f.helper(id); !h.openStdin {
		h.exit()
	}
	return nil
}

func (f *sharedFake) ContainerWait(_ context.Context, id string, _ container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	return f.helper(id).waitC, make(chan error)
}

func (f *sharedFake) ContainerLogs(_ context.Context, id string, _ container.LogsOptions) (io.ReadCloser, error) {
	h := f.helper(id)
	var b bytes.Buffer
	_, _ = stdcopy.NewStdWriter(&b, stdcopy.Stdout).Write([]byte(f.answers[h.sub()] + "\n"))
	if h.code != 0 {
		_, _ = stdcopy.NewStdWriter(&b, stdcopy.Stderr).Write([]byte("testbed: l2 " + h.sub() + " failed\n"))
	}
	return io.NopCloser(&b), nil
}

func (f *sharedFake) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	h := f.helper(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	h.removed = true
	return nil
}

func (f *sharedFake) ContainerExecCreate(_ context.Context, node string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	f.execs = append(f.execs, node+": "+strings.Join(o.Cmd, " "))
	return container.ExecCreateResponse{ID: node}, nil
}

func (f *sharedFake) ContainerExecAttach(_ context.Context, execID string, _ container.ExecAttachOptions) (types.HijackedResponse, error) {
	var b bytes.Buffer
	_, _ = stdcopy.NewStdWriter(&b, stdcopy.Stdout).Write([]byte(f.macs[execID]))
	if f.execCode != 0 {
		_, _ = stdcopy.NewStdWriter(&b, stdcopy.Stderr).Write([]byte("cat: can't open: No such file or directory\n"))
	}
	return types.HijackedResponse{Conn: &fakeConn{}, Reader: bufio.NewReader(&b)}, nil
}

func (f *sharedFake) ContainerExecInspect(context.Context, string) (container.ExecInspect, error) {
	return container.ExecInspect{ExitCode: f.execCode}, nil
}

// ran lists the helpers as "name: cmd", and reports whether each ran the
// image and was removed.
func (f *sharedFake) ran(image string) (runs []string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ok = true
	for _, h := range f.helpers {
		runs = append(runs, h.name+": "+strings.Join(h.cmd, " "))
		ok = ok && h.removed && h.image == image
	}
	return runs, ok
}

// stdinOf is what the helper running l2 sub read on its standard input.
func (f *sharedFake) stdinOf(sub string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.helpers {
		if h.sub() == sub {
			return h.stdin.Bytes()
		}
	}
	return nil
}

var _ SharedAPI = (*sharedFake)(nil)

// fakeConn is a hijacked stream in memory: writes go to w, reads come
// from r (EOF when nil), CloseWrite calls onCloseWrite.
type fakeConn struct {
	mu           sync.Mutex
	r            io.Reader
	w            io.Writer
	onCloseWrite func()
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if c.r == nil {
		return 0, io.EOF
	}
	return c.r.Read(p)
}

func (c *fakeConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w == nil {
		return len(p), nil
	}
	return c.w.Write(p)
}

func (c *fakeConn) CloseWrite() error {
	if c.onCloseWrite != nil {
		c.onCloseWrite()
	}
	return nil
}

func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "fake", Net: "unix"} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "fake", Net: "unix"} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
