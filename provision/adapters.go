package provision

import (
	"context"
	"net/http"

	"github.com/fluidos-lab/testbed/internal/cni"
	"github.com/fluidos-lab/testbed/internal/images"
	"github.com/fluidos-lab/testbed/topology"
)

// DockerImages is the production Images over the Docker Engine API.
type DockerImages struct{ API images.BakeAPI }

var _ Images = DockerImages{}

// EnsureHost implements Images.
func (d DockerImages) EnsureHost(ctx context.Context, refs []string, offline bool) ([]string, error) {
	return images.EnsureHost(ctx, d.API, refs, offline)
}

// Bake implements Images.
func (d DockerImages) Bake(ctx context.Context, base string, refs []string, files map[string]string) (string, bool, error) {
	return images.Bake(ctx, d.API, base, refs, files)
}

// Load implements Images.
func (d DockerImages) Load(ctx context.Context, ref string, nodes []string) ([]string, error) {
	return images.LoadIntoNodes(ctx, d.API, ref, nodes)
}

// Unpack implements Images.
func (d DockerImages) Unpack(ctx context.Context, refs, nodes []string) error {
	return images.UnpackInNodes(ctx, d.API, refs, nodes)
}

// DockerCNI is the production CNI over the Docker Engine API.
type DockerCNI struct {
	API    cni.API
	Getenv func(string) string
	HTTP   *http.Client
}

var _ CNI = DockerCNI{}

// Prepare implements CNI.
func (d DockerCNI) Prepare(ctx context.Context, p topology.CNIPlan, cacheDir string) (map[string][]byte, error) {
	src, err := cni.Source(ctx, p, cacheDir, d.Getenv, d.HTTP)
	if err != nil {
		return nil, err
	}
	return cni.Extract(src, p.Plugins)
}

// Install implements CNI.
func (d DockerCNI) Install(ctx context.Context, nodes []string, plugins map[string][]byte) (map[string][]string, error) {
	return cni.Install(ctx, d.API, nodes, plugins)
}
