package dockerhost

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t *testing.T, s string, tls TLSFiles) Endpoint {
	t.Helper()
	e, err := Parse(s, tls)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEnv(t *testing.T) {
	tests := []struct {
		name string
		e    Endpoint
		want []string
	}{
		{"context", mustParse(t, "remote-b", TLSFiles{}),
			[]string{"DOCKER_HOST=", "DOCKER_CONTEXT=remote-b", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=", "DOCKER_CERT_PATH="}},
		{"context with its config dir", mustParse(t, "remote-b", TLSFiles{}).WithConfigDir("/srv/lab/docker"),
			[]string{"DOCKER_HOST=", "DOCKER_CONTEXT=remote-b", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=", "DOCKER_CERT_PATH=", "DOCKER_CONFIG=/srv/lab/docker"}},
		{"default context", mustParse(t, "default", TLSFiles{}),
			[]string{"DOCKER_HOST=", "DOCKER_CONTEXT=default", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=", "DOCKER_CERT_PATH="}},
		{"unix", mustParse(t, "unix:///run/docker.sock", TLSFiles{}),
			[]string{"DOCKER_HOST=unix:///run/docker.sock", "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=", "DOCKER_CERT_PATH="}},
		{"ssh", mustParse(t, "ssh://lab@10.0.0.3:2222", TLSFiles{}),
			[]string{"DOCKER_HOST=ssh://lab@10.0.0.3:2222", "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=", "DOCKER_CERT_PATH="}},
		{"plain tcp", mustParse(t, "tcp://10.0.0.2:2375", TLSFiles{}),
			[]string{"DOCKER_HOST=tcp://10.0.0.2:2375", "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=", "DOCKER_CERT_PATH="}},
		{"tcp, TLS verified", mustParse(t, "tcp://10.0.0.2:2376", TLSFiles{Dir: "/certs/b", Verify: true}),
			[]string{"DOCKER_HOST=tcp://10.0.0.2:2376", "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY=1", "DOCKER_TLS=1", "DOCKER_CERT_PATH=/certs/b"}},
		{"tcp, TLS not verified", mustParse(t, "tcp://10.0.0.2:2376", TLSFiles{Dir: "/certs/b"}),
			[]string{"DOCKER_HOST=tcp://10.0.0.2:2376", "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=1", "DOCKER_CERT_PATH=/certs/b"}},
		{"config dir ignored off contexts", mustParse(t, "unix:///run/docker.sock", TLSFiles{}).WithConfigDir("/x"),
			[]string{"DOCKER_HOST=unix:///run/docker.sock", "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=", "DOCKER_CERT_PATH="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.e.Env()); d != "" {
				t.Errorf("Env() (-want +got):\n%s", d)
			}
		})
	}
}

func TestEnviron(t *testing.T) {
	base := []string{"PATH=/usr/bin", "DOCKER_HOST=tcp://parent:2376", "DOCKER_TLS_VERIFY=1", "HOME=/root", "DOCKER_CONFIG=/parent", "KIND_EXPERIMENTAL_DOCKER_NETWORK=lab"}
	tests := []struct {
		name string
		e    Endpoint
		want []string
	}{
		{"context keeps the parent's DOCKER_CONFIG", mustParse(t, "remote-b", TLSFiles{}),
			[]string{"PATH=/usr/bin", "HOME=/root", "DOCKER_CONFIG=/parent", "KIND_EXPERIMENTAL_DOCKER_NETWORK=lab",
				"DOCKER_HOST=", "DOCKER_CONTEXT=remote-b", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=", "DOCKER_CERT_PATH="}},
		{"context with its own DOCKER_CONFIG", mustParse(t, "remote-b", TLSFiles{}).WithConfigDir("/lab"),
			[]string{"PATH=/usr/bin", "HOME=/root", "KIND_EXPERIMENTAL_DOCKER_NETWORK=lab",
				"DOCKER_HOST=", "DOCKER_CONTEXT=remote-b", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=", "DOCKER_CERT_PATH=", "DOCKER_CONFIG=/lab"}},
		{"ssh", mustParse(t, "ssh://b", TLSFiles{}),
			[]string{"PATH=/usr/bin", "HOME=/root", "DOCKER_CONFIG=/parent", "KIND_EXPERIMENTAL_DOCKER_NETWORK=lab",
				"DOCKER_HOST=ssh://b", "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY=", "DOCKER_TLS=", "DOCKER_CERT_PATH="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]string(nil), base...)
			if d := cmp.Diff(tt.want, tt.e.Environ(base)); d != "" {
				t.Errorf("Environ() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(before, base); d != "" {
				t.Errorf("Environ changed its input:\n%s", d)
			}
		})
	}
}
