package runner

import (
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results"
)

// On several hosts the agent stamps its ground truth with its own host's
// clock: A's receive stamp is corrected by A's host offset, the peer's send
// stamp by the peer's.
func TestTruthCorrectedByHostClocks(t *testing.T) {
	for _, tc := range []struct {
		name          string
		offsets       map[string]int64
		wantR, wantS  float64
		recvNS, sndNS int64 // stamps relative to t0 on the hosts' clocks
	}{
		{"one host", nil, 795, 793, 795e6, 793e6},
		{"A's host 3 ms ahead, b's 2 ms behind", map[string]int64{"a": 3e6, "b": -2e6}, 792, 795, 795e6, 793e6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			s := newRunState("a", []string{"b"}, false)
			s.t0, s.offsets = t0, tc.offsets
			o := s.get(obsKey{"a", "b"})
			first := t0.Add(800 * time.Millisecond)
			recv, send := t0.UnixNano()+tc.recvNS, t0.UnixNano()+tc.sndNS
			o.first, o.truthRecv, o.truthSend = &first, &recv, &send
			var r results.Run
			s.fill(&r)
			p := r.Peers[0]
			if *p.TruthMS != tc.wantR || *p.TruthSendMS != tc.wantS || *p.DiscoveredMS != 800 {
				t.Errorf("truth %v send %v discovered %v, want %v %v 800", *p.TruthMS, *p.TruthSendMS, *p.DiscoveredMS, tc.wantR, tc.wantS)
			}
		})
	}
}
