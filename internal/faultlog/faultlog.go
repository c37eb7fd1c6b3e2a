// Package faultlog records what happens to a lab's infrastructure while a
// campaign runs, as the container engine reports it: a node container
// paused, unpaused, killed, stopped, died, started, restarted or out of
// memory, and the loss (and return) of the engine's event stream itself,
// as when the daemon restarts. The runner marks every run whose window
// holds such an event, so that a measurement disturbed by the lab is never
// mistaken for the protocol's behaviour.
package faultlog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/fluidos-lab/testbed/internal/dockernet"
)

// Actions are the node container events the log keeps; exec events (the
// runner's own docker exec calls) and the rest are not faults.
var Actions = []events.Action{
	events.ActionPause, events.ActionUnPause, events.ActionKill, events.ActionStop,
	events.ActionDie, events.ActionStart, events.ActionRestart, events.ActionOOM,
}

// Engine events of the stream itself.
const (
	// EventsLost is logged when the engine's event stream fails (the
	// daemon stopped or restarted, the socket went away).
	EventsLost = "engine-events-lost"
	// EventsRestored is logged when the stream is back; events the engine
	// recorded in between are replayed from the last one seen.
	EventsRestored = "engine-events-restored"
)

// Event is one fault: when, on which cluster's node container (empty for
// the engine's own events), and what.
type Event struct {
	Time      time.Time
	Cluster   string
	Container string
	Action    string
	// Detail is the exit code of a die, the signal of a kill, or why the
	// stream was lost.
	Detail string
}

func (e Event) String() string {
	who := e.Container
	if who == "" {
		who = "engine"
	}
	if e.Detail != "" {
		return fmt.Sprintf("%s %s (%s)", who, e.Action, e.Detail)
	}
	return who + " " + e.Action
}

// Source is the engine's event API (the Docker client's Events).
type Source interface {
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
}

// Log collects the events of one lab's node containers until closed.
type Log struct {
	src      Source
	clusters map[string]bool
	now      func() time.Time
	retry    time.Duration

	mu      sync.Mutex
	events  []Event
	drained int // events[:drained] were returned by Drain
	seen    map[string]bool
	last    int64 // TimeNano of the last engine event seen

	cancel context.CancelFunc
	done   chan struct{}
}

// Options tune a Log; zero values are the defaults.
type Options struct {
	// Now is the clock of the engine-stream events (default time.Now).
	Now func() time.Time
	// Retry is the wait before reconnecting a lost stream (default 1 s).
	Retry time.Duration
}

// Start watches the node containers of clusters (by KinD's cluster label)
// until Close. It returns once the first subscription is made, so that an
// event right after Start is not missed.
func Start(ctx context.Context, src Source, clusters []string, o Options) *Log {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Log{src: src, clusters: map[string]bool{}, now: o.Now, retry: o.Retry, seen: map[string]bool{}, cancel: cancel, done: make(chan struct{})}
	for _, c := range clusters {
		l.clusters[c] = true
	}
	msgs, errs := l.subscribe(ctx, "")
	go l.loop(ctx, msgs, errs)
	return l
}

func (l *Log) subscribe(ctx context.Context, since string) (<-chan events.Message, <-chan error) {
	f := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)), filters.Arg("label", dockernet.KindClusterLabel))
	for _, a := range Actions {
		f.Add("event", string(a))
	}
	return l.src.Events(ctx, events.ListOptions{Filters: f, Since: since})
}

// loop reads the stream; after a failure it logs EventsLost, resubscribes
// from the last event seen until a subscription holds, and logs
// EventsRestored.
func (l *Log) loop(ctx context.Context, msgs <-chan events.Message, errs <-chan error) {
	defer close(l.done)
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-msgs:
			l.message(m)
		case err := <-errs:
			if ctx.Err() != nil {
				return
			}
			l.add(Event{Time: l.now(), Action: EventsLost, Detail: errorText(err)})
			var first *events.Message
			if msgs, errs, first = l.resubscribe(ctx); msgs == nil {
				return
			}
			l.add(Event{Time: l.now(), Action: EventsRestored})
			if first != nil {
				l.message(*first)
			}
		}
	}
}

// resubscribe waits Retry and subscribes again from the last event seen,
// until a subscription holds: it delivers a message, or no error within
// Retry (a failed dial reports at once). It returns nil channels when ctx
// ends first.
func (l *Log) resubscribe(ctx context.Context) (<-chan events.Message, <-chan error, *events.Message) {
	for {
		select {
		case <-ctx.Done():
			return nil, nil, nil
		case <-time.After(l.retry):
		}
		msgs, errs := l.subscribe(ctx, l.since())
		select {
		case <-ctx.Done():
			return nil, nil, nil
		case <-errs:
			continue
		case m := <-msgs:
			return msgs, errs, &m
		case <-time.After(l.retry):
			return msgs, errs, nil
		}
	}
}

func errorText(err error) string {
	if err == nil || errors.Is(err, context.Canceled) {
		return "stream closed"
	}
	return err.Error()
}

// since is the resubscription point: the last engine event seen, so that
// what happened while the stream was down is replayed (duplicates of that
// instant are dropped by message).
func (l *Log) since() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == 0 {
		return strconv.FormatInt(l.now().Unix(), 10)
	}
	return fmt.Sprintf("%d.%09d", l.last/1e9, l.last%1e9)
}

// message keeps m if it is a kept action on a node container of the lab.
func (l *Log) message(m events.Message) {
	cluster := m.Actor.Attributes[dockernet.KindClusterLabel]
	if m.Type != events.ContainerEventType || !l.clusters[cluster] || !kept(m.Action) {
		return
	}
	key := fmt.Sprintf("%d/%s/%s", m.TimeNano, m.Actor.ID, m.Action)
	l.mu.Lock()
	if m.TimeNano > l.last {
		l.last = m.TimeNano
	}
	dup := l.seen[key]
	l.seen[key] = true
	l.mu.Unlock()
	if dup {
		return
	}
	t := time.Unix(0, m.TimeNano)
	if m.TimeNano == 0 {
		t = time.Unix(m.Time, 0)
	}
	detail := m.Actor.Attributes["exitCode"]
	if s := m.Actor.Attributes["signal"]; s != "" {
		detail = "signal " + s
	} else if detail != "" {
		detail = "exit code " + detail
	}
	l.add(Event{Time: t, Cluster: cluster, Container: m.Actor.Attributes["name"], Action: string(m.Action), Detail: detail})
}

func kept(a events.Action) bool {
	for _, k := range Actions {
		if a == k {
			return true
		}
	}
	return false
}

func (l *Log) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// Between returns the events in [from, to), in time order.
func (l *Log) Between(from, to time.Time) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if !e.Time.Before(from) && e.Time.Before(to) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Drain returns the events logged since the last Drain, in time order.
func (l *Log) Drain() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]Event(nil), l.events[l.drained:]...)
	l.drained = len(l.events)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Close stops the watch.
func (l *Log) Close() {
	l.cancel()
	<-l.done
}
