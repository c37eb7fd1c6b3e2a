package runner

import (
	"fmt"
	"strings"
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

// A node container's fault event is stamped by its host's engine: on the
// runner's clock it moves by that host's offset, and the merged log is in
// the runner's time order (the engine-stream's own events are local).
func TestFaultsOnRunnerClock(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	evs := []FaultEvent{
		{Time: at(100), Cluster: "b", Event: "pause"},   // b's host 50 ms behind: 150 here
		{Time: at(120), Cluster: "c", Event: "pause"},   // c's host 30 ms ahead: 90 here
		{Time: at(130), Event: "events-lost"},           // stamped by the runner
		{Time: at(140), Cluster: "a", Event: "unpause"}, // a's host: the runner's
	}
	for _, tc := range []struct {
		name    string
		offsets map[string]int64
		want    string
	}{
		{"one host", nil, "b:pause@100 c:pause@120 :events-lost@130 a:unpause@140"},
		{"three hosts", map[string]int64{"a": 0, "b": -50e6, "c": 30e6}, "c:pause@90 :events-lost@130 a:unpause@140 b:pause@150"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range onRunnerClock(evs, tc.offsets) {
				got = append(got, fmt.Sprintf("%s:%s@%d", e.Cluster, e.Event, e.Time.Sub(t0).Milliseconds()))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("got %s\nwant %s", g, tc.want)
			}
		})
	}
	if evs[0].Time != at(100) {
		t.Error("onRunnerClock changed its input")
	}
}
