package provenance

import (
	"context"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/topology"
)

// DockerClient adapts the Docker client (whose ImageInspect takes options)
// to DockerAPI.
type DockerClient struct{ *client.Client }

var _ DockerAPI = DockerClient{}

// ImageInspect inspects an image by reference or ID.
func (d DockerClient) ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	return d.Client.ImageInspect(ctx, ref)
}

// Collector binds Sources to the (plan, clusters, inputs) signature that
// campaigns and sweeps call (scenarios/sweep.Collector).
type Collector struct {
	Sources Sources
	// Kind is recorded in every manifest (campaign or sweep).
	Kind string
}

// Collect collects a manifest for the given clusters of plan.
func (c Collector) Collect(ctx context.Context, plan *topology.Plan, clusters []string, inputs []results.Input) (results.Manifest, error) {
	return Collect(ctx, c.Sources, Request{Plan: plan, Clusters: clusters, Inputs: inputs, Kind: c.Kind})
}
