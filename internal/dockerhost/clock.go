package dockerhost

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/system"
)

// InfoAPI is the part of the Engine API ClockOffset reads (GET /info).
type InfoAPI interface {
	Info(ctx context.Context) (system.Info, error)
}

// Offset is an engine's clock as seen from this process.
type Offset struct {
	// Host is the engine host's name as /info reports it.
	Host string
	// OffsetNS is the engine's clock minus ours, from the sample with the
	// smallest round trip.
	OffsetNS int64
	// UncertaintyNS is half that sample's round trip: the true offset is
	// within OffsetNS ± UncertaintyNS if the engine read its clock between
	// our two readings.
	UncertaintyNS int64
	// RTTNS is that sample's round trip.
	RTTNS int64
	// Samples is how many samples were taken.
	Samples int
	// SpreadNS is the largest minus the smallest offset over all samples.
	SpreadNS int64
}

// clockSample is one round trip to /info.
type clockSample struct {
	offset, rtt time.Duration
	host        string
}

// ClockOffset measures the offset of an engine's clock from ours through
// the Engine API. Each of samples round trips reads our clock (t1), the
// engine's SystemTime (RFC 3339, nanoseconds) from /info, and our clock
// again (t2); its offset is engine − (t1+t2)/2 and its uncertainty
// (t2−t1)/2. The sample with the smallest round trip is kept (the first
// of equals), the spread of all the samples' offsets reported. now is our
// clock (time.Now when nil); with time.Now the round trip is measured on
// the monotonic clock and the offset on the wall clock.
//
// Containers share their host's kernel clock, so an engine's SystemTime is
// the clock its KinD node containers, and every process in them, stamp
// their times with: the offset of an engine is the offset of its clusters.
//
// If api also has a Name() string method (as Engine does), errors carry
// that name.
func ClockOffset(ctx context.Context, api InfoAPI, samples int, now func() time.Time) (Offset, error) {
	where := engineName(api)
	if samples < 1 {
		return Offset{}, fmt.Errorf("clock offset of %s: %d samples, want at least 1", where, samples)
	}
	if now == nil {
		now = time.Now
	}
	var best clockSample
	lo, hi := time.Duration(0), time.Duration(0)
	for i := range samples {
		if err := ctx.Err(); err != nil {
			return Offset{}, fmt.Errorf("clock offset of %s: %w", where, err)
		}
		s, err := sampleClock(ctx, api, now)
		if err != nil {
			return Offset{}, fmt.Errorf("clock offset of %s, sample %d of %d: %w", where, i+1, samples, err)
		}
		if i == 0 || s.rtt < best.rtt {
			best = s
		}
		if i == 0 || s.offset < lo {
			lo = s.offset
		}
		if i == 0 || s.offset > hi {
			hi = s.offset
		}
	}
	return Offset{
		Host:          best.host,
		OffsetNS:      best.offset.Nanoseconds(),
		UncertaintyNS: (best.rtt / 2).Nanoseconds(),
		RTTNS:         best.rtt.Nanoseconds(),
		Samples:       samples,
		SpreadNS:      (hi - lo).Nanoseconds(),
	}, nil
}

func sampleClock(ctx context.Context, api InfoAPI, now func() time.Time) (clockSample, error) {
	t1 := now()
	info, err := api.Info(ctx)
	t2 := now()
	if err != nil {
		return clockSample{}, fmt.Errorf("reading /info: %w", err)
	}
	if info.SystemTime == "" {
		return clockSample{}, errors.New("/info has no SystemTime")
	}
	remote, err := time.Parse(time.RFC3339Nano, info.SystemTime)
	if err != nil {
		return clockSample{}, fmt.Errorf("/info SystemTime: %w", err)
	}
	rtt := t2.Sub(t1)
	if rtt < 0 {
		return clockSample{}, fmt.Errorf("our clock went back %v during the round trip", -rtt)
	}
	mid := t1.Add(rtt / 2)
	return clockSample{offset: remote.Sub(mid), rtt: rtt, host: info.Name}, nil
}

// engineName names an engine in errors: its Name() when it has one.
func engineName(api any) string {
	if n, ok := api.(interface{ Name() string }); ok && n.Name() != "" {
		return "Docker engine " + n.Name()
	}
	return "Docker engine"
}
