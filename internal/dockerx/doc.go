// Package dockerx is testbed's one way to reach a Docker engine: it builds
// the Engine API client (NewClient) and runs commands in containers through
// that API (Exec, and the Executor seam over KinD node containers). Nothing
// else in testbed constructs a Docker client or execs into a container.
package dockerx
