package capture

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// FuzzDecode: Decode never panics, every error wraps one sentinel, and a
// decoded packet is consistent. Seeds: every fixture frame and every
// hand-made frame, each truncated at every length, and random bytes.
func FuzzDecode(f *testing.F) {
	var seeds [][]byte
	for _, name := range []string{"announce.pcap", "igmp.pcap", "malformed.pcap"} {
		frames, _ := readFrames(f, name)
		seeds = append(seeds, frames...)
	}
	seeds = append(seeds, validFrames()...)
	for _, c := range malformedFrames() {
		seeds = append(seeds, c.frame)
	}
	for _, s := range seeds {
		for n := 0; n <= len(s); n++ {
			f.Add(s[:n])
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 64 {
		b := make([]byte, rng.IntN(300))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		f.Add(b)
		// Random bytes behind a valid IPv4 Ethernet header too.
		if len(b) > 14 {
			b[12], b[13], b[14] = 0x08, 0x00, 0x45
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		p, err := Decode(frame, t0)
		if err != nil {
			if errors.Is(err, ErrMalformed) == errors.Is(err, ErrNotDiscovery) {
				t.Fatalf("error %v wraps neither or both sentinels", err)
			}
			return
		}
		checkPacket(t, p, len(frame))
	})
}

func checkPacket(t *testing.T, p Packet, n int) {
	t.Helper()
	if !p.Time.Equal(t0) || !p.SrcIP.Is4() || !p.DstIP.Is4() {
		t.Fatalf("bad header fields %+v", p)
	}
	switch p.Kind {
	case KindAnnouncement:
		if !p.DstIP.IsMulticast() || p.Group.Addr != p.DstIP || p.Group.Port != p.DstPort || p.PayloadLen < 0 || len(p.Events) != 0 {
			t.Fatalf("bad announcement %+v", p)
		}
	case KindMembership:
		if len(p.Events) > n/8 {
			t.Fatalf("%d events from %d bytes", len(p.Events), n)
		}
		for _, e := range p.Events {
			if !e.Group.IsMulticast() || e.Op < OpJoin || e.Op > OpOther || e.Version < 1 || e.Version > 3 {
				t.Fatalf("bad event %+v", e)
			}
		}
	case KindQuery, KindIGMPOther:
		if len(p.Events) != 0 {
			t.Fatalf("events on %v", p.Kind)
		}
	default:
		t.Fatalf("kind %v", p.Kind)
	}
}

// TestDecodeRandom runs the fuzz property over a fixed random corpus in
// every plain test run.
func TestDecodeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := validFrames()
	start := time.Now()
	for i := range 20000 {
		f := append([]byte(nil), base[i%len(base)]...)
		for range 1 + rng.IntN(4) {
			f[rng.IntN(len(f))] = byte(rng.Uint32())
		}
		f = f[:rng.IntN(len(f)+1)]
		p, err := Decode(f, t0)
		if err == nil {
			checkPacket(t, p, len(f))
		} else if errors.Is(err, ErrMalformed) == errors.Is(err, ErrNotDiscovery) {
			t.Fatalf("error %v wraps neither or both sentinels", err)
		}
	}
	t.Logf("20000 mutated frames in %v", time.Since(start))
}
