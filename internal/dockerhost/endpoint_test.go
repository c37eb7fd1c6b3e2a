package dockerhost

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	certs := TLSFiles{Dir: "/etc/docker/certs/b"}
	tests := []struct {
		in      string
		tls     TLSFiles
		kind    Kind
		host    string
		context string
		str     string
		local   bool
	}{
		{in: "default", kind: KindContext, context: "default", str: `context "default"`, local: true},
		{in: "remote-b", kind: KindContext, context: "remote-b", str: `context "remote-b"`},
		{in: "lab.b_2+x", kind: KindContext, context: "lab.b_2+x", str: `context "lab.b_2+x"`},
		{in: "unix:///var/run/docker.sock", kind: KindUnix, host: "unix:///var/run/docker.sock", str: "unix:///var/run/docker.sock", local: true},
		{in: "unix:///run/user/1000/docker.sock", kind: KindUnix, host: "unix:///run/user/1000/docker.sock", str: "unix:///run/user/1000/docker.sock", local: true},
		{in: "tcp://10.0.0.2:2375", kind: KindTCP, host: "tcp://10.0.0.2:2375", str: "tcp://10.0.0.2:2375"},
		{in: "tcp://docker-b.lab:2376/", tls: TLSFiles{Dir: "/c", Verify: true}, kind: KindTCP, host: "tcp://docker-b.lab:2376", str: "tcp://docker-b.lab:2376 (TLS, verified)"},
		{in: "tcp://[fd00::2]:2376", tls: certs, kind: KindTCP, host: "tcp://[fd00::2]:2376", str: "tcp://[fd00::2]:2376 (TLS, not verified)"},
		{in: "ssh://lab@10.0.0.3", kind: KindSSH, host: "ssh://lab@10.0.0.3", str: "ssh://lab@10.0.0.3"},
		{in: "ssh://host-c:2222", kind: KindSSH, host: "ssh://host-c:2222", str: "ssh://host-c:2222"},
		{in: "ssh://lab@host-c/run/docker.sock", kind: KindSSH, host: "ssh://lab@host-c/run/docker.sock", str: "ssh://lab@host-c/run/docker.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.in, tt.tls)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if e.Kind() != tt.kind || e.Host() != tt.host || e.Context() != tt.context {
				t.Errorf("kind %v host %q context %q, want %v %q %q", e.Kind(), e.Host(), e.Context(), tt.kind, tt.host, tt.context)
			}
			if e.String() != tt.str {
				t.Errorf("String() = %q, want %q", e.String(), tt.str)
			}
			if e.IsLocal() != tt.local {
				t.Errorf("IsLocal() = %v, want %v", e.IsLocal(), tt.local)
			}
			if e.TLS() != tt.tls {
				t.Errorf("TLS() = %+v, want %+v", e.TLS(), tt.tls)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		tls  TLSFiles
		want string
	}{
		{"", TLSFiles{}, "empty: want a Docker context name"},
		{" default", TLSFiles{}, "white space"},
		{"tcp://10.0.0.2", TLSFiles{}, "tcp:// needs a port, e.g. tcp://10.0.0.2:2376"},
		{"tcp://10.0.0.2:", TLSFiles{}, "tcp:// needs a port"},
		{"tcp://:2376", TLSFiles{}, "tcp:// needs a host"},
		{"tcp://10.0.0.2:99999", TLSFiles{}, `port "99999" is not a number from 1 to 65535`},
		{"tcp://10.0.0.2:0", TLSFiles{}, `port "0"`},
		{"tcp://10.0.0.2:ab", TLSFiles{}, `invalid port ":ab"`},
		{"tcp://u@10.0.0.2:2376", TLSFiles{}, "tcp:// takes no user"},
		{"tcp://10.0.0.2:2376/v1", TLSFiles{}, `tcp:// takes no path ("/v1")`},
		{"tcp://10.0.0.2:2376?x=1", TLSFiles{}, "no query or fragment"},
		{"unix://", TLSFiles{}, "unix:// needs a socket path"},
		{"unix://var/run/docker.sock", TLSFiles{}, `socket path "var/run/docker.sock" is not absolute`},
		{"ssh://", TLSFiles{}, "hostname is empty"},
		{"ssh://u:secret@host", TLSFiles{}, "plain-text password is not supported"},
		{"ssh://host:70000", TLSFiles{}, `port "70000"`},
		{"ssh://host?x=1", TLSFiles{}, "query parameters are not allowed"},
		{"https://10.0.0.2:2376", TLSFiles{}, `unknown scheme "https": want unix://, tcp:// or ssh://`},
		{"npipe:////./pipe/docker_engine", TLSFiles{}, `unknown scheme "npipe"`},
		{"10.0.0.2:2376", TLSFiles{}, "not a valid Docker context name (a URL needs a scheme: unix://, tcp:// or ssh://)"},
		{"-remote", TLSFiles{}, `not a valid Docker context name: context name "-remote" is invalid`},
		{"a", TLSFiles{}, "not a valid Docker context name"},
		{"my context", TLSFiles{}, "not a valid Docker context name"},
		{"unix:///var/run/docker.sock", TLSFiles{Dir: "/c"}, "TLS applies to tcp:// endpoints only, not unix://"},
		{"ssh://host", TLSFiles{Dir: "/c"}, "TLS applies to tcp:// endpoints only, not ssh://"},
		{"remote-b", TLSFiles{Dir: "/c"}, "a context's TLS material comes from the Docker context store"},
		{"tcp://h:2376", TLSFiles{Verify: true}, "TLS verification needs a certificate directory"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.in, tt.tls)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.in, e)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if prefix := "docker endpoint " + quote(tt.in) + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
		})
	}
}

func quote(s string) string { return `"` + s + `"` }

func TestZeroEndpoint(t *testing.T) {
	var e Endpoint
	if e.String() != "invalid Docker endpoint" || e.IsLocal() || e.Env() != nil {
		t.Errorf("zero endpoint: String %q IsLocal %v Env %v", e.String(), e.IsLocal(), e.Env())
	}
	if _, err := e.ClientOpts(); err == nil || !strings.Contains(err.Error(), "not a parsed endpoint") {
		t.Errorf("ClientOpts of the zero endpoint: %v", err)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindContext: "context", KindUnix: "unix", KindTCP: "tcp", KindSSH: "ssh", 0: "invalid"} {
		if k.String() != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, k.String(), want)
		}
	}
}
