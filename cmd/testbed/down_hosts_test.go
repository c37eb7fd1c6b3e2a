package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spf13/cobra"
)

// apiEngine is a fake Docker Engine API on a unix socket that holds no
// network and no container: it answers the ping, the network list and
// the container list, and records every request.
type apiEngine struct {
	sock string
	mu   sync.Mutex
	reqs []string
}

var apiVersionPrefix = regexp.MustCompile(`^/v[0-9.]+`)

func (e *apiEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := apiVersionPrefix.ReplaceAllString(r.URL.Path, "")
	e.mu.Lock()
	e.reqs = append(e.reqs, strings.TrimSpace(r.Method+" "+path+" "+r.URL.Query().Get("filters")))
	e.mu.Unlock()
	switch path {
	case "/_ping":
		w.Header().Set("API-Version", "1.47")
		w.Header().Set("OSType", "linux")
		_, _ = w.Write([]byte("OK"))
	case "/networks", "/containers/json":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("[]"))
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotImplemented)
		_, _ = fmt.Fprintf(w, `{"message":"the fake engine does not serve %s %s"}`, r.Method, path)
	}
}

// all are every request, pings included.
func (e *apiEngine) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.reqs...)
}

// requests are the requests beyond pings.
func (e *apiEngine) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range e.reqs {
		if !strings.Contains(r, "/_ping") {
			out = append(out, r)
		}
	}
	return out
}

func startAPIEngine(t *testing.T, dir, name string) *apiEngine {
	t.Helper()
	e := &apiEngine{sock: filepath.Join(dir, name+".sock")}
	l, err := net.Listen("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(e)
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return e
}

// hostsJSON is a recorded lab of two clusters on hosts a and b (without
// a shared network, so that down runs no helper container).
func hostsJSON(topo, sockA, sockB string) string {
	return fmt.Sprintf(`{"topology":%q,"network":"testbed-%s","sharedNetwork":null,"hosts":[
  {"name":"a","endpoint":"unix://%s","address":"192.168.250.1","clusters":["%s-01"],"ipRange":"172.29.0.0/24","gateway":"172.29.0.1"},
  {"name":"b","endpoint":"unix://%s","address":"192.168.250.2","clusters":["%s-02"],"ipRange":"172.29.1.0/24","gateway":"172.29.1.1"}]}
`, topo, topo, sockA, topo, sockB, topo)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDownRecordedHosts: down --all visits every lab with a hosts.json
// under the state root on each of its hosts (the lab's networks listed by
// its topology label), forgets its hosts.json, and leaves the labs without
// one (and anything not a directory) to the local down. The engines are
// fake Engine API servers: no Docker runs.
func TestDownRecordedHosts(t *testing.T) {
	sockDir, err := os.MkdirTemp("", "tbdown") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sockDir) })
	local, hostA, hostB := startAPIEngine(t, sockDir, "local"), startAPIEngine(t, sockDir, "a"), startAPIEngine(t, sockDir, "b")
	t.Setenv("DOCKER_HOST", "unix://"+local.sock)
	for _, k := range []string{"DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION", "DOCKER_CONTEXT"} {
		t.Setenv(k, "")
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "multi", "hosts.json"), hostsJSON("multi", hostA.sock, hostB.sock))
	writeFile(t, filepath.Join(root, "single", "kubeconfig", "single-01"), "apiVersion: v1\n")
	writeFile(t, filepath.Join(root, "hosts.json"), "not a lab directory")

	var out, errOut bytes.Buffer
	a := newApp(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	defer a.Close()
	cmd := &cobra.Command{}
	cmd.SetContext(context.Background())
	if err := a.downRecordedHosts(cmd, root); err != nil {
		t.Fatalf("downRecordedHosts: %v (stderr %q)", err, errOut.String())
	}
	if got, want := out.String(), "removed 0 cluster(s) [] and 0 network(s) []\n"; got != want {
		t.Errorf("printed %q, want one down (%q)", got, want)
	}
	wantHost := []string{`GET /networks {"label":{"dev.testbed.managed=true":true,"dev.testbed.topology=multi":true}}`}
	for name, e := range map[string]*apiEngine{"a": hostA, "b": hostB} {
		if d := cmp.Diff(wantHost, e.requests()); d != "" {
			t.Errorf("host %s's engine (-want +got):\n%s", name, d)
		}
	}
	if d := cmp.Diff([]string(nil), local.all(), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("the local engine was reached (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(root, "multi", "hosts.json")); !os.IsNotExist(err) {
		t.Errorf("multi/hosts.json after down: %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(root, "single", "kubeconfig", "single-01")); err != nil {
		t.Errorf("the lab without hosts.json was touched: %v", err)
	}
}

// TestDownRecordedHostsStops: a state root that does not exist is
// nothing to do; an unreadable hosts.json stops down --all with its path
// and the fix, before any engine is reached.
func TestDownRecordedHostsStops(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, root string)
		wantErr string
	}{
		{name: "no state root", setup: func(t *testing.T, root string) {
			if err := os.Remove(root); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "empty state root", setup: func(*testing.T, string) {}},
		{name: "corrupt hosts.json", setup: func(t *testing.T, root string) {
			writeFile(t, filepath.Join(root, "broken", "hosts.json"), `{"topology":`)
		}, wantErr: "down --all: " + "ROOT/broken/hosts.json: unexpected EOF (remove it if the lab is gone)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", "unix:///nonexistent/testbed-unit.sock")
			root := t.TempDir()
			tc.setup(t, root)
			var out bytes.Buffer
			a := newApp(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
			defer a.Close()
			cmd := &cobra.Command{}
			cmd.SetContext(context.Background())
			err := a.downRecordedHosts(cmd, root)
			wantErr := strings.ReplaceAll(tc.wantErr, "ROOT", root)
			if (err == nil) != (wantErr == "") || (err != nil && err.Error() != wantErr) {
				t.Fatalf("downRecordedHosts = %v, want %q", err, wantErr)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q, want no down", out.String())
			}
		})
	}
}
