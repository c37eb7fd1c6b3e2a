package capture

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

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
