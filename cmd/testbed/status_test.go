package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/provision"
)

// TestStatusUnhealthy: status fails (exit 1) when a cluster has a problem,
// naming each cluster and problem; a healthy lab exits 0.
func TestStatusUnhealthy(t *testing.T) {
	healthy := provision.ClusterStatus{Name: "ci-01", Nodes: []dockernet.Node{{Name: "ci-01-control-plane", State: "running"}},
		APIReachable: true, MultusReady: true, Discovery: []provision.DiscoveryStatus{{Protocol: "reference-agent", Namespace: "testbed-agent", PodsReady: 1, Pods: 1}}}
	stopped := provision.ClusterStatus{Name: "ci-02", Nodes: []dockernet.Node{{Name: "ci-02-control-plane", State: "exited"}}}
	var errOut bytes.Buffer
	streams := IOStreams{Out: &bytes.Buffer{}, ErrOut: &errOut}
	if err := unhealthy(streams, &provision.LabStatus{Topology: "ci", Clusters: []provision.ClusterStatus{healthy}}); err != nil || errOut.Len() != 0 {
		t.Errorf("healthy lab: %v, %q", err, errOut.String())
	}
	err := unhealthy(streams, &provision.LabStatus{Topology: "ci", Clusters: []provision.ClusterStatus{healthy, stopped}})
	if exitCodeOf(err, false) != exitFailed || !strings.Contains(err.Error(), "1 of 2 clusters of lab ci are unhealthy") {
		t.Errorf("unhealthy lab: exit %d, %v", exitCodeOf(err, false), err)
	}
	if !strings.Contains(errOut.String(), `cluster "ci-02": node ci-02-control-plane is exited`) || strings.Contains(errOut.String(), "ci-01") {
		t.Errorf("problems printed:\n%s", errOut.String())
	}
}

// TestPresetProtocols: status looks for every preset's workload, with the
// preset's peer resource.
func TestPresetProtocols(t *testing.T) {
	got := map[string]provision.Protocol{}
	for _, p := range presetProtocols() {
		got[p.Name] = p
	}
	nm, agent := got["network-manager"], got["reference-agent"]
	if len(got) != 3 || nm.Workload != provision.FluidosDaemonSet || nm.Peers != provision.KnownClusterResource ||
		agent.Workload != provision.AgentDaemonSet || agent.Peers != provision.PeerResource || got["neuropil"].Kind != "Deployment" {
		t.Errorf("protocols %+v", got)
	}
}
