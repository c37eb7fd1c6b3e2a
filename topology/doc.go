// Package topology reads lab topology files (apiVersion testbed.dev/v1alpha1,
// kind Topology) and resolves them into a Plan.
//
// Loading is strict and reports every problem at once: Load/Parse return an
// ErrorList of FieldErrors, each rendered as
//
//	file:line:col: field.path: message (fix: ...)
//
// DecodeStrict, FieldError, ErrorList and Document are reusable for other
// file kinds (scenarios): decode with DecodeStrict, then validate semantics
// and locate errors with Document.Error(path, message, fix).
//
// Environment overrides are read by Load only (EnvironmentFromOS):
// TESTBED_NODE_IMAGE replaces clusters.nodeImage and the default (a
// per-cluster override still wins), TESTBED_MULTUS_IMAGE replaces
// multus.image, TESTBED_CNI_PLUGINS_TARBALL replaces cniPlugins.tarball and
// TESTBED_STATE_DIR sets the state root when stateDir is not in the file
// (default ${XDG_STATE_HOME:-$HOME/.local/state}/testbed). Topology.Plan is
// pure: it performs no I/O.
//
// Address plan: cluster i (1-based) gets the i-th /24 of macvlan.subnet and
// the address .101 in it, so addresses are unique for any count up to the
// pool size (a /16 holds 256 clusters). Node addresses on the shared Docker
// network are assigned by Docker's IPAM when the containers start; the plan
// states the range.
package topology
