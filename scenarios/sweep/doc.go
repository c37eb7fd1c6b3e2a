// Package sweep runs a scalability sweep: a matrix of cells (protocol ×
// cluster count), each one a campaign of the scenario template with the
// sweep's conditions, recorded in its own directory
// <out>/<protocol>/<N>-clusters/ so that a crashed or killed sweep resumes by
// skipping complete cells and resuming the partial one with the runner's own
// resume.
//
// Strategies:
//
//   - subset (default): the largest topology is provisioned once; a cell of
//     N clusters uses the first N clusters of the plan, the discovery
//     workload is disabled (nodeSelector testbed.dev/disabled=true, or 0
//     replicas) on every other cluster, and only the cell's clusters are
//     given to the runner, so only they are peers.
//   - reprovision: the lab is torn down and provisioned again with exactly N
//     clusters for each size (slow, but nothing idle shares the host).
//
// The sweep report (median, p90 and responsiveness against cluster count,
// one line per condition) is built from each cell's campaign with the
// results package; CompareSweeps compares a sweep against a baseline sweep
// cell by cell and checks thresholds, so a nightly job can fail on them.
package sweep
