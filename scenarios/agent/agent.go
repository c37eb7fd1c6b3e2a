package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Transport is the agent's datagram socket: in production a UDP multicast
// socket on the discovery interface, in tests an in-memory bus.
type Transport interface {
	// Send transmits one packet to the group.
	Send(ctx context.Context, p []byte) error
	// Recv blocks for the next packet and returns its length; a packet longer
	// than buf is truncated to len(buf). After Close it returns an error.
	Recv(ctx context.Context, buf []byte) (int, error)
	Close() error
}

// StampedTransport is a Transport that also tells when each packet
// arrived, by the kernel's clock (CLOCK_REALTIME, like time.Now's wall
// reading): the agent's ground-truth receive stamp is then the frame's
// arrival, free of the agent's scheduling delay.
type StampedTransport interface {
	Transport
	RecvStamped(ctx context.Context, buf []byte) (n int, at time.Time, err error)
}

// Config is the protocol configuration of one agent.
type Config struct {
	// Cluster is this agent's identity (a DNS label).
	Cluster string
	// Address is the ip:port this agent announces.
	Address string
	// Groups this agent belongs to; peers sharing none are ignored.
	Groups []string
	// Interval between announcements (default 5 s).
	Interval time.Duration
	// FirstDelay before the first announcement (0 = immediate).
	FirstDelay time.Duration
	// TTL after the last announcement before a peer expires (default 10 s).
	TTL time.Duration
	// Housekeeping is the period of the expiry sweep (default 20 s).
	Housekeeping time.Duration
	// MaxPeers caps the peer table (default 4096); new peers beyond it are
	// rejected and counted.
	MaxPeers int
	// GoodbyeCopies is how many goodbyes are sent on shutdown (default 3),
	// GoodbyeSpacing the pause between them (default 20 ms).
	GoodbyeCopies  int
	GoodbyeSpacing time.Duration
	// MinUpdateGap rate-limits lastSeen writes per peer (default Interval).
	MinUpdateGap time.Duration
	// APITimeout bounds each API call (default 10 s).
	APITimeout time.Duration
	// MaxBackoff caps the retry backoff of a failed API write (default 30 s).
	MaxBackoff time.Duration
}

// Defaults of Config.
const (
	DefaultInterval     = 5 * time.Second
	DefaultTTL          = 10 * time.Second
	DefaultHousekeeping = 20 * time.Second
	DefaultMaxPeers     = 4096
	minBackoff          = 200 * time.Millisecond
)

func (c *Config) setDefaults() {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Housekeeping == 0 {
		c.Housekeeping = DefaultHousekeeping
	}
	if c.MaxPeers == 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	if c.GoodbyeCopies == 0 {
		c.GoodbyeCopies = 3
	}
	if c.GoodbyeSpacing == 0 {
		c.GoodbyeSpacing = 20 * time.Millisecond
	}
	if c.MinUpdateGap == 0 {
		c.MinUpdateGap = c.Interval
	}
	if c.APITimeout == 0 {
		c.APITimeout = 10 * time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Second
	}
}

// Validate reports every problem of the configuration, joined.
func (c Config) Validate() error {
	var errs []error
	if err := ValidateName(c.Cluster); err != nil {
		errs = append(errs, fmt.Errorf("cluster: %w", err))
	}
	if _, err := netip.ParseAddrPort(c.Address); err != nil {
		errs = append(errs, fmt.Errorf("address %q: %w", c.Address, err))
	}
	if len(c.Groups) == 0 || len(c.Groups) > MaxGroups {
		errs = append(errs, fmt.Errorf("%d groups, want 1 to %d", len(c.Groups), MaxGroups))
	}
	for _, g := range c.Groups {
		if err := ValidateName(g); err != nil {
			errs = append(errs, fmt.Errorf("group: %w", err))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", c.Interval}, {"ttl", c.TTL}, {"housekeeping", c.Housekeeping}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v must not be negative", d.name, d.v))
		}
	}
	if c.FirstDelay < 0 {
		errs = append(errs, fmt.Errorf("first delay %v must not be negative", c.FirstDelay))
	}
	if c.MaxPeers < 0 {
		errs = append(errs, fmt.Errorf("max peers %d must not be negative", c.MaxPeers))
	}
	return errors.Join(errs...)
}

// Agent announces its cluster and mirrors its peers into a PeerStore.
type Agent struct {
	cfg     Config
	clock   Clock
	tr      Transport
	store   PeerStore
	log     *slog.Logger
	metrics *Metrics
	startNS int64
	seq     atomic.Uint64

	mu    sync.Mutex
	peers map[string]*peerEntry
	kick  chan struct{}

	announceAlive atomic.Bool
	receiveAlive  atomic.Bool
	syncAlive     atomic.Bool
	lastAnnounce  atomic.Int64 // Unix ns of the last announce attempt
}

// peerEntry is one row of the peer table: what we want (present) and what
// the store has (created).
type peerEntry struct {
	peer      Peer
	present   bool // the peer is alive
	created   bool // the store holds its object
	recreate  bool // it came back while its old object still exists
	dirty     bool // lastSeen changed since the last write
	lastWrite time.Time
	failures  int
	nextTry   time.Time
}

// Option configures New.
type Option func(*Agent)

// WithClock replaces the wall clock.
func WithClock(c Clock) Option { return func(a *Agent) { a.clock = c } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(a *Agent) { a.log = l } }

// WithMetrics shares a Metrics instance (default: a new one).
func WithMetrics(m *Metrics) Option { return func(a *Agent) { a.metrics = m } }

// New validates cfg, applies defaults and returns an agent.
func New(cfg Config, tr Transport, store PeerStore, opts ...Option) (*Agent, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid agent configuration: %w", err)
	}
	if tr == nil || store == nil {
		return nil, errors.New("agent needs a transport and a peer store")
	}
	cfg.Groups = slices.Clone(cfg.Groups)
	slices.Sort(cfg.Groups)
	cfg.Groups = slices.Compact(cfg.Groups)
	a := &Agent{
		cfg:   cfg,
		clock: RealClock{},
		tr:    tr,
		store: store,
		peers: map[string]*peerEntry{},
		kick:  make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(a)
	}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if a.metrics == nil {
		a.metrics = &Metrics{}
	}
	a.startNS = a.clock.Now().UnixNano()
	return a, nil
}

// Metrics returns the agent's metrics.
func (a *Agent) Metrics() *Metrics { return a.metrics }

// Config returns the effective configuration (defaults applied).
func (a *Agent) Config() Config { return a.cfg }

// Healthy reports an error if a loop of a running agent died or the announce
// loop is stuck.
func (a *Agent) Healthy() error {
	var errs []error
	if !a.announceAlive.Load() {
		errs = append(errs, errors.New("announce loop is not running"))
	}
	if !a.receiveAlive.Load() {
		errs = append(errs, errors.New("receive loop is not running"))
	}
	if !a.syncAlive.Load() {
		errs = append(errs, errors.New("peer store loop is not running"))
	}
	if last := a.lastAnnounce.Load(); last != 0 {
		if age := a.clock.Now().Sub(time.Unix(0, last)); age > 3*a.cfg.Interval+time.Second {
			errs = append(errs, fmt.Errorf("last announcement %v ago", age.Round(time.Millisecond)))
		}
	}
	return errors.Join(errs...)
}

// Run announces, listens, expires and writes peers until ctx ends; before
// its first write it purges leftovers of an earlier run from the store. On
// the way out it sends goodbyes, closes the transport and deletes the peer
// objects it created (bounded by APITimeout). It returns nil on a clean
// shutdown.
func (a *Agent) Run(ctx context.Context) error {
	a.announceAlive.Store(true)
	a.receiveAlive.Store(true)
	a.syncAlive.Store(true)
	a.lastAnnounce.Store(time.Unix(0, a.startNS).Add(a.cfg.FirstDelay).UnixNano())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer a.announceAlive.Store(false)
		return a.announceLoop(gctx)
	})
	g.Go(func() error {
		defer a.receiveAlive.Store(false)
		return a.receiveLoop(gctx)
	})
	g.Go(func() error {
		defer a.syncAlive.Store(false)
		// Stale objects of an earlier run go first, so that every object
		// this run writes describes this run's discoveries. Peers heard
		// meanwhile wait in the table.
		if n, err := a.purge(gctx); err != nil {
			// Not fatal: stale objects are overwritten when their peer speaks.
			a.log.Warn("could not purge stale peer objects", "cluster", a.cfg.Cluster, "err", err)
		} else if n > 0 {
			a.log.Info("purged stale peer objects", "count", n)
		}
		return a.syncLoop(gctx)
	})
	g.Go(func() error { return a.housekeepingLoop(gctx) })
	// Close the socket when asked to stop so that Recv returns, after the
	// goodbyes went out.
	g.Go(func() error {
		<-gctx.Done()
		if ctx.Err() != nil {
			a.sendGoodbyes(context.WithoutCancel(ctx))
		}
		return a.tr.Close()
	})
	err := g.Wait()
	a.cleanup(context.WithoutCancel(ctx))
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return nil
	}
	return err
}

func (a *Agent) purge(ctx context.Context) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, a.cfg.APITimeout)
	defer cancel()
	n, err := a.store.Purge(cctx)
	if err != nil {
		a.metrics.APIErrors[opPurge].Add(1)
		return 0, err
	}
	a.metrics.APIWrites[opPurge].Add(1)
	return n, nil
}

func (a *Agent) message(kind Kind) Message {
	return Message{
		Kind:    kind,
		Seq:     a.seq.Add(1),
		SendNS:  a.clock.Now().UnixNano(),
		StartNS: a.startNS,
		Cluster: a.cfg.Cluster,
		Address: a.cfg.Address,
		Groups:  a.cfg.Groups,
	}
}

// announce sends one announcement; a failure is counted, never fatal.
func (a *Agent) announce(ctx context.Context) {
	a.lastAnnounce.Store(a.clock.Now().UnixNano())
	b, err := Encode(a.message(KindAnnounce))
	if err == nil {
		err = a.tr.Send(ctx, b)
	}
	if err != nil {
		if ctx.Err() == nil {
			a.metrics.SendErrors.Add(1)
			a.log.Warn("announcement not sent", "cluster", a.cfg.Cluster, "err", err)
		}
		return
	}
	a.metrics.AnnouncementsSent.Add(1)
}

func (a *Agent) sendGoodbyes(ctx context.Context) {
	for i := range a.cfg.GoodbyeCopies {
		if i > 0 && !a.sleep(ctx, a.cfg.GoodbyeSpacing) {
			return
		}
		b, err := Encode(a.message(KindGoodbye))
		if err == nil {
			err = a.tr.Send(ctx, b)
		}
		if err != nil {
			a.metrics.SendErrors.Add(1)
			a.log.Warn("goodbye not sent", "cluster", a.cfg.Cluster, "err", err)
			continue
		}
		a.metrics.GoodbyesSent.Add(1)
	}
}

// sleep waits d on the agent's clock; false if ctx ended first.
func (a *Agent) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := a.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

func (a *Agent) announceLoop(ctx context.Context) error {
	// The schedule is anchored at the agent's start time, which every
	// announcement carries: firstDelay is measured from there.
	next := time.Unix(0, a.startNS).Add(a.cfg.FirstDelay)
	for {
		if !a.sleep(ctx, next.Sub(a.clock.Now())) {
			return nil
		}
		a.announce(ctx)
		next = next.Add(a.cfg.Interval)
		if now := a.clock.Now(); next.Before(now) {
			// We fell behind (suspended process): do not burst.
			next = now.Add(a.cfg.Interval)
		}
	}
}

func (a *Agent) receiveLoop(ctx context.Context) error {
	buf := make([]byte, MaxPacketSize+1)
	var failures int
	for {
		n, recv, err := a.recv(ctx, buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.metrics.ReceiveErrors.Add(1)
			failures++
			a.log.Warn("receive failed", "cluster", a.cfg.Cluster, "err", err)
			if !a.sleep(ctx, backoff(failures, a.cfg.MaxBackoff)) {
				return nil
			}
			continue
		}
		failures = 0
		a.metrics.PacketsReceived.Add(1)
		if n > MaxPacketSize {
			a.metrics.PacketsOversized.Add(1)
			continue
		}
		m, err := Decode(buf[:n])
		if err != nil {
			a.metrics.PacketsMalformed.Add(1)
			continue
		}
		a.HandleMessage(m, recv)
	}
}

// recv reads one datagram and when it arrived: the kernel's receive stamp
// where the transport has one (the frame's arrival, not when the agent
// was scheduled to read it), else the clock's now after the read.
func (a *Agent) recv(ctx context.Context, buf []byte) (int, time.Time, error) {
	if st, ok := a.tr.(StampedTransport); ok {
		n, at, err := st.RecvStamped(ctx, buf)
		if at.IsZero() {
			at = a.clock.Now()
		}
		return n, at, err
	}
	n, err := a.tr.Recv(ctx, buf)
	return n, a.clock.Now(), err
}

// HandleMessage applies one decoded message received at recv to the peer
// table. Store writes happen later, in the sync loop.
func (a *Agent) HandleMessage(m Message, recv time.Time) {
	if m.Cluster == a.cfg.Cluster {
		a.metrics.PacketsOwn.Add(1)
		return
	}
	shared := intersect(a.cfg.Groups, m.Groups)
	if len(shared) == 0 {
		a.metrics.PacketsForeign.Add(1)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.peers[m.Cluster]
	if m.Kind == KindGoodbye {
		if e != nil && e.present {
			e.present = false
			a.metrics.GoodbyesReceived.Add(1)
			a.metrics.PeersPresent.Add(-1)
			a.poke()
		}
		return
	}
	switch {
	case e == nil:
		if len(a.peers) >= a.cfg.MaxPeers {
			a.metrics.PeersRejected.Add(1)
			return
		}
		e = &peerEntry{}
		a.peers[m.Cluster] = e
		a.metrics.PeerTableSize.Store(int64(len(a.peers)))
		fallthrough
	case !e.present:
		if e.created {
			e.recreate = true
		}
		e.present = true
		e.failures, e.nextTry = 0, time.Time{}
		e.peer = Peer{
			Cluster:         m.Cluster,
			FirstRecvNS:     recv.UnixNano(),
			FirstSendNS:     m.SendNS,
			PeerStartNS:     m.StartNS,
			ObserverStartNS: a.startNS,
			Observer:        a.cfg.Cluster,
		}
		a.metrics.PeersDiscovered.Add(1)
		a.metrics.PeersPresent.Add(1)
		a.log.Info("peer discovered", "peer", m.Cluster, "address", m.Address, "latencyFromSend", recv.Sub(time.Unix(0, m.SendNS)))
	}
	e.peer.Address = m.Address
	e.peer.Groups = shared
	e.peer.LastSeen = recv
	e.peer.Expiry = recv.Add(a.cfg.TTL)
	e.dirty = true
	a.poke()
}

func (a *Agent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func intersect(sortedMine, theirs []string) []string {
	var out []string
	for _, g := range theirs {
		if _, ok := slices.BinarySearch(sortedMine, g); ok && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// Housekeep marks every peer whose expiry is before now as gone.
func (a *Agent) Housekeep(now time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, e := range a.peers {
		if e.present && e.peer.Expiry.Before(now) {
			e.present = false
			n++
			a.log.Info("peer expired", "peer", e.peer.Cluster, "lastSeen", e.peer.LastSeen)
		}
	}
	if n > 0 {
		a.metrics.PeersExpired.Add(int64(n))
		a.metrics.PeersPresent.Add(int64(-n))
		a.poke()
	}
	return n
}

func (a *Agent) housekeepingLoop(ctx context.Context) error {
	for {
		if !a.sleep(ctx, a.cfg.Housekeeping) {
			return nil
		}
		a.Housekeep(a.clock.Now())
	}
}

func (a *Agent) syncLoop(ctx context.Context) error {
	for {
		next := a.Sync(ctx)
		var wake <-chan time.Time
		var t Timer
		if !next.IsZero() {
			t = a.clock.NewTimer(max(next.Sub(a.clock.Now()), 0))
			wake = t.C()
		}
		select {
		case <-ctx.Done():
		case <-a.kick:
		case <-wake:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

type action int

const (
	actNone action = iota
	actCreate
	actUpdate
	actDelete
	actForget
)

// plan decides the next store call for e at now; the caller holds a.mu.
func (a *Agent) plan(e *peerEntry, now time.Time) (action, time.Time) {
	if now.Before(e.nextTry) {
		return actNone, e.nextTry
	}
	switch {
	case !e.present && e.created:
		return actDelete, time.Time{}
	case !e.present:
		return actForget, time.Time{}
	case e.recreate:
		return actDelete, time.Time{}
	case !e.created:
		return actCreate, time.Time{}
	case e.dirty:
		if at := e.lastWrite.Add(a.cfg.MinUpdateGap); now.Before(at) {
			return actNone, at
		}
		return actUpdate, time.Time{}
	}
	return actNone, time.Time{}
}

// Sync performs the store writes the peer table needs now and returns when
// it next needs to run (zero: only when something changes). A failed write
// is counted and retried with exponential backoff.
func (a *Agent) Sync(ctx context.Context) time.Time {
	// Creates go first: a new peer's create is the discovery the testbed
	// measures, so it must not wait behind lastSeen updates of known peers.
	a.mu.Lock()
	names := make([]string, 0, len(a.peers))
	for name := range a.peers {
		names = append(names, name)
	}
	slices.SortFunc(names, func(x, y string) int {
		cx, cy := a.peers[x].present && !a.peers[x].created, a.peers[y].present && !a.peers[y].created
		if cx != cy {
			if cx {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	})
	a.mu.Unlock()

	var next time.Time
	for _, name := range names {
		for ctx.Err() == nil {
			now := a.clock.Now()
			a.mu.Lock()
			e := a.peers[name]
			act, at := a.plan(e, now)
			p := clonePeer(e.peer)
			if act == actForget {
				delete(a.peers, name)
				a.metrics.PeerTableSize.Store(int64(len(a.peers)))
			}
			a.mu.Unlock()
			if act == actNone || act == actForget {
				if !at.IsZero() && (next.IsZero() || at.Before(next)) {
					next = at
				}
				break
			}
			err := a.call(ctx, act, p)
			a.mu.Lock()
			a.record(e, act, p, err, a.clock.Now())
			retry := e.nextTry
			a.mu.Unlock()
			if err != nil {
				if next.IsZero() || retry.Before(next) {
					next = retry
				}
				break
			}
		}
	}
	a.mu.Lock()
	var pending int64
	for _, e := range a.peers {
		if e.failures > 0 {
			pending++
		}
	}
	a.mu.Unlock()
	a.metrics.APIPendingRetry.Store(pending)
	return next
}

func (a *Agent) call(ctx context.Context, act action, p Peer) error {
	cctx, cancel := context.WithTimeout(ctx, a.cfg.APITimeout)
	defer cancel()
	switch act {
	case actCreate:
		return a.store.Create(cctx, p)
	case actUpdate:
		return a.store.Update(cctx, p)
	case actDelete:
		return a.store.Delete(cctx, p.Cluster)
	}
	return nil
}

var actOp = map[action]op{actCreate: opCreate, actUpdate: opUpdate, actDelete: opDelete}

// record applies the outcome of a store call to e; the caller holds a.mu.
func (a *Agent) record(e *peerEntry, act action, p Peer, err error, now time.Time) {
	o := actOp[act]
	if err != nil {
		if act == actUpdate && errors.Is(err, ErrNotFound) {
			// Deleted behind our back: create it again.
			e.created = false
		}
		a.metrics.APIErrors[o].Add(1)
		e.failures++
		e.nextTry = now.Add(backoff(e.failures, a.cfg.MaxBackoff))
		a.log.Warn("peer store write failed, will retry", "op", opNames[o], "peer", p.Cluster, "attempt", e.failures, "retryIn", e.nextTry.Sub(now), "err", err)
		return
	}
	a.metrics.APIWrites[o].Add(1)
	e.failures, e.nextTry = 0, time.Time{}
	switch act {
	case actCreate, actUpdate:
		e.created = true
		e.lastWrite = now
		if e.peer.LastSeen.Equal(p.LastSeen) {
			e.dirty = false
		}
	case actDelete:
		e.created = false
		e.recreate = false
	}
}

func backoff(failures int, maxBackoff time.Duration) time.Duration {
	d := minBackoff
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// cleanup deletes the objects this agent created, once it stopped.
func (a *Agent) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.APITimeout)
	defer cancel()
	a.mu.Lock()
	var names []string
	for name, e := range a.peers {
		if e.created {
			names = append(names, name)
		}
	}
	a.mu.Unlock()
	slices.Sort(names)
	for _, name := range names {
		if err := a.store.Delete(ctx, name); err != nil {
			a.metrics.APIErrors[opDelete].Add(1)
			a.log.Warn("could not delete peer object on shutdown", "peer", name, "err", err)
			continue
		}
		a.metrics.APIWrites[opDelete].Add(1)
	}
}

// Peers returns a snapshot of the live peers, sorted by cluster.
func (a *Agent) Peers() []Peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Peer
	for _, e := range a.peers {
		if e.present {
			out = append(out, clonePeer(e.peer))
		}
	}
	slices.SortFunc(out, func(x, y Peer) int { return strings.Compare(x.Cluster, y.Cluster) })
	return out
}
