// Package runner executes a scenario: it cycles node A's discovery workload
// on a running lab and records, for every peer, when A discovered it, when it
// discovered A, when it dropped A, and any flaps, all in milliseconds since
// the run's t0 on one monotonic clock.
//
// One run: disable A's workload and wait (by watching) until its pods are
// gone; delete A's peer resources (and, for reverse discovery, the peers'
// resources for A) and wait until they are gone; wait the run's pause;
// take t0 with every watcher already synced; enable A; record until every
// peer is found or the run times out; append the run durably.
//
// The watchers are shared informers (resync 0), one per cluster for the peer
// resource and one for the workload's pods, started once per campaign. A
// relist after an expired watch replays objects as updates; the run state
// additionally tracks object UIDs, so neither a replayed ADDED event nor a
// re-add after a flap is ever counted as a new discovery.
package runner
