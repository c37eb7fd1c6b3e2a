package scenarios

import (
	"net/netip"
	"time"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/scenarios/impair"
)

// APIVersion and Kind identify a scenario document.
const (
	APIVersion = "testbed.dev/v1alpha1"
	Kind       = "Scenario"
)

// File is the scenario document as written. Optional fields are pointers so
// that defaults are distinguishable from explicit zero values.
type File struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   Metadata `yaml:"metadata"`
	// Topology is the topology file, relative to the scenario file.
	Topology string       `yaml:"topology"`
	Protocol ProtocolFile `yaml:"protocol"`
	// NodeA is the cluster that is cycled.
	NodeA string `yaml:"nodeA"`
	// Runs per condition (default 100), warm-up runs (default 1, discarded by
	// the analysis), the pause between runs (default 2s) and the per-run
	// timeout (default 60s).
	Runs             *int           `yaml:"runs,omitempty"`
	Warmup           *int           `yaml:"warmup,omitempty"`
	DelayBetweenRuns *time.Duration `yaml:"delayBetweenRuns,omitempty"`
	RunTimeout       *time.Duration `yaml:"runTimeout,omitempty"`
	Phase            PhaseFile      `yaml:"phase,omitempty"`
	// Seed drives the random phase; when absent a seed is drawn and recorded.
	Seed         *int64          `yaml:"seed,omitempty"`
	Measurements []string        `yaml:"measurements,omitempty"`
	Conditions   []ConditionFile `yaml:"conditions"`
	// Output is the campaign directory, relative to the scenario file.
	Output string `yaml:"output,omitempty"`
	// Reference is a published figure the report puts beside the measured
	// one (e.g. the reference study's peak).
	Reference *ReferenceFile `yaml:"reference,omitempty"`
}

// ReferenceFile is a published result to compare with.
type ReferenceFile struct {
	// Source names the publication, e.g. "thesis §6.2, fig. 6.1".
	Source string `yaml:"source"`
	// FirstPeer is the published time for node A's first (or only) peer,
	// e.g. the peak of a histogram.
	FirstPeer time.Duration `yaml:"firstPeer"`
	// Note says how the published figure was obtained.
	Note string `yaml:"note,omitempty"`
}

// Metadata names the scenario.
type Metadata struct {
	Name string `yaml:"name"`
}

// ProtocolFile selects the protocol under test.
type ProtocolFile struct {
	// Preset is network-manager, neuropil, reference-agent or custom.
	Preset string `yaml:"preset"`
	// AnnounceInterval is the protocol's announce period T (preset default 5s).
	AnnounceInterval *time.Duration `yaml:"announceInterval,omitempty"`
	// AnnounceGroup is the multicast group:port the protocol announces on
	// (preset default; "none" turns the wire capture off). The runner
	// captures it on the lab's bridge to explain every discovery time.
	AnnounceGroup *string     `yaml:"announceGroup,omitempty"`
	Custom        *CustomFile `yaml:"custom,omitempty"`
}

// CustomFile describes a protocol that has no preset.
type CustomFile struct {
	Workload     WorkloadFile     `yaml:"workload"`
	PeerResource PeerResourceFile `yaml:"peerResource"`
	// IdentityField is the dotted path of the field naming the peer, e.g.
	// spec.address or spec.cluster.
	IdentityField string `yaml:"identityField"`
	// IdentityMatch maps the identity to a cluster: clusterName or nodeAddress
	// (the control-plane address on the shared network; a :port is ignored).
	IdentityMatch string `yaml:"identityMatch"`
}

// WorkloadFile is the protocol's workload on every cluster.
type WorkloadFile struct {
	Kind      string `yaml:"kind"` // DaemonSet | Deployment
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

// PeerResourceFile is the resource a cluster creates for each peer it knows.
type PeerResourceFile struct {
	Group     string `yaml:"group"`
	Version   string `yaml:"version"`
	Resource  string `yaml:"resource"`
	Namespace string `yaml:"namespace,omitempty"` // default: the workload's
}

// PhaseFile selects the run phase.
type PhaseFile struct {
	// Mode is random (a uniform 0..Max pause before each start) or aligned
	// (also written fixed-cycle): each start is scheduled a fixed cycle C
	// after the end of the previous run, as in the reference study.
	Mode string `yaml:"mode,omitempty"`
	// Max is T for the random pause (default: the announce interval).
	Max *time.Duration `yaml:"max,omitempty"`
	// Cycle is C for aligned (default: delayBetweenRuns plus the reset
	// bound measured on the campaign's first run).
	Cycle *time.Duration `yaml:"cycle,omitempty"`
}

// ConditionFile is one impairment setting.
type ConditionFile struct {
	Name string `yaml:"name"`
	// Runs overrides the scenario's runs for this condition.
	Runs       *int           `yaml:"runs,omitempty"`
	Target     string         `yaml:"target,omitempty"` // peers (default) | nodeA | both
	Impairment ImpairmentFile `yaml:"impairment"`
}

// ImpairmentFile is netem-style settings (percentages 0..100).
type ImpairmentFile struct {
	Loss        *float64       `yaml:"loss,omitempty"`
	Delay       *time.Duration `yaml:"delay,omitempty"`
	Jitter      *time.Duration `yaml:"jitter,omitempty"`
	Correlation *float64       `yaml:"correlation,omitempty"`
	Duplicate   *float64       `yaml:"duplicate,omitempty"`
	Corrupt     *float64       `yaml:"corrupt,omitempty"`
	// Rate is a netem rate such as 1mbit.
	Rate string `yaml:"rate,omitempty"`
	Seed *int64 `yaml:"seed,omitempty"`
}

// Measurement names.
const (
	MeasureDiscovery        = "discovery"
	MeasureReverse          = "reverse"
	MeasureFailureDetection = "failureDetection"
	MeasureGracefulLeave    = "gracefulLeave"
	MeasureGroupIsolation   = "groupIsolation"
)

// Phase modes.
const (
	PhaseRandom  = "random"
	PhaseAligned = "aligned"
	// PhaseFixedCycle is accepted for aligned in scenario files.
	PhaseFixedCycle = "fixed-cycle"
)

// Impairment targets.
const (
	TargetPeers = "peers"
	TargetNodeA = "nodeA"
	TargetBoth  = "both"
)

// Identity matches.
const (
	MatchClusterName = "clusterName"
	MatchNodeAddress = "nodeAddress"
)

// Workload kinds.
const (
	WorkloadDaemonSet  = "DaemonSet"
	WorkloadDeployment = "Deployment"
)

// Scenario is a loaded scenario with every default applied.
type Scenario struct {
	Name string
	// File is the scenario file; Raw its exact bytes (recorded in the manifest).
	File string
	Raw  []byte
	// TopologyFile is resolved against the scenario file's directory.
	TopologyFile     string
	Protocol         Protocol
	NodeA            string
	Warmup           int
	DelayBetweenRuns time.Duration
	RunTimeout       time.Duration
	Phase            string
	PhaseMax         time.Duration
	// PhaseCycle is C of the aligned phase; 0 means measured (see PhaseFile).
	PhaseCycle time.Duration
	Seed       int64
	// SeedGiven is false when the seed was drawn at load time.
	SeedGiven    bool
	Measurements []string
	Conditions   []Condition
	// Output is resolved against the scenario file's directory ("" = unset).
	Output string
	// Reference is the published figure to compare with (nil: none).
	Reference *ReferenceFile

	// doc locates fields of the file for errors found after Load.
	doc *yamlfile.Document
}

// Measures reports whether measurement m was asked for.
func (s *Scenario) Measures(m string) bool {
	for _, x := range s.Measurements {
		if x == m {
			return true
		}
	}
	return false
}

// Protocol is a resolved protocol description.
type Protocol struct {
	// Name is the preset name, or "custom".
	Name              string
	WorkloadKind      string
	WorkloadName      string
	WorkloadNamespace string
	Group, Version    string
	Resource          string
	PeerNamespace     string
	// IdentityPath is IdentityField split on dots.
	IdentityPath     []string
	IdentityMatch    string
	AnnounceInterval time.Duration
	// AnnounceGroup is the multicast group and UDP port the protocol
	// announces on; the zero value means unknown (no wire capture).
	AnnounceGroup netip.AddrPort
	// GroundTruth is true when peer objects carry the reference agent's
	// first-recv/first-send annotations.
	GroundTruth bool
}

// Condition is one resolved impairment condition.
type Condition struct {
	Name       string
	Runs       int
	Warmup     int
	Target     string
	Impairment impair.Spec
}
