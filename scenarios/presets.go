package scenarios

import (
	"net/netip"
	"time"
)

// Preset protocol names.
const (
	PresetNetworkManager = "network-manager"
	PresetNeuropil       = "neuropil"
	PresetReferenceAgent = "reference-agent"
	PresetCustom         = "custom"
)

// DefaultAnnounceInterval is every preset's announce period.
const DefaultAnnounceInterval = 5 * time.Second

// Announce groups of the presets: the Network Manager's is hard-coded in
// its chart's multicast settings (internal/helm), the reference agent's is
// its chart default (scenarios/agent.DefaultGroupAddress). Neuropil's
// transport is not multicast on a fixed group: no wire capture.
var (
	NetworkManagerGroup = netip.MustParseAddrPort("239.11.11.1:4000")
	ReferenceAgentGroup = netip.MustParseAddrPort("239.11.11.2:4001")
)

// Presets returns the preset protocols by name (a fresh map each call).
func Presets() map[string]Protocol {
	return map[string]Protocol{
		// FLUIDOS Network Manager: DaemonSet node-network-manager in fluidos;
		// KnownCluster objects carry the peer's identity ip:port (the peer's
		// control-plane address) in spec.address.
		PresetNetworkManager: {
			Name: PresetNetworkManager, WorkloadKind: WorkloadDaemonSet,
			WorkloadName: "node-network-manager", WorkloadNamespace: "fluidos",
			Group: "network.fluidos.eu", Version: "v1alpha1", Resource: "knownclusters",
			PeerNamespace: "fluidos", IdentityPath: []string{"spec", "address"},
			IdentityMatch: MatchNodeAddress, AnnounceInterval: DefaultAnnounceInterval,
			AnnounceGroup: NetworkManagerGroup,
		},
		// Neuropil discovery (FLUIDOS PRs #127/#130, unmerged): a Deployment
		// scaled 0<->1 that feeds the same KnownCluster resources.
		PresetNeuropil: {
			Name: PresetNeuropil, WorkloadKind: WorkloadDeployment,
			WorkloadName: "np-fluidos-discovery", WorkloadNamespace: "fluidos",
			Group: "network.fluidos.eu", Version: "v1alpha1", Resource: "knownclusters",
			PeerNamespace: "fluidos", IdentityPath: []string{"spec", "address"},
			IdentityMatch: MatchNodeAddress, AnnounceInterval: DefaultAnnounceInterval,
		},
		// The testbed's reference agent: Peer objects named peer-<cluster>
		// with spec.cluster and ground-truth annotations.
		PresetReferenceAgent: {
			Name: PresetReferenceAgent, WorkloadKind: WorkloadDaemonSet,
			WorkloadName: "reference-agent", WorkloadNamespace: "testbed-agent",
			Group: "agent.testbed.dev", Version: "v1alpha1", Resource: "peers",
			PeerNamespace: "testbed-agent", IdentityPath: []string{"spec", "cluster"},
			IdentityMatch: MatchClusterName, AnnounceInterval: DefaultAnnounceInterval,
			AnnounceGroup: ReferenceAgentGroup, GroundTruth: true,
		},
	}
}
