package dockerhost

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/docker/docker/client"
)

// Host is one Docker host of a lab.
type Host struct {
	// Name is the host's name in the topology.
	Name string
	// Endpoint reaches its Docker engine.
	Endpoint Endpoint
	// Address is its address on the underlay between the hosts.
	Address netip.Addr
}

// Engine is a host's Docker client with the host's name: it is an
// ImageAPI and an InfoAPI whose errors name the host.
type Engine struct {
	HostName string
	*client.Client
}

// Name is the host's name.
func (e Engine) Name() string { return e.HostName }

// Pool hands out one Docker client per host, made on first use and kept
// until Close. It is safe for concurrent use; clients of different hosts
// are made concurrently, those of one host once.
type Pool struct {
	hosts map[string]Host
	names []string // in the order given
	build func(context.Context, Endpoint) (*client.Client, error)

	mu      sync.Mutex
	clients map[string]*poolEntry
	closed  bool
}

type poolEntry struct {
	mu sync.Mutex // held while the client is made
	c  *client.Client
}

// NewPool returns a pool over hosts, whose names must be distinct and not
// empty and whose endpoints parsed.
func NewPool(hosts []Host) (*Pool, error) {
	p := &Pool{
		hosts:   make(map[string]Host, len(hosts)),
		build:   func(ctx context.Context, e Endpoint) (*client.Client, error) { return e.Client(ctx) },
		clients: make(map[string]*poolEntry, len(hosts)),
	}
	for i, h := range hosts {
		switch {
		case h.Name == "":
			return nil, fmt.Errorf("docker host %d has no name", i+1)
		case h.Endpoint.Kind() == 0:
			return nil, fmt.Errorf("docker host %s has no endpoint", h.Name)
		}
		if _, dup := p.hosts[h.Name]; dup {
			return nil, fmt.Errorf("docker host %s is listed twice", h.Name)
		}
		p.hosts[h.Name] = h
		p.names = append(p.names, h.Name)
	}
	return p, nil
}

// Hosts lists the pool's hosts in the order NewPool got them.
func (p *Pool) Hosts() []Host {
	out := make([]Host, len(p.names))
	for i, n := range p.names {
		out[i] = p.hosts[n]
	}
	return out
}

// Host returns the host called name.
func (p *Pool) Host(name string) (Host, bool) {
	h, ok := p.hosts[name]
	return h, ok
}

// Client returns the client of host name, making it (Endpoint.Client)
// on first use. A failed attempt is not kept: the next call tries again.
// The pool owns the client: close the pool, not the client.
func (p *Pool) Client(ctx context.Context, name string) (*client.Client, error) {
	h, ok := p.hosts[name]
	if !ok {
		return nil, fmt.Errorf("docker host %q is not one of the lab's (%s)", name, strings.Join(p.names, ", "))
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("docker host %s: the pool is closed", name)
	}
	e := p.clients[name]
	if e == nil {
		e = &poolEntry{}
		p.clients[name] = e
	}
	p.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c != nil {
		return e.c, nil
	}
	c, err := p.build(ctx, h.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("docker host %s: %w", name, err)
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		_ = c.Close()
		return nil, fmt.Errorf("docker host %s: the pool is closed", name)
	}
	e.c = c
	return c, nil
}

// Engine is Client with the host's name, for CopyImages and ClockOffset.
func (p *Pool) Engine(ctx context.Context, name string) (Engine, error) {
	c, err := p.Client(ctx, name)
	if err != nil {
		return Engine{}, err
	}
	return Engine{HostName: name, Client: c}, nil
}

// Close closes every client the pool made; later calls of Client fail.
// It waits for clients being made to be done. Closing twice is harmless.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	entries := make(map[string]*poolEntry, len(p.clients))
	names := make([]string, 0, len(p.clients))
	for n, e := range p.clients {
		entries[n] = e
		names = append(names, n)
	}
	p.mu.Unlock()
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		e := entries[n]
		e.mu.Lock()
		if e.c != nil {
			if err := e.c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing the client of docker host %s: %w", n, err))
			}
			e.c = nil
		}
		e.mu.Unlock()
	}
	return errors.Join(errs...)
}
