// Package agentimage builds the reference agent's container image from the
// running testbed binary, with no registry and no base image: a single-layer
// docker-archive (manifest.json, config JSON, one layer holding /testbed) is
// loaded into the Docker engine with ImageLoad. The tag is the first 12 hex
// digits of the binary's SHA-256, so an unchanged binary is never rebuilt.
package agentimage
