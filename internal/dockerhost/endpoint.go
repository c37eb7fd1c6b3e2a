package dockerhost

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/docker/cli/cli/connhelper/ssh"
	"github.com/docker/cli/cli/context/store"
)

// Kind is the form an endpoint was written in.
type Kind int

// The forms of an endpoint.
const (
	KindContext Kind = iota + 1 // a Docker CLI context name
	KindUnix                    // unix:///path/docker.sock
	KindTCP                     // tcp://host:port, optionally with TLS
	KindSSH                     // ssh://[user@]host[:port]
)

func (k Kind) String() string {
	switch k {
	case KindContext:
		return "context"
	case KindUnix:
		return "unix"
	case KindTCP:
		return "tcp"
	case KindSSH:
		return "ssh"
	}
	return "invalid"
}

// DefaultContext is the Docker CLI's built-in context. As an endpoint it
// means the engine's default local socket (DefaultSocket): Env clears
// DOCKER_HOST for it, so a child CLI resolves it to that socket too.
const DefaultContext = "default"

// TLSFiles is the TLS material of a tcp:// endpoint, as the docker CLI's
// DOCKER_CERT_PATH and DOCKER_TLS_VERIFY give it.
type TLSFiles struct {
	// Dir holds ca.pem, cert.pem and key.pem. Empty: plain TCP, no TLS.
	Dir string
	// Verify checks the engine's certificate against Dir/ca.pem.
	Verify bool
}

// Enabled reports whether the endpoint talks TLS.
func (t TLSFiles) Enabled() bool { return t.Dir != "" }

// Endpoint is one Docker engine as a topology names it. The zero value is
// not an endpoint; build one with Parse.
type Endpoint struct {
	kind      Kind
	host      string   // the engine URL (unix, tcp, ssh); a context's after Resolve
	context   string   // KindContext: the context name
	tls       TLSFiles // KindTCP
	configDir string   // KindContext: the CLI config directory, when not the default
	resolved  bool     // KindContext: host and skipVerify come from the store
}

// Parse reads an endpoint: a Docker context name (as `docker context ls`
// shows; "default" is the local default socket), unix:///path/docker.sock,
// tcp://host:port or ssh://[user@]host[:port][/remote/socket]. tls applies
// to tcp:// only (a context carries its own TLS material in the context
// store). Parse does no I/O: a context is looked up, and certificate files
// are read, when a client is made (Resolve, Client).
func Parse(s string, tls TLSFiles) (Endpoint, error) {
	e, err := parse(s)
	if err == nil {
		err = checkTLS(e.kind, tls)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("docker endpoint %q: %w", s, err)
	}
	if e.kind == KindTCP {
		e.tls = tls
	}
	return e, nil
}

func parse(s string) (Endpoint, error) {
	if s == "" {
		return Endpoint{}, errors.New("empty: want a Docker context name, unix://, tcp:// or ssh://")
	}
	if strings.TrimSpace(s) != s {
		return Endpoint{}, errors.New("leading or trailing white space")
	}
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return parseContext(s)
	}
	switch scheme {
	case "unix":
		return parseUnix(s)
	case "tcp":
		return parseTCP(s)
	case "ssh":
		return parseSSH(s)
	}
	return Endpoint{}, fmt.Errorf("unknown scheme %q: want unix://, tcp:// or ssh://, or a Docker context name", scheme)
}

func checkTLS(k Kind, tls TLSFiles) error {
	switch {
	case tls.Verify && !tls.Enabled():
		return errors.New("TLS verification needs a certificate directory (ca.pem)")
	case tls.Enabled() && k == KindContext:
		return errors.New("a context's TLS material comes from the Docker context store, not a certificate directory")
	case tls.Enabled() && k != KindTCP:
		return fmt.Errorf("TLS applies to tcp:// endpoints only, not %s://", k)
	}
	return nil
}

func parseContext(s string) (Endpoint, error) {
	if s == DefaultContext {
		return Endpoint{kind: KindContext, context: s}, nil
	}
	if err := store.ValidateContextName(s); err != nil {
		hint := ""
		if strings.ContainsAny(s, ":/") {
			hint = " (a URL needs a scheme: unix://, tcp:// or ssh://)"
		}
		return Endpoint{}, fmt.Errorf("not a valid Docker context name%s: %w", hint, err)
	}
	return Endpoint{kind: KindContext, context: s}, nil
}

func parseUnix(s string) (Endpoint, error) {
	path := strings.TrimPrefix(s, "unix://")
	switch {
	case path == "":
		return Endpoint{}, errors.New("unix:// needs a socket path, e.g. unix:///var/run/docker.sock")
	case !strings.HasPrefix(path, "/"):
		return Endpoint{}, fmt.Errorf("socket path %q is not absolute (unix:///path/docker.sock has three slashes)", path)
	case strings.ContainsAny(path, "?#"):
		return Endpoint{}, fmt.Errorf("socket path %q holds a query or fragment", path)
	}
	return Endpoint{kind: KindUnix, host: s}, nil
}

func parseTCP(s string) (Endpoint, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, unwrapURL(err)
	}
	switch {
	case u.User != nil:
		return Endpoint{}, errors.New("tcp:// takes no user")
	case u.Hostname() == "":
		return Endpoint{}, errors.New("tcp:// needs a host, e.g. tcp://10.0.0.2:2376")
	case u.Port() == "":
		return Endpoint{}, fmt.Errorf("tcp:// needs a port, e.g. tcp://%s:2376", u.Host)
	case u.Path != "" && u.Path != "/":
		return Endpoint{}, fmt.Errorf("tcp:// takes no path (%q)", u.Path)
	case u.RawQuery != "" || u.Fragment != "":
		return Endpoint{}, errors.New("tcp:// takes no query or fragment")
	}
	if err := checkPort(u.Port()); err != nil {
		return Endpoint{}, err
	}
	return Endpoint{kind: KindTCP, host: "tcp://" + u.Host}, nil
}

func parseSSH(s string) (Endpoint, error) {
	sp, err := ssh.ParseURL(s)
	if err != nil {
		return Endpoint{}, err
	}
	if sp.Port != "" {
		if err := checkPort(sp.Port); err != nil {
			return Endpoint{}, err
		}
	}
	return Endpoint{kind: KindSSH, host: s}, nil
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	return nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Kind is the form the endpoint was written in.
func (e Endpoint) Kind() Kind { return e.kind }

// Context is the context name of a KindContext endpoint, else "".
func (e Endpoint) Context() string { return e.context }

// Host is the engine URL: as given for unix, tcp and ssh; for a context,
// the context's docker endpoint once resolved (Resolve), else "".
func (e Endpoint) Host() string { return e.host }

// TLS is the TLS material of a tcp:// endpoint.
func (e Endpoint) TLS() TLSFiles { return e.tls }

// String describes the endpoint for logs and errors.
func (e Endpoint) String() string {
	switch e.kind {
	case KindContext:
		if e.resolved {
			return fmt.Sprintf("context %q (%s)", e.context, e.host)
		}
		return fmt.Sprintf("context %q", e.context)
	case KindTCP:
		switch {
		case e.tls.Verify:
			return e.host + " (TLS, verified)"
		case e.tls.Enabled():
			return e.host + " (TLS, not verified)"
		}
	}
	if e.host == "" {
		return "invalid Docker endpoint"
	}
	return e.host
}

// IsLocal reports whether the engine is reached through a local unix
// socket: a unix:// endpoint, the default context, or a resolved context
// whose docker endpoint is a unix socket.
func (e Endpoint) IsLocal() bool {
	switch e.kind {
	case KindUnix:
		return true
	case KindContext:
		return e.context == DefaultContext || strings.HasPrefix(e.host, "unix://")
	}
	return false
}
