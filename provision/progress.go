package provision

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Progress receives one event per cluster and phase.
type Progress interface {
	Start(cluster, phase string)
	// Done ends a phase: note says what happened ("created", "skipped: healthy").
	Done(cluster, phase, note string, d time.Duration, err error)
	// Logf reports a lab-wide message.
	Logf(format string, args ...any)
}

// PlainProgress writes one line per event, for logs and pipes.
type PlainProgress struct {
	mu sync.Mutex
	W  io.Writer
}

// Start implements Progress.
func (p *PlainProgress) Start(cluster, phase string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, "%-16s %-9s ...\n", cluster, phase)
}

// Done implements Progress.
func (p *PlainProgress) Done(cluster, phase, note string, d time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		fmt.Fprintf(p.W, "%-16s %-9s ✗ %v (%s)\n", cluster, phase, err, d.Round(time.Millisecond))
		return
	}
	fmt.Fprintf(p.W, "%-16s %-9s ✓ %s (%s)\n", cluster, phase, note, d.Round(time.Millisecond))
}

// Logf implements Progress.
func (p *PlainProgress) Logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, format+"\n", args...)
}

// TTYProgress redraws one status line per cluster in place (ANSI), with
// lab-wide messages printed above the block.
type TTYProgress struct {
	mu      sync.Mutex
	W       io.Writer
	order   []string
	lines   map[string]string
	started map[string]time.Time
	drawn   int
}

// NewTTYProgress returns a TTY progress for the given clusters.
func NewTTYProgress(w io.Writer, clusters []string) *TTYProgress {
	t := &TTYProgress{W: w, lines: map[string]string{}, started: map[string]time.Time{}}
	t.order = append(t.order, clusters...)
	sort.Strings(t.order)
	return t
}

func (t *TTYProgress) redraw() {
	var b strings.Builder
	if t.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", t.drawn)
	}
	for _, c := range t.order {
		fmt.Fprintf(&b, "\x1b[2K%-16s %s\n", c, t.lines[c])
	}
	t.drawn = len(t.order)
	io.WriteString(t.W, b.String())
}

// Start implements Progress.
func (t *TTYProgress) Start(cluster, phase string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ensure(cluster)
	t.lines[cluster] = fmt.Sprintf("%-9s …", phase)
	t.redraw()
}

// Done implements Progress.
func (t *TTYProgress) Done(cluster, phase, note string, d time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ensure(cluster)
	if err != nil {
		t.lines[cluster] = fmt.Sprintf("%-9s ✗ %v", phase, err)
	} else {
		t.lines[cluster] = fmt.Sprintf("%-9s ✓ %s (%s)", phase, note, d.Round(time.Millisecond))
	}
	t.redraw()
}

func (t *TTYProgress) ensure(cluster string) {
	if _, ok := t.lines[cluster]; ok {
		return
	}
	for _, c := range t.order {
		if c == cluster {
			return
		}
	}
	t.order = append(t.order, cluster)
}

// Logf implements Progress.
func (t *TTYProgress) Logf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.drawn > 0 {
		fmt.Fprintf(t.W, "\x1b[%dA", t.drawn)
	}
	fmt.Fprintf(t.W, "\x1b[2K"+format+"\n", args...)
	t.drawn = 0
	t.redraw()
}

// NopProgress discards events.
type NopProgress struct{}

// Start implements Progress.
func (NopProgress) Start(string, string) {}

// Done implements Progress.
func (NopProgress) Done(string, string, string, time.Duration, error) {}

// Logf implements Progress.
func (NopProgress) Logf(string, ...any) {}
