package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fluidos-lab/testbed/internal/lablock"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/sweep"
	"github.com/fluidos-lab/testbed/topology"
)

// labClaim is a lab this process holds, and how many claims hold it.
type labClaim struct {
	lock *lablock.Lock
	n    int
}

// claimLab takes the lab for this process (for a campaign in dir, or ""
// for a command that writes none, like selftest) until the returned
// release: two processes that cycle one lab's agents at once spoil each
// other's runs. Claims are counted per lab, so a sweep that holds its lab
// for the whole command lets each cell's campaign claim it again. The
// lock lives in the lab's state directory: it keeps apart the commands of
// one state root on this machine.
func (a *app) claimLab(plan *topology.Plan, dir string) (func(), error) {
	a.claimMu.Lock()
	defer a.claimMu.Unlock()
	c := a.claims[plan.StateDir]
	if c == nil {
		h := lablock.Holder{Command: strings.Join(append([]string{"testbed"}, os.Args[1:]...), " "), PID: os.Getpid(), Since: time.Now()}
		h.Host, _ = os.Hostname()
		if dir != "" {
			if abs, err := filepath.Abs(dir); err == nil {
				dir = abs
			}
			h.Campaign = dir
		}
		l, err := lablock.Acquire(plan.Name, plan.StateDir, h)
		if err != nil {
			return nil, err
		}
		c = &labClaim{lock: l}
		if a.claims == nil {
			a.claims = map[string]*labClaim{}
		}
		a.claims[plan.StateDir] = c
	}
	c.n++
	var once sync.Once
	return func() { once.Do(func() { a.unclaim(plan, c) }) }, nil
}

func (a *app) unclaim(plan *topology.Plan, c *labClaim) {
	a.claimMu.Lock()
	defer a.claimMu.Unlock()
	if c.n--; c.n > 0 {
		return
	}
	delete(a.claims, plan.StateDir)
	if err := c.lock.Release(); err != nil {
		a.Logger().Warnf("lab %s: releasing its lock: %v", plan.Name, err)
	}
}

// labHolder holds, for the rest of a command (sweep, rerun), every lab
// the command brings up, tears down or switches workloads on: those
// commands change the lab between and around their campaigns, not only
// inside them.
type labHolder struct {
	a   *app
	dir string
	mu  sync.Mutex
	rel map[string]func()
}

func (a *app) labHolder(dir string) *labHolder { return &labHolder{a: a, dir: dir} }

// hold claims plan's lab once. For an up (create) the state directory is
// made first, as up would; otherwise a lab without one is not up, and
// nobody can hold it, so there is nothing to claim.
func (h *labHolder) hold(plan *topology.Plan, create bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rel[plan.StateDir] != nil {
		return nil
	}
	if create {
		if err := os.MkdirAll(plan.StateDir, 0o755); err != nil {
			return fmt.Errorf("lab %s: state directory: %w", plan.Name, err)
		}
	} else if _, err := os.Stat(plan.StateDir); os.IsNotExist(err) {
		return nil
	}
	release, err := h.a.claimLab(plan, h.dir)
	if err != nil {
		return err
	}
	if h.rel == nil {
		h.rel = map[string]func(){}
	}
	h.rel[plan.StateDir] = release
	return nil
}

// release lets every held lab go.
func (h *labHolder) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, r := range h.rel {
		r()
		delete(h.rel, k)
	}
}

// Lab is l with every lab it brings up or down held first.
func (h *labHolder) Lab(l sweep.Lab) sweep.Lab { return heldLab{l, h} }

// Workloads is w with every lab it switches held first.
func (h *labHolder) Workloads(w sweep.Workloads) sweep.Workloads { return heldWorkloads{w, h} }

type heldLab struct {
	sweep.Lab
	h *labHolder
}

func (l heldLab) Up(ctx context.Context, plan *topology.Plan) error {
	if err := l.h.hold(plan, true); err != nil {
		return err
	}
	return l.Lab.Up(ctx, plan)
}

func (l heldLab) Down(ctx context.Context, plan *topology.Plan) error {
	if err := l.h.hold(plan, false); err != nil {
		return err
	}
	return l.Lab.Down(ctx, plan)
}

type heldWorkloads struct {
	sweep.Workloads
	h *labHolder
}

func (w heldWorkloads) Set(ctx context.Context, plan *topology.Plan, p scenarios.Protocol, on, off []string) error {
	if err := w.h.hold(plan, false); err != nil {
		return err
	}
	return w.Workloads.Set(ctx, plan, p, on, off)
}
