package dockerhost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/system"
)

// fakeClock is our clock: it only moves when the fake engine's latency
// moves it.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// leg is one round trip's latencies: up to the engine reading its clock,
// and back.
type leg struct{ up, down time.Duration }

// shiftedEngine is an engine whose clock is ours plus shift, reached with
// the latencies of legs, one per call.
type shiftedEngine struct {
	clock *fakeClock
	shift time.Duration
	legs  []leg
	calls int
	fail  map[int]error  // call index → error
	time  map[int]string // call index → SystemTime override
}

func (f *shiftedEngine) Info(context.Context) (system.Info, error) {
	i := f.calls
	f.calls++
	l := f.legs[i%len(f.legs)]
	f.clock.t = f.clock.t.Add(l.up)
	remote := f.clock.t.Add(f.shift).Format(time.RFC3339Nano)
	f.clock.t = f.clock.t.Add(l.down)
	if err := f.fail[i]; err != nil {
		return system.Info{}, err
	}
	if s, ok := f.time[i]; ok {
		remote = s
	}
	return system.Info{Name: "host-b", SystemTime: remote}, nil
}

func TestClockOffset(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		shift  time.Duration
		legs   []leg
		bestI  int           // the sample that must win
		offset time.Duration // its offset
		spread time.Duration
	}{
		{"symmetric fastest", 1500 * ms, []leg{{9 * ms, 1 * ms}, {1 * ms, 1 * ms}, {5 * ms, 3 * ms}}, 1, 1500 * ms, 4 * ms},
		{"asymmetric fastest", -250 * ms, []leg{{10 * ms, 0}, {3 * ms, 1 * ms}, {2 * ms, 7 * ms}}, 1, -249 * ms, 7500 * time.Microsecond},
		{"first of equals", 42 * time.Second, []leg{{2 * ms, 2 * ms}, {1 * ms, 3 * ms}}, 0, 42 * time.Second, 1 * ms},
		{"one sample", -3 * time.Hour, []leg{{400 * time.Microsecond, 600 * time.Microsecond}}, 0, -3*time.Hour - 100*time.Microsecond, 0},
		{"sub-microsecond", 1234567, []leg{{300, 200}, {200, 200}}, 1, 1234567, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
			eng := &shiftedEngine{clock: clock, shift: tt.shift, legs: tt.legs}
			got, err := ClockOffset(context.Background(), eng, len(tt.legs), clock.now)
			if err != nil {
				t.Fatal(err)
			}
			best := tt.legs[tt.bestI]
			want := Offset{
				Host: "host-b", OffsetNS: int64(tt.offset), UncertaintyNS: int64((best.up + best.down) / 2),
				RTTNS: int64(best.up + best.down), Samples: len(tt.legs), SpreadNS: int64(tt.spread),
			}
			if got != want {
				t.Errorf("ClockOffset = %+v, want %+v", got, want)
			}
			if d := got.OffsetNS - int64(tt.shift); d > got.UncertaintyNS || -d > got.UncertaintyNS {
				t.Errorf("estimate %v is %v off the true shift %v, beyond the uncertainty %v",
					time.Duration(got.OffsetNS), time.Duration(d), tt.shift, time.Duration(got.UncertaintyNS))
			}
			if eng.calls != len(tt.legs) {
				t.Errorf("%d calls of /info, want %d", eng.calls, len(tt.legs))
			}
		})
	}
}

func TestClockOffsetErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		samples int
		fail    map[int]error
		time    map[int]string
		legs    []leg
		want    string
	}{
		{name: "no samples", samples: 0, want: "0 samples, want at least 1"},
		{name: "info fails", samples: 3, fail: map[int]error{1: errors.New("connection reset")}, want: "sample 2 of 3: reading /info: connection reset"},
		{name: "bad SystemTime", samples: 2, time: map[int]string{0: "yesterday"}, want: `sample 1 of 2: /info SystemTime: parsing time "yesterday"`},
		{name: "no SystemTime", samples: 1, time: map[int]string{0: ""}, want: "/info has no SystemTime"},
		{name: "clock went back", samples: 1, legs: []leg{{time.Millisecond, -2 * time.Millisecond}}, want: "our clock went back 1ms"},
		{name: "canceled", ctx: canceled, samples: 2, want: "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			legs := tt.legs
			if legs == nil {
				legs = []leg{{time.Millisecond, time.Millisecond}}
			}
			clock := &fakeClock{t: time.Unix(1e9, 0)}
			eng := &shiftedEngine{clock: clock, legs: legs, fail: tt.fail, time: tt.time}
			_, err := ClockOffset(ctx, eng, tt.samples, clock.now)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "clock offset of Docker engine") {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// namedInfo is an InfoAPI with a name, as Engine is.
type namedInfo struct{ *shiftedEngine }

func (namedInfo) Name() string { return "host-b" }

func TestClockOffsetNamesTheEngine(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	eng := namedInfo{&shiftedEngine{clock: clock, legs: []leg{{1, 1}}, fail: map[int]error{0: errors.New("EOF")}}}
	_, err := ClockOffset(context.Background(), eng, 1, clock.now)
	if err == nil || !strings.HasPrefix(err.Error(), "clock offset of Docker engine host-b, sample 1 of 1") {
		t.Errorf("error %v does not name the engine", err)
	}
}

func TestClockOffsetDefaultClock(t *testing.T) {
	sock := serveUnix(t, fakeEngine(t, "engine-a"))
	c, err := mustParse(t, "unix://"+sock, TLSFiles{}).Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := ClockOffset(context.Background(), c, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The fake engine stamps with our own clock: the offset is within the
	// uncertainty (plus the RFC 3339 formatting's rounding, none at ns).
	if got.Samples != 3 || got.Host != "engine-a" || got.RTTNS <= 0 || abs(got.OffsetNS) > got.UncertaintyNS {
		t.Errorf("ClockOffset against a same-clock engine = %+v", got)
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
