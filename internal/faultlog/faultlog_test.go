package faultlog

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/fluidos-lab/testbed/internal/dockernet"
)

// sub is one subscription the fake engine handed out.
type sub struct {
	opts events.ListOptions
	msgs chan events.Message
	errs chan error
}

// fakeEngine hands each subscription to the test; the ones listed in fail
// report a refused dial at once, as the Docker client does.
type fakeEngine struct {
	subs chan *sub
	fail map[int]bool
	n    int
}

func (f *fakeEngine) Events(_ context.Context, o events.ListOptions) (<-chan events.Message, <-chan error) {
	s := &sub{opts: o, msgs: make(chan events.Message), errs: make(chan error, 1)}
	if f.fail[f.n] {
		s.errs <- errors.New("dial unix /var/run/docker.sock: connect: connection refused")
	}
	f.n++
	f.subs <- s
	return s.msgs, s.errs
}

func msg(cluster, name, action string, at time.Time) events.Message {
	return events.Message{Type: events.ContainerEventType, Action: events.Action(action), TimeNano: at.UnixNano(), Time: at.Unix(),
		Actor: events.Actor{ID: "id-" + name, Attributes: map[string]string{dockernet.KindClusterLabel: cluster, "name": name}}}
}

// TestLogKeepsLabFaultsAcrossALostStream drives the log through a pause
// and unpause of a lab node, events it must ignore (another lab, an exec),
// a stream that fails (the daemon restarting), a resubscription that is
// refused, and one that holds and replays the last event: every fault is
// kept once, in order, with the stream's loss and return.
func TestLogKeepsLabFaultsAcrossALostStream(t *testing.T) {
	f := &fakeEngine{subs: make(chan *sub), fail: map[int]bool{1: true}}
	t0 := time.Unix(1_800_000_000, 0)
	clock := t0.Add(time.Hour)
	lc := make(chan *Log, 1)
	go func() {
		lc <- Start(context.Background(), f, []string{"ci-02", "ci-03"}, Options{Now: func() time.Time { return clock }, Retry: time.Millisecond})
	}()
	s1 := <-f.subs
	l := <-lc
	if s1.opts.Since != "" || len(s1.opts.Filters.Get("event")) != len(Actions) || s1.opts.Filters.Get("label")[0] != dockernet.KindClusterLabel {
		t.Fatalf("first subscription: %+v", s1.opts)
	}
	pause := msg("ci-03", "ci-03-control-plane", "pause", t0.Add(time.Second))
	s1.msgs <- pause
	s1.msgs <- msg("other-01", "other-01-control-plane", "pause", t0.Add(2*time.Second))
	s1.msgs <- msg("ci-02", "ci-02-control-plane", "exec_start: nft list", t0.Add(3*time.Second))
	s1.errs <- io.ErrUnexpectedEOF
	s2 := <-f.subs // refused
	s3 := <-f.subs
	want := "1800000001.000000000"
	if s2.opts.Since != want || s3.opts.Since != want {
		t.Fatalf("resubscriptions since %q and %q, want the last event seen, %s", s2.opts.Since, s3.opts.Since, want)
	}
	s3.msgs <- pause // replayed
	s3.msgs <- msg("ci-03", "ci-03-control-plane", "unpause", t0.Add(5*time.Second))
	l.Close()

	got := l.Between(t0, clock.Add(time.Second))
	var acts []string
	for _, e := range got {
		acts = append(acts, e.String())
	}
	wantActs := []string{"ci-03-control-plane pause", "ci-03-control-plane unpause", "engine engine-events-lost (unexpected EOF)", "engine engine-events-restored"}
	if len(acts) != len(wantActs) {
		t.Fatalf("events %q, want %q", acts, wantActs)
	}
	for i := range acts {
		if acts[i] != wantActs[i] {
			t.Fatalf("events %q, want %q", acts, wantActs)
		}
	}
	if e := got[0]; e.Cluster != "ci-03" || !e.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("pause event %+v", e)
	}
	if d := l.Drain(); len(d) != len(wantActs) || d[0].String() != wantActs[0] {
		t.Errorf("first Drain returned %v, want every event", d)
	}
	if d := l.Drain(); len(d) != 0 {
		t.Errorf("second Drain returned %v, want nothing new", d)
	}
	if n := len(l.Between(t0.Add(2*time.Second), t0.Add(5*time.Second))); n != 0 {
		t.Errorf("Between a window with no event returned %d", n)
	}
	if n := len(l.Between(t0, t0.Add(5*time.Second))); n != 1 {
		t.Errorf("Between is half open: got %d events in [t0, unpause), want the pause only", n)
	}
}

// TestEventDetail names a die's exit code and a kill's signal.
func TestEventDetail(t *testing.T) {
	f := &fakeEngine{subs: make(chan *sub)}
	t0 := time.Unix(1_800_000_000, 0)
	lc := make(chan *Log, 1)
	go func() { lc <- Start(context.Background(), f, []string{"ci-01"}, Options{}) }()
	s := <-f.subs
	l := <-lc
	kill := msg("ci-01", "ci-01-control-plane", "kill", t0)
	kill.Actor.Attributes["signal"] = "9"
	die := msg("ci-01", "ci-01-control-plane", "die", t0.Add(time.Millisecond))
	die.Actor.Attributes["exitCode"] = "137"
	s.msgs <- kill
	s.msgs <- die
	l.Close()
	got := l.Between(t0, t0.Add(time.Second))
	if len(got) != 2 || got[0].String() != "ci-01-control-plane kill (signal 9)" || got[1].String() != "ci-01-control-plane die (exit code 137)" {
		t.Fatalf("events %v", got)
	}
}
