// Package kubeclient turns a cluster's kubeconfig file into API clients,
// in one place and with one rate-limit policy, so that every part of testbed
// (provisioning, the runner's watches and resets, sweeps, the self-test,
// provenance) talks to the lab's API servers the same way.
package kubeclient
