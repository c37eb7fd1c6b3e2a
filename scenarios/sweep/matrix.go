package sweep

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/goccy/go-yaml"

	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/topology"
)

// Files inside a cell's campaign directory besides the campaign's own.
const (
	// FileCellScenario is the cell's derived scenario, written once when the
	// cell starts and read back on resume (it carries the drawn seed).
	FileCellScenario = "scenario.yaml"
	// FileCellTopology is the resized topology of a reprovision cell.
	FileCellTopology = "topology.yaml"
)

// Cell is one point of the matrix: one protocol at one cluster count. Its
// campaign runs every condition of the sweep.
type Cell struct {
	Protocol string `json:"protocol"`
	Clusters int    `json:"clusters"`
}

func (c Cell) String() string { return fmt.Sprintf("%s/%d-clusters", c.Protocol, c.Clusters) }

// Dir is the cell's campaign directory under the sweep directory out.
func (c Cell) Dir(out string) string {
	return filepath.Join(out, c.Protocol, strconv.Itoa(c.Clusters)+"-clusters")
}

// Matrix lists the cells in run order: cluster counts ascending, then
// protocols in file order, so that a reprovision sweep builds each size once.
// protocols is the sweep's list, or the template's protocol when it has none.
func Matrix(s *Sweep, templateProtocol string) []Cell {
	protocols := s.Protocols
	if len(protocols) == 0 {
		protocols = []string{templateProtocol}
	}
	var out []Cell
	for _, n := range s.Clusters {
		for _, p := range protocols {
			out = append(out, Cell{Protocol: p, Clusters: n})
		}
	}
	return out
}

// CellScenario derives a cell's scenario from the template: the topology,
// protocol, node A (kept when it is one of the cell's clusters, else the
// first of them), run counts, seed and conditions are replaced; everything
// else (timeouts, phase, measurements) is the template's. It returns the
// scenario document and the scenario it loads to. clusters are the cell's
// cluster names in lab order; file is where the document will be written.
func CellScenario(s *Sweep, tmplFile string, tmpl []byte, c Cell, clusters []string, topologyFile, file string, drawnSeed int64) ([]byte, *scenarios.Scenario, error) {
	if len(clusters) < 2 {
		return nil, nil, fmt.Errorf("cell %s: needs at least 2 clusters, got %v", c, clusters)
	}
	var f scenarios.File
	if err := yaml.Unmarshal(tmpl, &f); err != nil {
		return nil, nil, fmt.Errorf("reading scenario template %s: %w", tmplFile, err)
	}
	f.Metadata.Name = cellName(s.Name, c)
	abs, err := filepath.Abs(topologyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("cell %s: topology path %s: %w", c, topologyFile, err)
	}
	f.Topology = abs
	if f.Protocol.Preset != c.Protocol {
		f.Protocol = scenarios.ProtocolFile{Preset: c.Protocol, AnnounceInterval: f.Protocol.AnnounceInterval}
	}
	inCell := false
	for _, n := range clusters {
		if n == f.NodeA {
			inCell = true
		}
	}
	if !inCell {
		f.NodeA = clusters[0]
	}
	if s.Runs != nil {
		f.Runs = s.Runs
	}
	if s.Warmup != nil {
		f.Warmup = s.Warmup
	}
	switch {
	case s.Seed != nil:
		f.Seed = s.Seed
	case f.Seed == nil:
		f.Seed = &drawnSeed
	}
	f.Conditions = nil
	for _, sc := range s.Conditions {
		loss := sc.Loss
		f.Conditions = append(f.Conditions, scenarios.ConditionFile{Name: sc.Name, Target: sc.Target,
			Impairment: scenarios.ImpairmentFile{Loss: &loss, Seed: sc.Seed}})
	}
	f.Output = ""
	out, err := yaml.Marshal(&f)
	if err != nil {
		return nil, nil, fmt.Errorf("cell %s: writing its scenario: %w", c, err)
	}
	header := fmt.Sprintf("# Cell %s of sweep %s, derived from %s. Do not edit: a resumed sweep reads it back.\n", c, s.Name, tmplFile)
	out = append([]byte(header), out...)
	sc, err := scenarios.LoadBytes(file, out)
	if err != nil {
		return nil, nil, fmt.Errorf("cell %s: derived scenario is invalid: %w", c, err)
	}
	return out, sc, nil
}

// cellName is a DNS label naming the cell's campaign.
func cellName(sweep string, c Cell) string {
	n := fmt.Sprintf("%s-%s-%d", sweep, c.Protocol, c.Clusters)
	if len(n) > 63 {
		n = fmt.Sprintf("%s-%d", sweep, c.Clusters)
		if len(n) > 63 {
			n = n[len(n)-63:]
		}
	}
	return n
}

// ResizeTopology returns the topology document with exactly n clusters:
// a count topology gets count n, a list topology its first n names.
func ResizeTopology(file string, data []byte, n int) ([]byte, error) {
	var t topology.Topology
	if err := yaml.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("reading topology %s: %w", file, err)
	}
	switch {
	case len(t.Clusters.List) > 0:
		if n > len(t.Clusters.List) {
			return nil, fmt.Errorf("topology %s lists %d clusters, the sweep needs %d", file, len(t.Clusters.List), n)
		}
		t.Clusters.List = t.Clusters.List[:n]
	default:
		t.Clusters.Count = n
	}
	out, err := yaml.Marshal(&t)
	if err != nil {
		return nil, fmt.Errorf("resizing topology %s: %w", file, err)
	}
	header := fmt.Sprintf("# %s resized to %d clusters by a reprovision sweep.\n", file, n)
	return append([]byte(header), out...), nil
}
