package capture

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Clocks is one sample of CLOCK_REALTIME, the clock of kernel packet
// timestamps, and CLOCK_MONOTONIC, the clock of Go's runtime (time.Since,
// timers), read back to back: monotonic, realtime, monotonic.
type Clocks struct {
	// Realtime is CLOCK_REALTIME.
	Realtime time.Time
	// Monotonic is CLOCK_MONOTONIC (time since boot, suspend excluded),
	// the midpoint of the two monotonic reads around the realtime read.
	Monotonic time.Duration
	// Uncertainty is the gap between those two monotonic reads: the
	// realtime read happened within Monotonic ± Uncertainty/2.
	Uncertainty time.Duration
}

// Offset is Realtime − Monotonic: add it to a CLOCK_MONOTONIC instant to
// get the CLOCK_REALTIME instant, subtract it from a kernel timestamp to
// get the CLOCK_MONOTONIC instant. It is exact to ±Uncertainty/2.
func (c Clocks) Offset() time.Duration {
	return time.Duration(c.Realtime.UnixNano()) - c.Monotonic
}

// ToMonotonic maps a CLOCK_REALTIME instant (a Packet's Time) to
// CLOCK_MONOTONIC with this sample's offset.
func (c Clocks) ToMonotonic(t time.Time) time.Duration {
	return time.Duration(t.UnixNano()) - c.Offset()
}

// Step compares two samples, typically taken at the start and the end of
// a run: step is the change of the offset (a wall-clock step, or the
// accumulated NTP slew), tolerance the sum of both uncertainties. A
// |step| above tolerance means kernel timestamps of the run cannot be
// mapped to the monotonic clock with one offset.
func Step(start, end Clocks) (step, tolerance time.Duration) {
	return end.Offset() - start.Offset(), start.Uncertainty + end.Uncertainty
}

// clockTries is how many back-to-back reads ClockSample makes; it keeps
// the one with the smallest uncertainty (a busy machine may preempt one).
const clockTries = 5

// ClockSample reads CLOCK_REALTIME between two reads of CLOCK_MONOTONIC,
// clockTries times, and returns the tightest sample.
func ClockSample() (Clocks, error) {
	var best Clocks
	for i := range clockTries {
		var m1, r, m2 unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1); err != nil {
			return Clocks{}, fmt.Errorf("capture: clock_gettime(CLOCK_MONOTONIC): %w", err)
		}
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &r); err != nil {
			return Clocks{}, fmt.Errorf("capture: clock_gettime(CLOCK_REALTIME): %w", err)
		}
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &m2); err != nil {
			return Clocks{}, fmt.Errorf("capture: clock_gettime(CLOCK_MONOTONIC): %w", err)
		}
		a, b := time.Duration(m1.Nano()), time.Duration(m2.Nano())
		c := Clocks{Realtime: time.Unix(0, r.Nano()), Monotonic: a + (b-a)/2, Uncertainty: b - a}
		if i == 0 || c.Uncertainty < best.Uncertainty {
			best = c
		}
	}
	return best, nil
}
