package agent

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fakeClock is a manual clock whose timers fire only on Advance.
type fakeClock struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers map[*fakeTimer]struct{}
}

func newFakeClock(t0 time.Time) *fakeClock {
	c := &fakeClock{now: t0, timers: map[*fakeTimer]struct{}{}}
	c.cond = sync.NewCond(&c.mu)
	return c
}

type fakeTimer struct {
	c     *fakeClock
	ch    chan time.Time
	at    time.Time
	fired bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1), at: c.now.Add(d)}
	if d <= 0 {
		t.fired = true
		t.ch <- c.now
		return t
	}
	c.timers[t] = struct{}{}
	c.cond.Broadcast()
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, pending := t.c.timers[t]
	delete(t.c.timers, t)
	return pending
}

// Advance moves time forward and fires every timer that is due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.at.After(c.now) {
			delete(c.timers, t)
			t.fired = true
			t.ch <- c.now
		}
	}
}

// BlockUntil waits until at least n timers are pending.
func (c *fakeClock) BlockUntil(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.timers) < n {
		c.cond.Wait()
	}
}

// bus is an in-memory multicast segment.
type bus struct {
	mu    sync.Mutex
	ports []*busPort
}

type busPort struct {
	b      *bus
	in     chan []byte
	closed chan struct{}
	once   sync.Once
	sent   chan []byte // every packet this port sent, if not nil
}

func (b *bus) join() *busPort {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := &busPort{b: b, in: make(chan []byte, 64), closed: make(chan struct{})}
	b.ports = append(b.ports, p)
	return p
}

func (p *busPort) Send(_ context.Context, pkt []byte) error {
	select {
	case <-p.closed:
		return net.ErrClosed
	default:
	}
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	for _, q := range p.b.ports {
		select {
		case q.in <- append([]byte(nil), pkt...):
		default: // a full queue drops, like a socket buffer
		}
	}
	if p.sent != nil {
		p.sent <- append([]byte(nil), pkt...)
	}
	return nil
}

func (p *busPort) Recv(ctx context.Context, buf []byte) (int, error) {
	select {
	case pkt := <-p.in:
		return copy(buf, pkt), nil
	case <-p.closed:
		return 0, net.ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (p *busPort) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

var errInjected = errors.New("injected API error")

type schemaGVR = schema.GroupVersionResource

func errorsIsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
