package topology

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
)

// Environment variables read by Load (never by Plan).
const (
	EnvNodeImage         = "TESTBED_NODE_IMAGE"
	EnvMultusImage       = "TESTBED_MULTUS_IMAGE"
	EnvCNIPluginsTarball = "TESTBED_CNI_PLUGINS_TARBALL"
	EnvStateDir          = "TESTBED_STATE_DIR"
)

// Environment is what Load takes from the process environment. Plan uses
// only these resolved values, so it stays pure and testable.
type Environment struct {
	// NodeImage ($TESTBED_NODE_IMAGE) replaces clusters.nodeImage and the
	// default; per-cluster overrides still win.
	NodeImage string
	// MultusImage ($TESTBED_MULTUS_IMAGE) replaces multus.image.
	MultusImage string
	// CNIPluginsTarball ($TESTBED_CNI_PLUGINS_TARBALL) replaces cniPlugins.tarball.
	CNIPluginsTarball string
	// StateRoot is the state root used when the topology sets no stateDir.
	StateRoot string
	// CPUs is the default provisioning parallelism.
	CPUs int
	// HostCapacity is each host's predicted capacity in clusters (doctor's
	// figures), for placement: capacity where a host sets none.
	HostCapacity map[string]int
	// Placement is the cluster → host placement recorded by an earlier up
	// (<state dir>/hosts.json): clusters keep their host while it is listed.
	Placement map[string]string
}

// EnvironmentFromOS resolves Environment from getenv (os.Getenv when nil).
func EnvironmentFromOS(getenv func(string) string) Environment {
	if getenv == nil {
		getenv = os.Getenv
	}
	e := Environment{
		NodeImage:         getenv(EnvNodeImage),
		MultusImage:       getenv(EnvMultusImage),
		CNIPluginsTarball: getenv(EnvCNIPluginsTarball),
		StateRoot:         getenv(EnvStateDir),
		CPUs:              runtime.NumCPU(),
	}
	if e.StateRoot == "" {
		base := getenv("XDG_STATE_HOME")
		if base == "" {
			if home := getenv("HOME"); home != "" {
				base = filepath.Join(home, ".local", "state")
			} else {
				base = filepath.Join(os.TempDir(), "testbed-state")
			}
		}
		e.StateRoot = filepath.Join(base, "testbed")
	}
	return e
}

// Option changes how Load and Parse resolve a topology.
type Option func(*Environment)

// WithEnvironment replaces the process environment (for tests and callers
// that resolved it already).
func WithEnvironment(e Environment) Option {
	return func(dst *Environment) { *dst = e }
}

// Load reads, strictly decodes and validates the topology file at path.
// Every problem is returned at once as an ErrorList of located FieldErrors.
func Load(path string, opts ...Option) (*Topology, error) {
	data, err := yamlfile.Read(path, "topology", "topology/2-nodes.yaml")
	if err != nil {
		return nil, err
	}
	return Parse(path, data, opts...)
}

// Parse is Load for content already in memory; file names the errors.
func Parse(file string, data []byte, opts ...Option) (*Topology, error) {
	env := EnvironmentFromOS(nil)
	for _, o := range opts {
		o(&env)
	}
	t := &Topology{}
	doc, err := yamlfile.Decode(file, data, yamlfile.Spec{APIVersion: APIVersion, Kind: Kind, Example: "topology/2-nodes.yaml"}, t)
	if err != nil {
		return nil, err
	}
	t.file, t.doc, t.env = file, doc, env
	if errs := t.validate(); len(errs) > 0 {
		return nil, errs.Err()
	}
	if len(t.Hosts) > 0 && t.env.Placement == nil {
		t.env.Placement = ReadPlacement(t.planStateDir())
	}
	return t, nil
}

// PlacementFile is where up records a multi-host lab's hosts and their
// clusters, under the lab's state directory.
const PlacementFile = "hosts.json"

// maxPlacementFile bounds the placement record.
const maxPlacementFile = 1 << 20

// ReadPlacement returns the cluster → host placement recorded in
// stateDir/hosts.json by an earlier up, or nil when there is none (or it
// cannot be read: up writes it again).
func ReadPlacement(stateDir string) map[string]string {
	f, err := os.Open(filepath.Join(stateDir, PlacementFile))
	if err != nil {
		return nil
	}
	defer f.Close()
	var rec struct {
		Hosts []struct {
			Name     string   `json:"name"`
			Clusters []string `json:"clusters"`
		} `json:"hosts"`
	}
	if err := json.NewDecoder(io.LimitReader(f, maxPlacementFile)).Decode(&rec); err != nil {
		return nil
	}
	out := map[string]string{}
	for _, h := range rec.Hosts {
		for _, c := range h.Clusters {
			out[c] = h.Name
		}
	}
	return out
}

// File is the path the topology was loaded from.
func (t *Topology) File() string { return t.file }
