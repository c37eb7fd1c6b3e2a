package dockerhost

import "strings"

// The environment variables through which the docker CLI picks its engine.
const (
	EnvHost      = "DOCKER_HOST"       // the engine URL; when not empty it wins over DOCKER_CONTEXT
	EnvContext   = "DOCKER_CONTEXT"    // the context name
	EnvTLSVerify = "DOCKER_TLS_VERIFY" // not empty: TLS, verifying the engine
	EnvTLS       = "DOCKER_TLS"        // not empty: TLS (verified only with DOCKER_TLS_VERIFY)
	EnvCertPath  = "DOCKER_CERT_PATH"  // the directory of ca.pem, cert.pem, key.pem
)

// Env is the environment a child docker CLI (KinD's, say) needs to talk to
// this engine, as KEY=value entries to append to the child's environment
// (exec.Cmd keeps the last value of a key, so
// append(os.Environ(), e.Env()...) is enough; Environ does the same
// without duplicates). This process's own environment is not touched.
//
// Every key the CLI reads to pick its engine is set, empty when it must not
// apply, so nothing leaks from the parent's environment:
//
//   - context: DOCKER_CONTEXT=name, DOCKER_HOST= (a non-empty DOCKER_HOST
//     would win over the context), no TLS variables; DOCKER_CONFIG=dir
//     when the endpoint has its own (WithConfigDir);
//   - unix, ssh, plain tcp: DOCKER_HOST=url, DOCKER_CONTEXT=, no TLS
//     variables;
//   - tcp with TLS: DOCKER_HOST=url, DOCKER_TLS=1, DOCKER_CERT_PATH=dir,
//     and DOCKER_TLS_VERIFY=1 when verifying (else empty).
func (e Endpoint) Env() []string {
	var host, ctx, verify, useTLS, certs string
	switch e.kind {
	case KindContext:
		ctx = e.context
	case KindUnix, KindSSH, KindTCP:
		host = e.host
	default:
		return nil
	}
	if e.kind == KindTCP && e.tls.Enabled() {
		useTLS, certs = "1", e.tls.Dir
		if e.tls.Verify {
			verify = "1"
		}
	}
	env := []string{
		EnvHost + "=" + host,
		EnvContext + "=" + ctx,
		EnvTLSVerify + "=" + verify,
		EnvTLS + "=" + useTLS,
		EnvCertPath + "=" + certs,
	}
	if e.kind == KindContext && e.configDir != "" {
		env = append(env, ConfigDirEnv+"="+e.configDir)
	}
	return env
}

// Environ is base (os.Environ(), say) without the entries Env sets, then
// Env: the whole environment of a child docker CLI for this engine.
func (e Endpoint) Environ(base []string) []string {
	env := e.Env()
	set := make(map[string]bool, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := make([]string, 0, len(base)+len(env))
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}
