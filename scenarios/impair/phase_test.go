package impair

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestParsePhase(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Phase
		wantErr bool
	}{
		{"", PhaseRandom, false},
		{"random", PhaseRandom, false},
		{"aligned", PhaseAligned, false},
		{"Aligned", "", true},
		{"fixed", "", true},
	} {
		got, err := ParsePhase(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParsePhase(%q) = %q, %v; want %q, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestPauseDeterministicAndInRange(t *testing.T) {
	const T = 5 * time.Second
	seen := map[time.Duration]bool{}
	for i := 0; i < 500; i++ {
		a := PhaseRandom.Pause(42, "loss-25", i, T)
		if b := PhaseRandom.Pause(42, "loss-25", i, T); a != b {
			t.Fatalf("index %d: pause not reproducible: %v then %v", i, a, b)
		}
		if a < 0 || a >= T {
			t.Fatalf("index %d: pause %v outside [0, %v)", i, a, T)
		}
		seen[a] = true
	}
	if len(seen) < 495 {
		t.Errorf("only %d distinct pauses in 500 draws", len(seen))
	}
	// Each input changes the draw.
	base := PhaseRandom.Pause(42, "loss-25", 7, T)
	for name, other := range map[string]time.Duration{
		"seed":      PhaseRandom.Pause(43, "loss-25", 7, T),
		"condition": PhaseRandom.Pause(42, "loss-10", 7, T),
		"index":     PhaseRandom.Pause(42, "loss-25", 8, T),
	} {
		if other == base {
			t.Errorf("changing the %s did not change the pause (%v)", name, base)
		}
	}
	for _, tc := range []struct {
		p Phase
		T time.Duration
	}{{PhaseAligned, T}, {PhaseRandom, 0}, {PhaseRandom, -time.Second}} {
		if got := tc.p.Pause(42, "c", 3, tc.T); got != 0 {
			t.Errorf("%s.Pause(T=%v) = %v, want 0", tc.p, tc.T, got)
		}
	}
}

// fakeClock is a manually advanced clock: the simulation never sleeps.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// announcer is a peer that announces every period, starting at first.
type announcer struct {
	first  time.Time
	period time.Duration
}

// next is the first announcement at or after t.
func (a announcer) next(t time.Time) time.Time {
	if !t.After(a.first) {
		return a.first
	}
	n := (t.Sub(a.first) + a.period - 1) / a.period
	return a.first.Add(n * a.period)
}

// simulateCampaign runs n cycles of "pause, start node A, wait for its
// agent to start (startup) and hear the peer's next announcement, then
// wait for the next slot of a fixed cycle", on a fake clock, and returns
// the discovery times. The cycle is a multiple of the announce period (the
// phase-locking trap); slots are disturbed by scheduling noise of ±1 % of
// the period, and startup by another ±1 %.
func simulateCampaign(phase Phase, n int, T time.Duration) []time.Duration {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	peer := announcer{first: clk.Now().Add(1234 * time.Millisecond), period: T}
	noise := rand.New(rand.NewPCG(1, 2))
	jitter := func(frac float64) time.Duration {
		return time.Duration((noise.Float64()*2 - 1) * frac * float64(T))
	}
	cycle := 3 * T
	anchor := clk.Now()
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		// The cycle's slot i begins at anchor + i*cycle, give or take noise.
		slot := anchor.Add(time.Duration(i)*cycle + jitter(0.01))
		clk.Advance(slot.Sub(clk.Now()))
		clk.Advance(phase.Pause(2024, "loss-0", i, T))
		start := clk.Now()
		startup := time.Second + jitter(0.01)
		found := peer.next(start.Add(startup))
		out = append(out, found.Sub(start))
		clk.Advance(found.Sub(start))
	}
	return out
}

func iqr(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))] }
	return q(0.75) - q(0.25)
}

func TestPhaseLockingSimulation(t *testing.T) {
	const T = 5 * time.Second
	for _, tc := range []struct {
		phase       Phase
		minIQR      float64 // fraction of T
		maxIQR      float64
		wantSpanMin float64 // max-min at least this fraction of T
	}{
		{PhaseAligned, 0, 0.05, 0},
		{PhaseRandom, 0.40, 0.60, 0.9},
	} {
		t.Run(string(tc.phase), func(t *testing.T) {
			times := simulateCampaign(tc.phase, 200, T)
			got := float64(iqr(times)) / float64(T)
			t.Logf("%s: IQR %.3f T over %d runs", tc.phase, got, len(times))
			if got < tc.minIQR || got > tc.maxIQR {
				t.Errorf("IQR = %.3f T, want in [%.2f, %.2f] T", got, tc.minIQR, tc.maxIQR)
			}
			lo, hi := times[0], times[0]
			for _, d := range times {
				lo, hi = min(lo, d), max(hi, d)
				// Discovery = startup (~1 s) + wait for the next announcement (< T).
				if d < 990*time.Millisecond || d > time.Second+T+T/100 {
					t.Fatalf("discovery %v outside the model's [startup, startup+T]", d)
				}
			}
			if span := float64(hi-lo) / float64(T); span < tc.wantSpanMin {
				t.Errorf("span = %.3f T, want >= %.2f T", span, tc.wantSpanMin)
			}
		})
	}
}
