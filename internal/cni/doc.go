// Package cni installs CNI plugin binaries that KinD node images lack
// (macvlan, and static or host-local when missing) into /opt/cni/bin of every
// node. The plugins come from a pinned CNI plugins release tarball,
// downloaded once, checked against its SHA-256 and cached on the host, or
// from a local tarball on offline hosts; they are copied into the nodes with
// the Docker Engine API (CopyToContainer), never with a download on a node.
package cni
