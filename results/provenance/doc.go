// Package provenance gathers what a campaign's manifest records about where
// and with what it ran: the host (kernel, cgroup mode, CPU, memory), the
// software (tool, Go and dependency versions, Docker engine), the inputs
// (files verbatim with their hashes) and what actually ran in the lab, read
// back from the clusters rather than from the request (container image
// digests, node image digest). Images referenced by a moving tag become
// warnings.
package provenance
