package sweep

import "github.com/fluidos-lab/testbed/internal/yamlfile"

// APIVersion and Kind identify a sweep file.
const (
	APIVersion = "testbed.dev/v1alpha1"
	Kind       = "Sweep"
)

// Strategies.
const (
	StrategySubset      = "subset"
	StrategyReprovision = "reprovision"
)

// File is the sweep document as written.
type File struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   Metadata `yaml:"metadata"`
	// Scenario is the scenario template, relative to the sweep file. Its
	// topology, conditions, protocol and run counts are overridden per cell.
	Scenario string `yaml:"scenario"`
	// Topology overrides the template's topology (relative to the sweep
	// file). With the subset strategy it must have at least max(clusters)
	// clusters; with reprovision it is resized per cell.
	Topology string `yaml:"topology,omitempty"`
	// Clusters are the cluster counts of the matrix (each at least 2).
	Clusters []int `yaml:"clusters"`
	// Conditions are the impairment levels every cell runs.
	Conditions []ConditionFile `yaml:"conditions"`
	// Protocols are preset names; default: the template's protocol.
	Protocols []string `yaml:"protocols,omitempty"`
	// Runs and Warmup per condition and cell; default: the template's.
	Runs   *int `yaml:"runs,omitempty"`
	Warmup *int `yaml:"warmup,omitempty"`
	// Seed of every cell's random phase; default: the template's, else drawn
	// once and kept in each cell's scenario.yaml.
	Seed     *int64 `yaml:"seed,omitempty"`
	Strategy string `yaml:"strategy,omitempty"`
	// Teardown removes the lab when the sweep completes.
	Teardown bool `yaml:"teardown,omitempty"`
	// Output is the sweep directory, relative to the sweep file (default
	// results/sweep-<name>).
	Output string `yaml:"output,omitempty"`
}

// Metadata names the sweep.
type Metadata struct {
	Name string `yaml:"name"`
}

// ConditionFile is one impairment level of the sweep.
type ConditionFile struct {
	// Name defaults to loss-<loss>.
	Name string `yaml:"name,omitempty"`
	// Loss is the packet loss in percent (0..100).
	Loss float64 `yaml:"loss"`
	// Target is peers (default), nodeA or both.
	Target string `yaml:"target,omitempty"`
	// Seed of the impairment's random number generator (netem).
	Seed *int64 `yaml:"seed,omitempty"`
}

// Sweep is a loaded, validated sweep with every default applied and every
// path resolved against the sweep file's directory.
type Sweep struct {
	// doc locates fields of the file for errors found after Load.
	doc *yamlfile.Document

	Name string
	File string
	Raw  []byte
	// ScenarioFile is the template; TopologyFile the topology ("" = the
	// template's).
	ScenarioFile string
	TopologyFile string
	// Clusters is sorted ascending and without duplicates.
	Clusters   []int
	Conditions []Condition
	// Protocols is empty when the template's protocol is used.
	Protocols []string
	Runs      *int
	Warmup    *int
	Seed      *int64
	Strategy  string
	Teardown  bool
	Output    string
}

// Condition is one resolved condition.
type Condition struct {
	Name   string
	Loss   float64
	Target string
	Seed   *int64
}

// Max is the largest cluster count.
func (s *Sweep) Max() int { return s.Clusters[len(s.Clusters)-1] }
