// Package referenceagent embeds the reference-agent Helm chart so that the
// testbed binary can install it without the source tree (Chart
// "builtin:reference-agent" with helm.WithBuiltinChart).
package referenceagent
