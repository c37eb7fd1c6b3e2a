// Package workload switches a discovery protocol's workload (a DaemonSet or
// a Deployment) off and on through the Kubernetes API, the one way the
// runner cycles node A and a sweep selects the clusters of a cell: a
// DaemonSet is disabled by a nodeSelector no node has (DisabledLabel), a
// Deployment by zero replicas.
package workload
