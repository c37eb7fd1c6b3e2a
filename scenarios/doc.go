// Package scenarios defines the Scenario file (apiVersion testbed.dev/v1alpha1,
// kind Scenario): the topology it runs on, the protocol under test (a preset
// or a custom workload and peer resource), node A, the run counts, the run
// phase, the seed, the impairment conditions and the measurements. Load
// decodes a file strictly and returns every problem at once, located as
// file:line:col with a fix hint; the result has every default applied.
//
// failureDetection simulates a failure by silencing node A's discovery
// interface (100 % egress drop, netem or nftables) and then stopping it, so
// no goodbye reaches the peers and they can only expire A; a host that
// cannot drop packets refuses it before the first run. gracefulLeave stops
// A normally, goodbye allowed.
//
// The runner that executes a Scenario lives in scenarios/runner.
package scenarios
