package agent

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Peer is what the agent knows about one remote cluster; a PeerStore mirrors
// it as a Peer custom resource.
type Peer struct {
	// Cluster is the peer's cluster name; the object is peer-<Cluster>.
	Cluster string
	// Address is the peer's discovery endpoint, ip:port.
	Address string
	// Groups are the groups this agent shares with the peer.
	Groups   []string
	LastSeen time.Time
	Expiry   time.Time
	// Ground truth of the announcement that created the object (Unix ns).
	FirstRecvNS int64
	FirstSendNS int64
	// PeerStartNS is when the peer's agent started; ObserverStartNS when this
	// agent started (Unix ns). Together they give protocol-only discovery time.
	PeerStartNS     int64
	ObserverStartNS int64
	// Observer is this agent's own cluster name.
	Observer string
}

// ErrNotFound is returned (wrapped) by Update when the object is gone.
var ErrNotFound = errors.New("peer object not found")

// PeerStore is the sink the agent writes peers to. Implementations must be
// safe for use by one goroutine at a time; the agent never calls them
// concurrently.
type PeerStore interface {
	// Create writes a new object with its ground-truth annotations; an
	// existing object of the same name is overwritten.
	Create(ctx context.Context, p Peer) error
	// Update refreshes address, groups, lastSeen and expiry. It returns an
	// error wrapping ErrNotFound when the object does not exist.
	Update(ctx context.Context, p Peer) error
	// Delete removes the object of cluster; a missing object is not an error.
	Delete(ctx context.Context, cluster string) error
	// Purge deletes every object left by an earlier run of this agent and
	// returns how many it deleted.
	Purge(ctx context.Context) (int, error)
}

// MemoryStore is an in-memory PeerStore, for tests and for running the agent
// without a cluster (--dry-run).
type MemoryStore struct {
	mu    sync.Mutex
	peers map[string]Peer
	// OnChange, if set, is called (with the store locked) after every successful change with the
	// operation ("create", "update", "delete") and the peer.
	OnChange func(op string, p Peer)
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{peers: map[string]Peer{}} }

// Create implements PeerStore.
func (m *MemoryStore) Create(_ context.Context, p Peer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peers[p.Cluster] = clonePeer(p)
	m.notify("create", p)
	return nil
}

// Update implements PeerStore.
func (m *MemoryStore) Update(_ context.Context, p Peer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.peers[p.Cluster]
	if !ok {
		return ErrNotFound
	}
	old.Address, old.Groups, old.LastSeen, old.Expiry = p.Address, append([]string(nil), p.Groups...), p.LastSeen, p.Expiry
	m.peers[p.Cluster] = old
	m.notify("update", old)
	return nil
}

// Delete implements PeerStore.
func (m *MemoryStore) Delete(_ context.Context, cluster string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delete(cluster)
	return nil
}

func (m *MemoryStore) delete(cluster string) {
	p, ok := m.peers[cluster]
	if ok {
		delete(m.peers, cluster)
		m.notify("delete", p)
	}
}

// Purge implements PeerStore.
func (m *MemoryStore) Purge(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.peers)
	for c := range m.peers {
		m.delete(c)
	}
	return n, nil
}

// Snapshot returns a copy of the stored peers keyed by cluster.
func (m *MemoryStore) Snapshot() map[string]Peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Peer, len(m.peers))
	for k, v := range m.peers {
		out[k] = clonePeer(v)
	}
	return out
}

func (m *MemoryStore) notify(op string, p Peer) {
	if m.OnChange != nil {
		m.OnChange(op, clonePeer(p))
	}
}

func clonePeer(p Peer) Peer {
	p.Groups = append([]string(nil), p.Groups...)
	return p
}
