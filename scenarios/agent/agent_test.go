package agent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testConfig(cluster string, groups ...string) Config {
	if len(groups) == 0 {
		groups = []string{"default"}
	}
	return Config{
		Cluster: cluster, Address: "10.100.1.101:4001", Groups: groups,
		Interval: 5 * time.Second, FirstDelay: 5 * time.Second, TTL: 10 * time.Second, Housekeeping: 20 * time.Second,
		GoodbyeCopies: 1,
	}
}

func announce(cluster string, sendNS int64, groups ...string) Message {
	if len(groups) == 0 {
		groups = []string{"default"}
	}
	return Message{Kind: KindAnnounce, Seq: 1, SendNS: sendNS, StartNS: 1000, Cluster: cluster, Address: "10.100.2.101:4001", Groups: groups}
}

func goodbye(cluster string) Message {
	m := announce(cluster, 1)
	m.Kind = KindGoodbye
	return m
}

func newTestAgent(t *testing.T, cfg Config, store PeerStore) (*Agent, *fakeClock) {
	t.Helper()
	clk := newFakeClock(t0)
	a, err := New(cfg, (&bus{}).join(), store, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return a, clk
}

func TestDiscoveryWritesGroundTruth(t *testing.T) {
	t.Parallel()
	store := NewMemoryStore()
	a, clk := newTestAgent(t, testConfig("node-01"), store)
	ctx := context.Background()

	recv := t0.Add(1234567 * time.Nanosecond)
	a.HandleMessage(announce("node-02", 99), recv)
	a.Sync(ctx)
	want := Peer{
		Cluster: "node-02", Address: "10.100.2.101:4001", Groups: []string{"default"},
		LastSeen: recv, Expiry: recv.Add(10 * time.Second),
		FirstRecvNS: recv.UnixNano(), FirstSendNS: 99, PeerStartNS: 1000, ObserverStartNS: t0.UnixNano(), Observer: "node-01",
	}
	if diff := cmp.Diff(map[string]Peer{"node-02": want}, store.Snapshot()); diff != "" {
		t.Fatalf("store after first announcement (-want +got):\n%s", diff)
	}

	// A second announcement 1 s later is rate-limited: no write before
	// MinUpdateGap (= interval), and Sync says when to come back.
	clk.Advance(time.Second)
	a.HandleMessage(announce("node-02", 200), clk.Now())
	next := a.Sync(ctx)
	if got := store.Snapshot()["node-02"].LastSeen; !got.Equal(recv) {
		t.Fatalf("lastSeen written before the rate limit allowed: %v", got)
	}
	if wantNext := t0.Add(5 * time.Second); !next.Equal(wantNext) {
		t.Fatalf("Sync next = %v, want %v", next, wantNext)
	}
	clk.Advance(next.Sub(clk.Now()))
	a.Sync(ctx)
	got := store.Snapshot()["node-02"]
	if !got.LastSeen.Equal(t0.Add(time.Second)) || got.FirstSendNS != 99 || got.FirstRecvNS != recv.UnixNano() {
		t.Fatalf("after update: %+v; want lastSeen %v and unchanged ground truth", got, t0.Add(time.Second))
	}
	if n := a.Metrics().APIWrites[opUpdate].Load(); n != 1 {
		t.Fatalf("updates = %d, want 1", n)
	}
}

func TestExpiryAndGoodbye(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		// steps run after node-02 was discovered at t0 and written.
		steps       func(a *Agent, clk *fakeClock)
		wantPresent bool
		expired     int64
		goodbyes    int64
	}{
		{
			name: "not expired before ttl",
			steps: func(a *Agent, clk *fakeClock) {
				clk.Advance(10 * time.Second)
				a.Housekeep(clk.Now())
			},
			wantPresent: true,
		},
		{
			name: "expired after ttl at housekeeping",
			steps: func(a *Agent, clk *fakeClock) {
				clk.Advance(20 * time.Second)
				a.Housekeep(clk.Now())
			},
			expired: 1,
		},
		{
			name: "refreshed peer survives housekeeping",
			steps: func(a *Agent, clk *fakeClock) {
				clk.Advance(15 * time.Second)
				a.HandleMessage(announce("node-02", 2), clk.Now())
				clk.Advance(5 * time.Second)
				a.Housekeep(clk.Now())
			},
			wantPresent: true,
		},
		{
			name:     "goodbye deletes at once",
			steps:    func(a *Agent, clk *fakeClock) { a.HandleMessage(goodbye("node-02"), clk.Now()) },
			goodbyes: 1,
		},
		{
			name: "goodbye from a foreign group is ignored",
			steps: func(a *Agent, clk *fakeClock) {
				m := goodbye("node-02")
				m.Groups = []string{"other"}
				a.HandleMessage(m, clk.Now())
			},
			wantPresent: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := NewMemoryStore()
			a, clk := newTestAgent(t, testConfig("node-01"), store)
			a.HandleMessage(announce("node-02", 1), clk.Now())
			a.Sync(ctx)
			tc.steps(a, clk)
			a.Sync(ctx)
			_, present := store.Snapshot()["node-02"]
			if present != tc.wantPresent {
				t.Fatalf("peer object present = %v, want %v", present, tc.wantPresent)
			}
			if got := len(a.Peers()) == 1; got != tc.wantPresent {
				t.Fatalf("peer table live = %v, want %v", got, tc.wantPresent)
			}
			m := a.Metrics()
			if m.PeersExpired.Load() != tc.expired || m.GoodbyesReceived.Load() != tc.goodbyes {
				t.Fatalf("expired=%d goodbyes=%d, want %d %d", m.PeersExpired.Load(), m.GoodbyesReceived.Load(), tc.expired, tc.goodbyes)
			}
		})
	}
}

func TestRediscoveryRecreatesWithNewGroundTruth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := NewMemoryStore()
	var ops []string
	store.OnChange = func(op string, p Peer) { ops = append(ops, fmt.Sprintf("%s %s %d", op, p.Cluster, p.FirstSendNS)) }
	a, clk := newTestAgent(t, testConfig("node-01"), store)
	a.HandleMessage(announce("node-02", 1), clk.Now())
	a.Sync(ctx)
	// Goodbye and a new announcement arrive before the store caught up: the
	// old object must go and a new one carry the new ground truth.
	a.HandleMessage(goodbye("node-02"), clk.Now())
	clk.Advance(time.Second)
	a.HandleMessage(announce("node-02", 7), clk.Now())
	a.Sync(ctx)
	want := []string{"create node-02 1", "delete node-02 1", "create node-02 7"}
	if diff := cmp.Diff(want, ops); diff != "" {
		t.Fatalf("store operations (-want +got):\n%s", diff)
	}
	if n := a.Metrics().PeersDiscovered.Load(); n != 2 {
		t.Fatalf("discovered = %d, want 2 (a flap counts)", n)
	}
}

func TestFiltering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		groups  []string
		msg     Message
		want    []string // live peers
		own     int64
		foreign int64
	}{
		{name: "own cluster ignored", msg: announce("node-01", 1), own: 1},
		{name: "shared default group", msg: announce("node-02", 1), want: []string{"node-02"}},
		{name: "disjoint groups isolated", groups: []string{"tenant-a"}, msg: announce("node-02", 1, "tenant-b"), foreign: 1},
		{name: "one shared group of several", groups: []string{"tenant-a", "tenant-b"}, msg: announce("node-02", 1, "tenant-c", "tenant-b"), want: []string{"node-02"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, clk := newTestAgent(t, testConfig("node-01", tc.groups...), NewMemoryStore())
			a.HandleMessage(tc.msg, clk.Now())
			var got []string
			for _, p := range a.Peers() {
				got = append(got, p.Cluster)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("live peers (-want +got):\n%s", diff)
			}
			if a.Metrics().PacketsOwn.Load() != tc.own || a.Metrics().PacketsForeign.Load() != tc.foreign {
				t.Fatalf("own=%d foreign=%d, want %d %d", a.Metrics().PacketsOwn.Load(), a.Metrics().PacketsForeign.Load(), tc.own, tc.foreign)
			}
		})
	}
}

func TestPeerTableIsBounded(t *testing.T) {
	t.Parallel()
	cfg := testConfig("node-01")
	cfg.MaxPeers = 100
	store := NewMemoryStore()
	a, clk := newTestAgent(t, cfg, store)
	for i := range 1000 {
		a.HandleMessage(announce(fmt.Sprintf("peer-%d", i), 1), clk.Now())
	}
	a.Sync(context.Background())
	if n := len(a.Peers()); n != 100 {
		t.Fatalf("live peers = %d, want cap 100", n)
	}
	if n := len(store.Snapshot()); n != 100 {
		t.Fatalf("stored peers = %d, want 100", n)
	}
	if n := a.Metrics().PeersRejected.Load(); n != 900 {
		t.Fatalf("rejected = %d, want 900", n)
	}
	// Expired entries free room for new peers.
	clk.Advance(21 * time.Second)
	a.Housekeep(clk.Now())
	a.Sync(context.Background())
	a.HandleMessage(announce("late", 1), clk.Now())
	if got := a.Peers(); len(got) != 1 || got[0].Cluster != "late" {
		t.Fatalf("after expiry live peers = %v, want [late]", got)
	}
}

// TestRunTwoAgents runs two complete agents on an in-memory bus with a fake
// clock: both discover each other at the first announcement, and one
// leaving with a goodbye is removed from the other at once.
func TestRunTwoAgents(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(t0)
	b := &bus{}
	type event struct{ observer, op, peer string }
	events := make(chan event, 64)
	newAgent := func(name string) (*Agent, *MemoryStore) {
		st := NewMemoryStore()
		st.OnChange = func(op string, p Peer) { events <- event{name, op, p.Cluster} }
		a, err := New(testConfig(name), b.join(), st, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		return a, st
	}
	a1, _ := newAgent("node-01")
	a2, st2 := newAgent("node-02")
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() { done1 <- a1.Run(ctx1) }()
	go func() { done2 <- a2.Run(ctx2) }()

	// Each agent arms its announce and housekeeping timers.
	clk.BlockUntil(4)
	clk.Advance(5 * time.Second)
	seen := map[event]bool{}
	for len(seen) < 2 {
		select {
		case e := <-events:
			seen[e] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("agents did not discover each other; events so far %v", seen)
		}
	}
	want := map[event]bool{{"node-01", "create", "node-02"}: true, {"node-02", "create", "node-01"}: true}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	p := st2.Snapshot()["node-01"]
	if p.FirstSendNS != t0.Add(5*time.Second).UnixNano() || p.FirstRecvNS != p.FirstSendNS {
		t.Fatalf("ground truth %+v: want send and recv at t0+5s on the fake clock", p)
	}
	if err := a1.Healthy(); err != nil {
		t.Fatalf("agent 1 unhealthy while running: %v", err)
	}

	cancel1()
	for got := false; !got; {
		select {
		case e := <-events:
			// node-01 deletes its own objects on the way out; node-02 must
			// drop node-01 on the goodbye.
			got = e == event{"node-02", "delete", "node-01"}
		case <-time.After(10 * time.Second):
			t.Fatal("goodbye did not remove node-01 from node-02")
		}
	}
	if err := <-done1; err != nil {
		t.Fatalf("agent 1 Run: %v", err)
	}
	if err := a1.Healthy(); err == nil {
		t.Fatal("stopped agent reports healthy")
	}
	if n := a1.Metrics().GoodbyesSent.Load(); n != 1 {
		t.Fatalf("goodbyes sent = %d, want 1", n)
	}
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("agent 2 Run: %v", err)
	}
}

func BenchmarkHandleMessage(b *testing.B) {
	cfg := testConfig("node-01")
	clk := newFakeClock(t0)
	a, err := New(cfg, (&bus{}).join(), NewMemoryStore(), WithClock(clk))
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]Message, 4096)
	for i := range msgs {
		msgs[i] = announce(fmt.Sprintf("peer-%d", i), int64(i+1))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.HandleMessage(msgs[i%len(msgs)], t0)
		i++
	}
}

func BenchmarkSync4096Peers(b *testing.B) {
	cfg := testConfig("node-01")
	cfg.MinUpdateGap = time.Nanosecond
	clk := newFakeClock(t0)
	a, err := New(cfg, (&bus{}).join(), NewMemoryStore(), WithClock(clk))
	if err != nil {
		b.Fatal(err)
	}
	for i := range 4096 {
		a.HandleMessage(announce(fmt.Sprintf("peer-%d", i), int64(i+1)), t0)
	}
	a.Sync(context.Background())
	b.ReportAllocs()
	for b.Loop() {
		clk.Advance(time.Millisecond)
		for i := range 4096 {
			a.HandleMessage(announce(fmt.Sprintf("peer-%d", i), int64(i+1)), clk.Now())
		}
		a.Sync(context.Background())
	}
}

// orderStore records the order of store calls.
type orderStore struct {
	*MemoryStore
	calls []string
}

func (s *orderStore) Create(ctx context.Context, p Peer) error {
	s.calls = append(s.calls, "create "+p.Cluster)
	return s.MemoryStore.Create(ctx, p)
}

func (s *orderStore) Update(ctx context.Context, p Peer) error {
	s.calls = append(s.calls, "update "+p.Cluster)
	return s.MemoryStore.Update(ctx, p)
}

// TestSyncCreatesBeforeUpdates: a new peer's create is the measured
// discovery, so it must not queue behind lastSeen updates of known peers
// that sort before it.
func TestSyncCreatesBeforeUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &orderStore{MemoryStore: NewMemoryStore()}
	a, clk := newTestAgent(t, testConfig("node-01"), store)
	a.HandleMessage(announce("node-02", 1), clk.Now())
	a.HandleMessage(announce("node-03", 1), clk.Now())
	a.Sync(ctx)
	clk.Advance(5 * time.Second)
	a.HandleMessage(announce("node-02", 2), clk.Now())
	a.HandleMessage(announce("node-03", 2), clk.Now())
	a.HandleMessage(announce("node-04", 2), clk.Now())
	store.calls = nil
	a.Sync(ctx)
	want := []string{"create node-04", "update node-02", "update node-03"}
	if diff := cmp.Diff(want, store.calls); diff != "" {
		t.Fatalf("store call order (-want +got):\n%s", diff)
	}
}
