// Package selftest checks a running lab with the reference agent: it
// installs or upgrades the agent chart on every cluster, waits until every
// cluster has a Peer object for every other one, and reports the N×N
// discovery matrix from the agents' ground-truth timestamps with a verdict
// that names the broken direction.
package selftest
