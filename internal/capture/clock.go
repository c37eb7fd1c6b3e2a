package capture

import "time"

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
