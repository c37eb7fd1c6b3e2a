// Package provision builds, inspects and removes a testbed lab from a
// resolved topology.Plan: Up converges the lab through ordered steps
// (network, clusters, images, CNI, Multus, NAD, FLUIDOS, extra charts), each
// skipped where reality already satisfies it; Status reads the lab's state
// from Docker labels, KinD and each cluster's API (there is no state file);
// Down removes only what carries this tool's labels.
//
// Every external system is behind a small interface (Clusters, Network,
// Images, CNI, Charts, Kube) so the orchestration, including Ctrl-C, is unit
// tested with fakes. KinD's API has no context: on cancellation Up stops
// scheduling new work and waits for in-flight creates, so every cluster is
// either complete, absent, or partial in a way a later Up repairs (it
// deletes and recreates an unhealthy cluster) and Down removes.
package provision
