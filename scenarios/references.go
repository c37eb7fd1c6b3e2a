package scenarios

import (
	"fmt"
	"strings"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/topology"
)

// Locate is an error at field path of the scenario's file (line 1 when the
// scenario was not loaded from a file).
func (s *Scenario) Locate(path, msg, fix string) *yamlfile.FieldError {
	if s.doc != nil {
		return s.doc.Error(path, msg, fix)
	}
	return &yamlfile.FieldError{File: s.File, Line: 1, Column: 1, Path: path, Message: msg, Fix: fix}
}

// CheckReferences resolves what the scenario points at: its topology file
// must load and plan, and node A must be one of its clusters. The
// topology's own errors are returned as they are (located in that file),
// after one located at the scenario's topology field.
func CheckReferences(s *Scenario) yamlfile.ErrorList {
	t, err := topology.Load(s.TopologyFile)
	var p *topology.Plan
	if err == nil {
		p, err = t.Plan()
	}
	if err != nil {
		errs := yamlfile.ErrorList{s.Locate("topology", fmt.Sprintf("topology %s is not usable", s.TopologyFile),
			"fix the errors below, or point topology at a valid file (relative to this scenario)")}
		if list, ok := yamlfile.AsErrorList(err); ok {
			return append(errs, list...)
		}
		errs[0].Message += ": " + err.Error()
		return errs
	}
	var names []string
	for _, c := range p.Clusters {
		if c.Name == s.NodeA {
			return nil
		}
		names = append(names, c.Name)
	}
	shown := names
	if len(shown) > 4 {
		shown = append(shown[:4:4], "…")
	}
	return yamlfile.ErrorList{s.Locate("nodeA", fmt.Sprintf("nodeA %q is not a cluster of topology %s", s.NodeA, s.TopologyFile),
		"use one of its clusters: "+strings.Join(shown, ", "))}
}
