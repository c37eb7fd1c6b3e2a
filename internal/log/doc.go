// Package log is the one small logger every part of testbed is given: warnings
// and errors always, informational lines gated by a verbosity level. It has
// the shape of kind's logger (sigs.k8s.io/kind/pkg/log), so it is passed to
// kind as is, and it adapts to Helm's debug log. There is no global logger:
// the composition root in cmd/testbed builds one and injects it.
package log
