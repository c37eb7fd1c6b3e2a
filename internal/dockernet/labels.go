package dockernet

// Labels every Docker object created by testbed carries.
const (
	LabelManaged  = "dev.testbed.managed"
	LabelTopology = "dev.testbed.topology"
	LabelCluster  = "dev.testbed.cluster"

	// KindClusterLabel and KindRoleLabel are set by KinD on its node containers.
	KindClusterLabel = "io.x-k8s.kind.cluster"
	KindRoleLabel    = "io.x-k8s.kind.role"
)

// Labels returns the labels for an object of the given topology.
func Labels(topology string) map[string]string {
	return map[string]string{LabelManaged: "true", LabelTopology: topology}
}
