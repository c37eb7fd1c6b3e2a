package dockerhost

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
	"github.com/docker/docker/client"
)

// DefaultSocket is the engine's default local socket, the docker endpoint
// of the default context.
const DefaultSocket = client.DefaultDockerHost

// ConfigDirEnv names the Docker CLI's configuration directory.
const ConfigDirEnv = "DOCKER_CONFIG"

// ConfigDir is the Docker CLI's configuration directory, which holds its
// context store: $DOCKER_CONFIG, else ~/.docker.
func ConfigDir() (string, error) {
	if d := os.Getenv(ConfigDirEnv); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locating the Docker CLI configuration (%s unset): %w", ConfigDirEnv, err)
	}
	return filepath.Join(home, ".docker"), nil
}

// WithConfigDir returns the endpoint reading its context from the Docker
// CLI configuration directory dir instead of ConfigDir(); Env then sets
// DOCKER_CONFIG=dir for the child CLI too. It only matters for contexts.
func (e Endpoint) WithConfigDir(dir string) Endpoint {
	e.configDir = dir
	return e
}

// Resolve looks a context endpoint up in the Docker CLI's context store
// and returns it with Host (and IsLocal, String) filled in. Other
// endpoints are returned as they are.
func (e Endpoint) Resolve() (Endpoint, error) {
	if e.kind != KindContext || e.resolved {
		return e, nil
	}
	ep, err := e.contextEndpoint()
	if err != nil {
		return Endpoint{}, err
	}
	e.host, e.resolved = ep.Host, true
	return e, nil
}

// contextEndpoint reads the docker endpoint of a context (host, TLS
// verification, TLS material) from the context store, as the docker CLI
// does. The default context is the default socket.
func (e Endpoint) contextEndpoint() (docker.Endpoint, error) {
	if e.kind != KindContext {
		return docker.Endpoint{}, fmt.Errorf("%s is not a Docker context", e)
	}
	if e.context == DefaultContext {
		return docker.Endpoint{EndpointMeta: docker.EndpointMeta{Host: DefaultSocket}}, nil
	}
	dir := e.configDir
	if dir == "" {
		var err error
		if dir, err = ConfigDir(); err != nil {
			return docker.Endpoint{}, fmt.Errorf("docker context %q: %w", e.context, err)
		}
	}
	s := store.New(filepath.Join(dir, "contexts"), contextStoreConfig())
	ep, err := readContext(s, e.context)
	if err != nil {
		return docker.Endpoint{}, fmt.Errorf("reading Docker context %q from %s: %w", e.context, dir, err)
	}
	if ep.Host == "" {
		ep.Host = DefaultSocket
	}
	return ep, nil
}

func readContext(s *store.ContextStore, name string) (docker.Endpoint, error) {
	meta, err := s.GetMetadata(name)
	if err != nil {
		return docker.Endpoint{}, err
	}
	em, err := docker.EndpointFromContext(meta)
	if err != nil {
		return docker.Endpoint{}, err
	}
	return docker.WithTLSData(s, name, em)
}

// contextStoreConfig is the docker CLI's store configuration for the one
// endpoint type testbed reads (docker); the context's own metadata is kept
// untyped.
func contextStoreConfig() store.Config {
	return store.NewConfig(nil, store.EndpointTypeGetter(docker.DockerEndpoint, func() any { return &docker.EndpointMeta{} }))
}
