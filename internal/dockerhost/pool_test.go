package dockerhost

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/docker/docker/client"
)

func labHosts(t *testing.T) []Host {
	t.Helper()
	return []Host{
		{Name: "a", Endpoint: mustParse(t, "unix:///var/run/docker.sock", TLSFiles{}), Address: netip.MustParseAddr("10.0.0.1")},
		{Name: "b", Endpoint: mustParse(t, "ssh://lab@10.0.0.2", TLSFiles{}), Address: netip.MustParseAddr("10.0.0.2")},
		{Name: "c", Endpoint: mustParse(t, "tcp://10.0.0.3:2376", TLSFiles{Dir: "/certs/c", Verify: true}), Address: netip.MustParseAddr("10.0.0.3")},
	}
}

// countingBuild makes real (unconnected) clients and counts them per host;
// fail makes the next build of a host fail once.
type countingBuild struct {
	mu    sync.Mutex
	made  map[string]int
	fail  map[string]error
	hosts map[Endpoint]string
}

func newCountingBuild(hosts []Host) *countingBuild {
	b := &countingBuild{made: map[string]int{}, fail: map[string]error{}, hosts: map[Endpoint]string{}}
	for _, h := range hosts {
		b.hosts[h.Endpoint] = h.Name
	}
	return b
}

func (b *countingBuild) build(_ context.Context, e Endpoint) (*client.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	name := b.hosts[e]
	if err := b.fail[name]; err != nil {
		delete(b.fail, name)
		return nil, err
	}
	b.made[name]++
	return client.NewClientWithOpts(client.WithHost("unix:///nonexistent/docker.sock"))
}

func TestNewPoolErrors(t *testing.T) {
	ok := mustParse(t, "default", TLSFiles{})
	tests := []struct {
		name  string
		hosts []Host
		want  string
	}{
		{"no name", []Host{{Name: "a", Endpoint: ok}, {Endpoint: ok}}, "docker host 2 has no name"},
		{"no endpoint", []Host{{Name: "a"}}, "docker host a has no endpoint"},
		{"twice", []Host{{Name: "a", Endpoint: ok}, {Name: "a", Endpoint: ok}}, "docker host a is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPool(tt.hosts); err == nil || err.Error() != tt.want {
				t.Errorf("NewPool: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPoolHosts(t *testing.T) {
	hosts := labHosts(t)
	p, err := NewPool(hosts)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Hosts()
	if len(got) != 3 || got[0].Name != "a" || got[2].Address != netip.MustParseAddr("10.0.0.3") {
		t.Errorf("Hosts() = %v", got)
	}
	if h, ok := p.Host("b"); !ok || h.Endpoint.Kind() != KindSSH {
		t.Errorf("Host(b) = %v, %v", h, ok)
	}
	if _, ok := p.Host("z"); ok {
		t.Error("Host(z) found")
	}
}

func TestPoolCachesOneClientPerHost(t *testing.T) {
	hosts := labHosts(t)
	p, err := NewPool(hosts)
	if err != nil {
		t.Fatal(err)
	}
	b := newCountingBuild(hosts)
	p.build = b.build
	ctx := context.Background()

	const callers = 8
	got := make([][3]*client.Client, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, n := range []string{"a", "b", "c"} {
				c, err := p.Client(ctx, n)
				if err != nil {
					t.Error(err)
					return
				}
				got[i][j] = c
			}
		}()
	}
	wg.Wait()
	for i := range callers {
		if got[i] != got[0] {
			t.Errorf("caller %d got other clients than caller 0", i)
		}
	}
	if got[0][0] == got[0][1] || got[0][1] == got[0][2] {
		t.Error("two hosts share a client")
	}
	if b.made["a"] != 1 || b.made["b"] != 1 || b.made["c"] != 1 {
		t.Errorf("clients made per host: %v, want one each", b.made)
	}
	e, err := p.Engine(ctx, "b")
	if err != nil || e.Name() != "b" || e.Client != got[0][1] {
		t.Errorf("Engine(b) = %v, %v", e, err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for n, ent := range p.clients {
		if ent.c != nil {
			t.Errorf("client of %s kept after Close", n)
		}
	}
	if _, err := p.Client(ctx, "a"); err == nil || err.Error() != "docker host a: the pool is closed" {
		t.Errorf("Client after Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPoolErrors(t *testing.T) {
	hosts := labHosts(t)
	p, err := NewPool(hosts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	b := newCountingBuild(hosts)
	b.fail["b"] = errors.New("reaching Docker engine ssh://lab@10.0.0.2: exit status 255")
	p.build = b.build
	ctx := context.Background()

	if _, err := p.Client(ctx, "z"); err == nil || err.Error() != `docker host "z" is not one of the lab's (a, b, c)` {
		t.Errorf("unknown host: %v", err)
	}
	if _, err := p.Engine(ctx, "b"); err == nil || err.Error() != "docker host b: reaching Docker engine ssh://lab@10.0.0.2: exit status 255" {
		t.Errorf("failed build: %v", err)
	}
	if _, err := p.Client(ctx, "b"); err != nil {
		t.Errorf("a failed build is kept: %v", err)
	}
	if b.made["b"] != 1 {
		t.Errorf("%d clients of b made, want 1", b.made["b"])
	}
}

// TestPoolCloseDuringBuild: a client made while the pool closes is closed,
// not kept, and its caller gets an error.
func TestPoolCloseDuringBuild(t *testing.T) {
	hosts := labHosts(t)
	p, err := NewPool(hosts)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var made atomic.Int32
	p.build = func(context.Context, Endpoint) (*client.Client, error) {
		close(entered)
		<-release
		made.Add(1)
		return client.NewClientWithOpts(client.WithHost("unix:///nonexistent/docker.sock"))
	}
	clientErr, closeErr := make(chan error), make(chan error)
	go func() {
		_, err := p.Client(context.Background(), "c")
		clientErr <- err
	}()
	<-entered
	go func() { closeErr <- p.Close() }()
	for !poolClosed(p) { // Close marks the pool, then waits for the build
		runtime.Gosched()
	}
	close(release)
	if err := <-clientErr; err == nil || !strings.Contains(err.Error(), "the pool is closed") {
		t.Errorf("Client racing Close: %v", err)
	}
	if err := <-closeErr; err != nil {
		t.Errorf("Close: %v", err)
	}
	if p.clients["c"].c != nil || made.Load() != 1 {
		t.Errorf("client kept after Close (made %d)", made.Load())
	}
}

func poolClosed(p *Pool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}
