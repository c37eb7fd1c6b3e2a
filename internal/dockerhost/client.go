package dockerhost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/tlsconfig"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// sshFlags are the options of the ssh process behind an ssh:// endpoint:
// give up on an unreachable host after 10 s, and never prompt (testbed
// runs unattended: keys come from the ssh agent or ~/.ssh/config).
func sshFlags() []string {
	return []string{"-o", "ConnectTimeout=10", "-o", "BatchMode=yes"}
}

// Client returns a Docker Engine API client of the endpoint, with the API
// version negotiated with the engine: Client pings the engine, so an
// unreachable engine, a missing context or bad TLS material fail here.
// The caller closes the client.
//
// unix and tcp endpoints are reached directly (tcp with the TLS material of
// TLSFiles); ssh endpoints through the docker CLI's connection helper,
// which runs `ssh -o ConnectTimeout=10 -o BatchMode=yes [-l user] [-p port]
// -- host docker system dial-stdio` once per connection; contexts through
// their docker endpoint in the CLI's context store. DOCKER_API_VERSION,
// when set, pins the API version as it does for the docker CLI.
func (e Endpoint) Client(ctx context.Context) (*client.Client, error) {
	opts, err := e.ClientOpts()
	if err != nil {
		return nil, err
	}
	c, err := dockerx.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", e, err)
	}
	ping, err := c.Ping(ctx)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("reaching Docker engine %s: %w", e, err)
	}
	c.NegotiateAPIVersionPing(ping)
	return c, nil
}

// ClientOpts are the Docker client options that reach the endpoint's
// engine (see Client). For a context they read the context store, for a
// tcp:// endpoint with TLS the certificate files.
func (e Endpoint) ClientOpts() ([]client.Opt, error) {
	opts, err := e.transportOpts()
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", e, err)
	}
	return append(opts, client.WithVersionFromEnv(), client.WithAPIVersionNegotiation()), nil
}

func (e Endpoint) transportOpts() ([]client.Opt, error) {
	switch e.kind {
	case KindUnix:
		return []client.Opt{client.WithHost(e.host)}, nil
	case KindTCP:
		return tcpOpts(e.host, e.tls)
	case KindSSH:
		return sshOpts(e.host)
	case KindContext:
		ep, err := e.contextEndpoint()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(ep.Host, "ssh://") {
			return sshOpts(ep.Host)
		}
		return ep.ClientOpts()
	}
	return nil, errors.New("not a parsed endpoint")
}

func tcpOpts(host string, t TLSFiles) ([]client.Opt, error) {
	if !t.Enabled() {
		return []client.Opt{client.WithHost(host)}, nil
	}
	cfg, err := tlsOptions(t)
	if err != nil {
		return nil, err
	}
	tc, err := tlsconfig.Client(cfg)
	if err != nil {
		return nil, fmt.Errorf("TLS material in %s: %w", t.Dir, err)
	}
	// The client's own defaults, with TLS; WithHost then sets the dialer.
	hc := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: tc, MaxIdleConns: 6, IdleConnTimeout: 30 * time.Second},
		CheckRedirect: client.CheckRedirect,
	}
	return []client.Opt{client.WithHTTPClient(hc), client.WithHost(host)}, nil
}

// tlsOptions finds the TLS files of t.Dir as the docker CLI does: ca.pem is
// required to verify the engine; cert.pem and key.pem (the client's
// certificate) go together, and are left out when both are missing.
func tlsOptions(t TLSFiles) (tlsconfig.Options, error) {
	ca, cert, key := filepath.Join(t.Dir, "ca.pem"), filepath.Join(t.Dir, "cert.pem"), filepath.Join(t.Dir, "key.pem")
	opts := tlsconfig.Options{InsecureSkipVerify: !t.Verify, ExclusiveRootPools: true}
	haveCA, err := present(ca)
	if err != nil {
		return opts, err
	}
	if t.Verify && !haveCA {
		return opts, fmt.Errorf("verifying the engine's certificate needs %s: not found", ca)
	}
	if haveCA && t.Verify {
		opts.CAFile = ca
	}
	haveCert, err := present(cert)
	if err != nil {
		return opts, err
	}
	haveKey, err := present(key)
	if err != nil {
		return opts, err
	}
	switch {
	case haveCert && haveKey:
		opts.CertFile, opts.KeyFile = cert, key
	case haveCert:
		return opts, fmt.Errorf("%s without %s", cert, key)
	case haveKey:
		return opts, fmt.Errorf("%s without %s", key, cert)
	}
	return opts, nil
}

func present(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, err
}

// sshOpts reach the engine through the docker CLI's ssh connection helper,
// with an HTTP client without TLS and without proxy, as the CLI does.
func sshOpts(host string) ([]client.Opt, error) {
	h, err := connhelper.GetConnectionHelperWithSSHOpts(host, sshFlags())
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: h.Dialer}}
	return []client.Opt{client.WithHTTPClient(hc), client.WithHost(h.Host), client.WithDialContext(h.Dialer)}, nil
}
