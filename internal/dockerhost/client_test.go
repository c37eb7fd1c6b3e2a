package dockerhost

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
	"github.com/google/go-cmp/cmp"
)

// checkEngine asserts e's client reaches the fake engine called name and
// negotiated its API version.
func checkEngine(t *testing.T, e Endpoint, name string) {
	t.Helper()
	ctx := context.Background()
	c, err := e.Client(ctx)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	defer c.Close()
	if v := c.ClientVersion(); v != fakeEngineAPI {
		t.Errorf("API version %q, want the negotiated %q", v, fakeEngineAPI)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Name != name {
		t.Errorf("reached engine %q, want %q", info.Name, name)
	}
}

func TestClientUnix(t *testing.T) {
	sock := serveUnix(t, fakeEngine(t, "engine-a"))
	checkEngine(t, mustParse(t, "unix://"+sock, TLSFiles{}), "engine-a")
}

func TestClientTLS(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	url := serveTLS(t, p, fakeEngine(t, "engine-b"))
	all := map[string][]byte{"ca.pem": p.caPEM, "cert.pem": p.clientCert, "key.pem": p.clientKey}
	tests := []struct {
		name   string
		files  map[string][]byte
		verify bool
		err    string // "" when the engine must be reached
	}{
		{"verified", all, true, ""},
		{"not verified, no CA", map[string][]byte{"cert.pem": p.clientCert, "key.pem": p.clientKey}, false, ""},
		{"not verified, another CA", map[string][]byte{"ca.pem": other.caPEM, "cert.pem": p.clientCert, "key.pem": p.clientKey}, false, ""},
		{"verified against another CA", map[string][]byte{"ca.pem": other.caPEM, "cert.pem": p.clientCert, "key.pem": p.clientKey}, true, "certificate signed by unknown authority"},
		{"verified without CA", map[string][]byte{"cert.pem": p.clientCert, "key.pem": p.clientKey}, true, "ca.pem: not found"},
		{"certificate without key", map[string][]byte{"ca.pem": p.caPEM, "cert.pem": p.clientCert}, true, "cert.pem without"},
		{"key without certificate", map[string][]byte{"ca.pem": p.caPEM, "key.pem": p.clientKey}, true, "key.pem without"},
		{"no client certificate", map[string][]byte{"ca.pem": p.caPEM}, true, "reaching Docker engine " + url},
		{"bad CA file", map[string][]byte{"ca.pem": []byte("junk"), "cert.pem": p.clientCert, "key.pem": p.clientKey}, true, "TLS material in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustParse(t, url, TLSFiles{Dir: certDir(t, tt.files), Verify: tt.verify})
			if tt.err == "" {
				checkEngine(t, e, "engine-b")
				return
			}
			c, err := e.Client(context.Background())
			if err == nil {
				c.Close()
				t.Fatal("Client succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), url) {
				t.Errorf("error %q does not contain %q and the endpoint", err, tt.err)
			}
		})
	}
}

func TestClientUnreachable(t *testing.T) {
	dir := t.TempDir()
	e := mustParse(t, "unix://"+filepath.Join(dir, "none.sock"), TLSFiles{})
	_, err := e.Client(context.Background())
	if err == nil || !strings.Contains(err.Error(), "reaching Docker engine unix://"+dir) {
		t.Errorf("error %v, want one naming the endpoint", err)
	}
}

// writeContext stores a docker CLI context in the store under configDir.
func writeContext(t *testing.T, configDir, name string, ep docker.EndpointMeta, tlsFiles map[string][]byte) {
	t.Helper()
	s := store.New(filepath.Join(configDir, "contexts"), contextStoreConfig())
	meta := store.Metadata{Name: name, Metadata: map[string]any{"Description": "test"}, Endpoints: map[string]any{docker.DockerEndpoint: ep}}
	if err := s.CreateOrUpdate(meta); err != nil {
		t.Fatal(err)
	}
	if tlsFiles != nil {
		data := store.ContextTLSData{Endpoints: map[string]store.EndpointTLSData{docker.DockerEndpoint: {Files: tlsFiles}}}
		if err := s.ResetTLSMaterial(name, &data); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClientContext(t *testing.T) {
	p := newPKI(t)
	tlsURL := serveTLS(t, p, fakeEngine(t, "engine-b"))
	sock := serveUnix(t, fakeEngine(t, "engine-c"))
	cfg := t.TempDir()
	writeContext(t, cfg, "lab-b", docker.EndpointMeta{Host: tlsURL},
		map[string][]byte{"ca.pem": p.caPEM, "cert.pem": p.clientCert, "key.pem": p.clientKey})
	writeContext(t, cfg, "lab-c", docker.EndpointMeta{Host: "unix://" + sock}, nil)
	writeContext(t, cfg, "lab-b-notls", docker.EndpointMeta{Host: tlsURL}, nil)

	checkEngine(t, mustParse(t, "lab-b", TLSFiles{}).WithConfigDir(cfg), "engine-b")
	checkEngine(t, mustParse(t, "lab-c", TLSFiles{}).WithConfigDir(cfg), "engine-c")
	t.Setenv(ConfigDirEnv, cfg) // DOCKER_CONFIG, as the docker CLI reads it
	checkEngine(t, mustParse(t, "lab-c", TLSFiles{}), "engine-c")

	for _, tt := range []struct{ name, err string }{
		{"lab-b-notls", "reaching Docker engine context \"lab-b-notls\""},
		{"lab-z", `reading Docker context "lab-z" from ` + cfg + `: context "lab-z": context not found`},
	} {
		_, err := mustParse(t, tt.name, TLSFiles{}).Client(context.Background())
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
		}
	}
}

func TestResolve(t *testing.T) {
	cfg := t.TempDir()
	writeContext(t, cfg, "lab-b", docker.EndpointMeta{Host: "tcp://10.0.0.2:2376"}, nil)
	writeContext(t, cfg, "lab-c", docker.EndpointMeta{Host: "unix:///run/c.sock"}, nil)
	writeContext(t, cfg, "lab-d", docker.EndpointMeta{}, nil)
	tests := []struct {
		in, host, str string
		local         bool
	}{
		{"lab-b", "tcp://10.0.0.2:2376", `context "lab-b" (tcp://10.0.0.2:2376)`, false},
		{"lab-c", "unix:///run/c.sock", `context "lab-c" (unix:///run/c.sock)`, true},
		{"lab-d", DefaultSocket, `context "lab-d" (unix:///var/run/docker.sock)`, true},
		{"default", DefaultSocket, `context "default" (unix:///var/run/docker.sock)`, true},
		{"ssh://b", "ssh://b", "ssh://b", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := mustParse(t, tt.in, TLSFiles{}).WithConfigDir(cfg).Resolve()
			if err != nil {
				t.Fatal(err)
			}
			if e.Host() != tt.host || e.String() != tt.str || e.IsLocal() != tt.local {
				t.Errorf("host %q String %q IsLocal %v, want %q %q %v", e.Host(), e.String(), e.IsLocal(), tt.host, tt.str, tt.local)
			}
			again, err := e.Resolve()
			if err != nil || again != e {
				t.Errorf("resolving twice: %v, %v", again, err)
			}
		})
	}
}

func TestConfigDir(t *testing.T) {
	t.Setenv(ConfigDirEnv, "/srv/docker-config")
	if d, err := ConfigDir(); err != nil || d != "/srv/docker-config" {
		t.Errorf("ConfigDir() = %q, %v with DOCKER_CONFIG set", d, err)
	}
	t.Setenv(ConfigDirEnv, "")
	t.Setenv("HOME", "/home/lab")
	if d, err := ConfigDir(); err != nil || d != "/home/lab/.docker" {
		t.Errorf("ConfigDir() = %q, %v without DOCKER_CONFIG", d, err)
	}
}

// TestClientSSH runs the connection helper's ssh against a fake ssh (this
// test binary) that relays to a fake engine, and checks the ssh command
// line.
func TestClientSSH(t *testing.T) {
	sock := serveUnix(t, fakeEngine(t, "engine-d"))
	bin := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "ssh")); err != nil {
		t.Fatal(err)
	}
	argsFile := filepath.Join(bin, "args")
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(fakeSSHEnv, argsFile)
	t.Setenv(fakeSSHSocketEnv, sock)

	cfg := t.TempDir()
	writeContext(t, cfg, "lab-d", docker.EndpointMeta{Host: "ssh://ops@host-d"}, nil)
	tests := []struct {
		endpoint string
		args     []string
	}{
		{"ssh://lab@10.0.0.4:2222", []string{"-l", "lab", "-p", "2222", "-o", "ConnectTimeout=10", "-o", "BatchMode=yes", "-T", "--", "10.0.0.4", "docker system dial-stdio"}},
		{"ssh://host-d/run/user/1000/docker.sock", []string{"-o", "ConnectTimeout=10", "-o", "BatchMode=yes", "-T", "--", "host-d", "docker '--host=unix:///run/user/1000/docker.sock' system dial-stdio"}},
		{"lab-d", []string{"-l", "ops", "-o", "ConnectTimeout=10", "-o", "BatchMode=yes", "-T", "--", "host-d", "docker system dial-stdio"}},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			checkEngine(t, mustParse(t, tt.endpoint, TLSFiles{}).WithConfigDir(cfg), "engine-d")
			b, err := os.ReadFile(argsFile)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.args, strings.Split(string(b), "\n")); d != "" {
				t.Errorf("ssh arguments (-want +got):\n%s", d)
			}
		})
	}
}
