// Package agent is testbed's reference discovery protocol: a small agent that
// announces its cluster by UDP multicast on the pod's secondary (macvlan)
// interface, listens for its peers on the same group, and mirrors every live
// peer as a namespaced Peer custom resource (agent.testbed.dev/v1alpha1).
//
// Unlike the FLUIDOS Network Manager it records ground truth: the Peer object
// that a first announcement creates carries the nanosecond receive time and
// the sender's nanosecond send time as annotations, it leaves gracefully with
// a goodbye, and API errors are retried and counted instead of silently
// stopping discovery.
//
// The agent is built from three seams so that it can be tested without a
// network or a cluster: a Clock, a Transport (the multicast socket) and a
// PeerStore (the Kubernetes API).
package agent
