package dockerx

import (
	"fmt"

	"github.com/docker/docker/client"
)

// NewClient returns a client of the Docker engine the environment points at
// (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH; the local socket by
// default), with the API version negotiated with the daemon. endpoint, when
// not empty, overrides DOCKER_HOST (unix://, tcp:// or ssh:// URL).
// The caller closes it.
func NewClient(endpoint string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if endpoint != "" {
		opts = append(opts, client.WithHost(endpoint))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		where := "the Docker engine"
		if endpoint != "" {
			where = "Docker engine " + endpoint
		}
		return nil, fmt.Errorf("connecting to %s: %w", where, err)
	}
	return c, nil
}

// NewClientWithOpts returns a client built from opts alone (no
// environment): internal/dockerhost resolves each host's endpoint, TLS and
// ssh dialer into them. The caller closes it.
func NewClientWithOpts(opts ...client.Opt) (*client.Client, error) {
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("building a Docker client: %w", err)
	}
	return c, nil
}
