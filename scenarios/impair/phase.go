package impair

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"
)

// Phase is how a run's start is placed relative to the protocol's announce
// cycle.
type Phase string

const (
	// PhaseRandom waits a uniformly random pause in [0, T) before each
	// start, so runs sample every phase of the announce period (unbiased).
	// It is the default.
	PhaseRandom Phase = "random"
	// PhaseAligned adds no pause: runs follow a fixed cycle, as the reference
	// study did. If the cycle matches the announce period, every run samples
	// the same phase and the distribution collapses; label results as such.
	PhaseAligned Phase = "aligned"
)

// ParsePhase accepts "random" (also "") and "aligned".
func ParsePhase(s string) (Phase, error) {
	switch Phase(s) {
	case "", PhaseRandom:
		return PhaseRandom, nil
	case PhaseAligned:
		return PhaseAligned, nil
	}
	return "", fmt.Errorf("phase %q: want random or aligned", s)
}

// Pause is the wait before start of run index of condition, for announce
// period T. It depends only on (seed, condition, index), so a resumed
// campaign draws the same pauses. PhaseAligned always returns 0.
func (p Phase) Pause(seed int64, condition string, index int, T time.Duration) time.Duration {
	if p == PhaseAligned || T <= 0 {
		return 0
	}
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(len(condition)))
	h.Write(b[:])
	h.Write([]byte(condition))
	binary.BigEndian.PutUint64(b[:], uint64(index))
	h.Write(b[:])
	sum := h.Sum(nil)
	r := rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])))
	return time.Duration(r.Int64N(int64(T)))
}
