package results

import "time"

// These types are the contract between the runner (scenarios), which
// appends one Run per line to a campaign's runs.jsonl, and everything that
// reads a campaign (see package store for the files).
//
// All times are milliseconds (float, sub-ms precision) since the run's t0,
// taken from one monotonic clock on the runner host. A nil pointer means the
// event was not observed before the run ended.

// Run is one line of runs.jsonl.
type Run struct {
	Campaign  string `json:"campaign"`  // campaign ID
	Condition string `json:"condition"` // condition name, e.g. "loss-10"
	// Index counts runs within the condition from 0; warm-up runs included.
	Index    int       `json:"index"`
	Warmup   bool      `json:"warmup,omitempty"`
	Aborted  bool      `json:"aborted,omitempty"`
	TimedOut bool      `json:"timedOut,omitempty"`
	Started  time.Time `json:"started"` // wall clock at t0
	NodeA    string    `json:"nodeA"`
	Protocol string    `json:"protocol"`

	// Phase is "random" (uniform 0..T pause before start) or "aligned"
	// (a fixed cycle: t0 = end of the previous run + C).
	Phase   string  `json:"phase"`
	PauseMS float64 `json:"pauseMS"`
	// PhaseMS is the phase the run actually got: its start's offset, modulo
	// the announce period T, from the start of the campaign's first run.
	// Absent in campaigns recorded before it existed.
	PhaseMS *float64 `json:"phaseMS,omitempty"`
	// Cycle is how an aligned run's start was scheduled (nil for random).
	Cycle *Cycle `json:"cycle,omitempty"`
	// CycleOverheadMS is the time spent outside the protocol's window
	// (reset plus re-arm) before t0.
	CycleOverheadMS float64 `json:"cycleOverheadMS"`

	Impairment Impairment   `json:"impairment"`
	Pod        PodTimeline  `json:"pod"`
	Peers      []PeerTiming `json:"peers"`
	// Missing lists peers A had not discovered when the run ended.
	Missing []string `json:"missing,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	// APILatencyMS is the median Kubernetes API round trip to node A's
	// cluster measured during the run (the impaired path must not be the API).
	APILatencyMS float64 `json:"apiLatencyMS,omitempty"`
	// EndMS is when observation of the run stopped (ms since t0); it bounds
	// the observation window for per-peer-minute rates such as flaps. When
	// zero, readers fall back to the latest time recorded in the run.
	EndMS float64 `json:"endMS,omitempty"`
	// Wire is the capture of the protocol's traffic on the lab network
	// during the run; nil when there was none (older campaigns, a protocol
	// without an announce group, a host where capture is impossible).
	Wire *WireRun `json:"wire,omitempty"`
	// Faults are what happened to the lab's infrastructure during the
	// run's window (from the end of the previous run's window, so its
	// reset and the delay before it included, to its record), as the
	// container engine reported it: a node container paused, stopped,
	// killed, restarted, out of memory, or the engine's event stream lost.
	// A run with faults is kept, marked, and left out of the statistics.
	Faults []LabFault `json:"faults,omitempty"`
}

// LabFault is one infrastructure event in a run's window.
type LabFault struct {
	// AtMS is when, in ms since the run's t0 (negative: during its reset
	// or the delay before it).
	AtMS float64 `json:"atMS"`
	// Cluster and Container are the node container's; both are empty for
	// the engine's own events.
	Cluster   string `json:"cluster,omitempty"`
	Container string `json:"container,omitempty"`
	// Event is the engine's action (pause, unpause, kill, stop, die,
	// start, restart, oom) or engine-events-lost / engine-events-restored.
	Event  string `json:"event"`
	Detail string `json:"detail,omitempty"`
}

// Faulted reports whether the lab's infrastructure was disturbed during
// the run.
func (r *Run) Faulted() bool { return len(r.Faults) > 0 }

// Cycle is the schedule of an aligned run: t0 = end of the previous run + C,
// where the end is when node A discovered its last peer (or the timeout).
// The reset (stopping A, clearing peer objects) happens inside C.
type Cycle struct {
	// CycleMS is C.
	CycleMS float64 `json:"cycleMS"`
	// ResetMS is how long this run's reset took.
	ResetMS float64 `json:"resetMS"`
	// SincePreviousEndMS is t0 minus the previous run's end: C when on
	// cycle, more when the reset overran.
	SincePreviousEndMS float64 `json:"sincePreviousEndMS,omitempty"`
	// OffCycle is set when the run could not start at end+C (the reset
	// overran C, or there was no previous run to anchor on: the first run
	// of a campaign or of a resume). The start is then recorded as it was,
	// never shifted.
	OffCycle bool `json:"offCycle,omitempty"`
	// OverrunMS is by how much the start missed end+C.
	OverrunMS float64 `json:"overrunMS,omitempty"`
}

// PeerTiming is what happened between node A and one peer during a run.
type PeerTiming struct {
	Peer string `json:"peer"`
	// DiscoveredMS: A's peer resource for this peer first appeared (first
	// appearance only; later re-adds are flaps).
	DiscoveredMS *float64 `json:"discoveredMS,omitempty"`
	// ReverseMS: the peer's resource for A first appeared.
	ReverseMS *float64 `json:"reverseMS,omitempty"`
	// GoneMS: the peer removed its resource for A (failure detection or
	// graceful leave, depending on the measurement).
	GoneMS *float64 `json:"goneMS,omitempty"`
	// TruthMS is the agent's own ground-truth receive stamp of the first
	// announcement, converted to ms since t0 (reference agent only).
	TruthMS *float64 `json:"truthMS,omitempty"`
	// TruthSendMS is the sender's send stamp of that announcement.
	TruthSendMS *float64 `json:"truthSendMS,omitempty"`
	Flaps       []Flap   `json:"flaps,omitempty"`
	// Wire explains DiscoveredMS from the capture on the lab network
	// (Run.Wire): A's readiness, the peer's announcements, the rest.
	Wire *WireTiming `json:"wire,omitempty"`
	// ReverseWire explains ReverseMS the same way, with the peer as the
	// observer and A as the sender.
	ReverseWire *WireTiming `json:"reverseWire,omitempty"`
}

// WireTiming splits one discovery time into the parts the wire shows. All
// times are ms since t0 on the runner's clock. The four parts always sum
// to the discovery time: StartupMS + WaitMS + LostMS + ProcessingMS.
//
// Drops made on the observer's receive path happen after the capture
// point: such an announcement is on the wire, so the time until the next
// one counts as processing, not as lost (an impairment on the sender's
// egress, and nftables on the bridge, are seen as lost).
type WireTiming struct {
	// ReadyMS is when the observer was ready to hear the subject: A's IGMP
	// join of the group on its discovery address (ReadyBy "igmp-join"),
	// else its first own announcement ("announcement"), capped by the
	// subject's announcement it demonstrably heard ("heard"). For reverse
	// discovery the observer listened all along: 0 ("listening").
	ReadyMS float64 `json:"readyMS"`
	ReadyBy string  `json:"readyBy"`
	// FirstMS is the subject's first announcement on the wire at or after
	// ReadyMS (no later than the discovery).
	FirstMS float64 `json:"firstMS"`
	// Lost is the subject's announcements that should have been sent at
	// its period between ReadyMS and FirstMS but never reached the wire.
	Lost int `json:"lost"`
	// PeriodMS is the subject's announce period measured on the wire.
	PeriodMS float64 `json:"periodMS"`
	// StartupMS = ReadyMS; LostMS = Lost × PeriodMS; WaitMS = FirstMS −
	// ReadyMS − LostMS (the wait for the subject's phase); ProcessingMS =
	// discovery − FirstMS (the protocol's processing, its API write and
	// the runner's watch: the testbed's own share is inside it).
	StartupMS    float64 `json:"startupMS"`
	WaitMS       float64 `json:"waitMS"`
	LostMS       float64 `json:"lostMS"`
	ProcessingMS float64 `json:"processingMS"`
}

// Sum is StartupMS + WaitMS + LostMS + ProcessingMS.
func (w WireTiming) Sum() float64 { return w.StartupMS + w.WaitMS + w.LostMS + w.ProcessingMS }

// WireRun is what the capture on the lab network saw during a run.
type WireRun struct {
	// Interface is the host interface captured (the lab's bridge).
	Interface string `json:"interface"`
	// Group is the protocol's multicast group:port.
	Group string `json:"group"`
	// Packets is the discovery packets captured between t0 and the end.
	Packets int `json:"packets"`
	// KernelDropped and RingDropped are frames the capture lost during the
	// run (socket buffer full; ring overwritten): non-zero means the
	// timings of the run may miss announcements.
	KernelDropped uint64 `json:"kernelDropped,omitempty"`
	RingDropped   uint64 `json:"ringDropped,omitempty"`
	// ClockStepUS is how much the kernel-timestamp clock (CLOCK_REALTIME)
	// moved against the runner's monotonic clock during the run, and
	// UncertaintyUS the bound on one offset sample: a |step| above the
	// uncertainty means a wall-clock step or slew shifted the wire times.
	ClockStepUS   float64 `json:"clockStepUS"`
	UncertaintyUS float64 `json:"uncertaintyUS"`
	// WindowLossPct is the achieved loss of the peers' announcements
	// inside A's listening window (from A's ready until the run's end):
	// lost / (lost + seen) × 100, from the wire. Nil with no window.
	WindowLossPct *float64 `json:"windowLossPct,omitempty"`
	// Lost is the peers' announcements (not A's) that should have been
	// sent at their period between t0 and the run's end but never reached
	// the wire: compare with Impairment.PacketsDropped of a sender-side
	// impairment.
	Lost int `json:"lost"`
	// CounterWindowLost is the impaired senders' announcements lost on the
	// wire over the impairment counters' window (from their baseline
	// before the run's reset to their read after it): the wire's view of
	// Impairment.PacketsDropped, which also counts any other frame the
	// sender put on its discovery interface. Nil without an impairment.
	// Sends due after a sender's last announcement in the window, at its
	// period, up to the read, count as lost.
	CounterWindowLost *int `json:"counterWindowLost,omitempty"`
	// CounterWindowSent is the impaired senders' announcements on the
	// wire in that window: with CounterWindowLost, the wire's view of
	// Impairment.PacketsSeen.
	CounterWindowSent *int `json:"counterWindowSent,omitempty"`
	// CounterFromMS and CounterToMS bound that window, ms since t0.
	CounterFromMS float64 `json:"counterFromMS,omitempty"`
	CounterToMS   float64 `json:"counterToMS,omitempty"`
	// Senders is every lab cluster seen announcing, in lab order.
	Senders []WireSender `json:"senders,omitempty"`
}

// WireSender is one cluster's discovery traffic on the wire during a run.
type WireSender struct {
	Cluster string `json:"cluster"`
	Address string `json:"address"`
	// Announcements and Bytes (UDP payload) between t0 and the run's end.
	Announcements int `json:"announcements"`
	Bytes         int `json:"bytes"`
	// PhaseMS is the sender's announce phase: its first announcement at or
	// after t0, ms since t0 (the model's measured peer phase).
	PhaseMS *float64 `json:"phaseMS,omitempty"`
}

// Flap is a peer resource deleted and re-created while the peer was alive.
type Flap struct {
	// Observer is the cluster whose resource flapped; Subject the peer it describes.
	Observer  string   `json:"observer"`
	Subject   string   `json:"subject"`
	DeletedMS float64  `json:"deletedMS"`
	ReaddedMS *float64 `json:"readdedMS,omitempty"`
}

// PodTimeline is node A's discovery pod during the run.
type PodTimeline struct {
	// From the API (kubelet status updates; they lag the container).
	ScheduledMS *float64 `json:"scheduledMS,omitempty"`
	StartedMS   *float64 `json:"startedMS,omitempty"`
	ReadyMS     *float64 `json:"readyMS,omitempty"`
	// ContainerStartMS comes from the container runtime inside the KinD node
	// (CRI, sub-second precision); it splits start-up from protocol time.
	ContainerStartMS *float64 `json:"containerStartMS,omitempty"`
	// LeaveMS is when the runner stopped node A for a failure-detection or
	// graceful-leave measurement (PeerTiming.GoneMS - LeaveMS is the time
	// a peer took to drop A).
	LeaveMS *float64 `json:"leaveMS,omitempty"`
}

// Impairment is what was applied during the run and what it achieved.
type Impairment struct {
	Backend string `json:"backend"` // none | netem | nftables
	// Target is peers | nodeA | both.
	Target         string  `json:"target,omitempty"`
	LossPct        float64 `json:"lossPct"`
	DelayMS        float64 `json:"delayMS,omitempty"`
	JitterMS       float64 `json:"jitterMS,omitempty"`
	CorrelationPct float64 `json:"correlationPct,omitempty"`
	DuplicatePct   float64 `json:"duplicatePct,omitempty"`
	CorruptPct     float64 `json:"corruptPct,omitempty"`
	Rate           string  `json:"rate,omitempty"`
	Seed           int64   `json:"seed,omitempty"`
	// AchievedLossPct is read back from netem statistics or nft counters.
	AchievedLossPct *float64 `json:"achievedLossPct,omitempty"`
	PacketsSeen     int64    `json:"packetsSeen,omitempty"`
	PacketsDropped  int64    `json:"packetsDropped,omitempty"`
}

// Manifest is manifest.json: what was run, on what, with which versions.
type Manifest struct {
	Campaign string    `json:"campaign"`
	Kind     string    `json:"kind"` // campaign | sweep
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended,omitempty"`
	Seed     int64     `json:"seed"`

	Software Software `json:"software"`
	Host     Host     `json:"host"`
	Lab      Lab      `json:"lab"`
	Inputs   []Input  `json:"inputs"`
	// Conditions in the order they were run.
	Conditions []Condition `json:"conditions"`
	Protocol   string      `json:"protocol"`
	NodeA      string      `json:"nodeA"`
	Peers      []string    `json:"peers"`
	Phase      string      `json:"phase"`
	// AnnounceIntervalMS is the protocol's announce period T (for the model).
	AnnounceIntervalMS float64  `json:"announceIntervalMS"`
	Measurements       []string `json:"measurements"`
	Warnings           []string `json:"warnings,omitempty"`
	// Reference is the published figure the scenario compares with.
	Reference *Reference `json:"reference,omitempty"`
	// Hosts are the Docker hosts of a lab spread over several, with their
	// clocks against the runner's; absent for a lab on one host.
	Hosts []EngineHost `json:"hosts,omitempty"`
}

// EngineHost is one Docker host of a multi-host lab. The runner stamps
// every discovery on its own clock, so discovery times need no clock
// synchronisation; the agent's ground truth (TruthMS, TruthSendMS) of a
// cluster on another host is stamped by that host's clock and corrected
// by ClockOffsetNS, so it carries ± ClockUncertaintyNS.
type EngineHost struct {
	Name     string   `json:"name"`
	Endpoint string   `json:"endpoint"`
	Address  string   `json:"address"`
	Clusters []string `json:"clusters"`
	Docker   string   `json:"docker,omitempty"`
	// ClockOffsetNS is the host's clock minus the runner's, estimated
	// through its engine (its /info time against the round trip's
	// midpoint, the shortest of ClockSamples round trips);
	// ClockUncertaintyNS is half that round trip.
	ClockOffsetNS      int64 `json:"clockOffsetNS"`
	ClockUncertaintyNS int64 `json:"clockUncertaintyNS"`
	ClockSamples       int   `json:"clockSamples"`
	// ClockMethod says how the offset was found (an engine on this
	// machine's unix socket shares its clock: 0 exactly).
	ClockMethod string `json:"clockMethod"`
}

// Condition is one impairment setting of a campaign.
type Condition struct {
	Name       string     `json:"name"`
	Impairment Impairment `json:"impairment"`
	Runs       int        `json:"runs"`
	Warmup     int        `json:"warmup"`
}

// Software lists the versions that built and ran the campaign.
type Software struct {
	Tool     string `json:"tool"`
	Commit   string `json:"commit,omitempty"`
	Go       string `json:"go"`
	Kind     string `json:"kind,omitempty"`
	Helm     string `json:"helm,omitempty"`
	ClientGo string `json:"clientGo,omitempty"`
	Docker   string `json:"docker,omitempty"`
}

// Host describes the machine.
type Host struct {
	Kernel            string `json:"kernel,omitempty"`
	CgroupMode        string `json:"cgroupMode,omitempty"`
	CPUModel          string `json:"cpuModel,omitempty"`
	CPUs              int    `json:"cpus,omitempty"`
	MemoryMiB         int    `json:"memoryMiB,omitempty"`
	ImpairmentBackend string `json:"impairmentBackend,omitempty"`
}

// Lab is what actually ran, read back from the clusters.
type Lab struct {
	Topology string   `json:"topology"`
	Clusters []string `json:"clusters"`
	// NodeImage is the node image reference the control-plane containers
	// run (added for rerun); NodeImageDigest its registry digest, else its
	// local image ID.
	NodeImage       string            `json:"nodeImage,omitempty"`
	NodeImageDigest string            `json:"nodeImageDigest,omitempty"`
	Charts          map[string]string `json:"charts,omitempty"` // name -> version
	Images          map[string]string `json:"images,omitempty"` // ref -> digest
	Multus          string            `json:"multus,omitempty"`
	CNIPlugins      string            `json:"cniPlugins,omitempty"`
}

// Input is an input file recorded verbatim.
type Input struct {
	Role    string `json:"role"` // topology | scenario | sweep
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Content string `json:"content"`
}

// Reference is a published result the report puts beside the measured one.
type Reference struct {
	Source      string  `json:"source"`
	FirstPeerMS float64 `json:"firstPeerMS"`
	Note        string  `json:"note,omitempty"`
}
