// Package yamlfile is testbed's one strict loader of YAML input files
// (topologies, scenarios, sweeps, threshold rules): bounded reading,
// limits on size, line and string length, nesting and alias expansion,
// apiVersion/kind dispatch, strict decoding that reports every unknown
// field, wrong type and duplicate key at once, and located errors
// (file:line:col: path: message (fix: …)) that keep their positions for the
// semantic validation done by each file kind.
package yamlfile
