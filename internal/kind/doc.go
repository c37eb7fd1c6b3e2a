// Package kind drives sigs.k8s.io/kind as a library: one Provider per
// cluster with a Logger writing to that cluster's log file, a v1alpha4
// config built in memory, one kubeconfig file per cluster (mode 0600), and a
// create that collects KinD's logs and deletes the partial cluster before
// retrying.
//
// KinD's API takes no context: a create in flight runs to completion (or
// failure); Create only checks the context before each attempt.
package kind
