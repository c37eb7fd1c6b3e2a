// Package dockernet manages the Docker objects a testbed lab owns: the shared
// bridge network (created with this tool's labels, reused when it matches,
// refused when it conflicts, multicast snooping set through sysfs) and the
// label-scoped listing of the KinD node containers attached to it.
//
// KinD cannot put custom labels on its node containers, so a node container
// is this tool's when it carries KinD's cluster label
// (io.x-k8s.kind.cluster) AND is attached to a network carrying
// dev.testbed.managed=true. Nothing else is ever listed or removed.
package dockernet
