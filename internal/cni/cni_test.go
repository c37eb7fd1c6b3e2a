package cni

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/fluidos-lab/testbed/topology"
)

func makeTarball(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestSourceDownloadVerifyCache(t *testing.T) {
	tgz := makeTarball(t, map[string]string{"./macvlan": "M", "./host-local": "H", "./static": "S"})
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++; w.Write(tgz) }))
	defer srv.Close()
	cache := t.TempDir()
	p := topology.CNIPlan{URL: srv.URL + "/cni-plugins-linux-amd64-v1.6.2.tgz", SHA256: sum(tgz)}
	for i := 0; i < 2; i++ {
		got, err := Source(context.Background(), p, cache, func(string) string { return "" }, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		if got != filepath.Join(cache, "cni-plugins-linux-amd64-v1.6.2.tgz") {
			t.Errorf("path %s", got)
		}
	}
	if hits != 1 {
		t.Errorf("downloaded %d times, want once (cached)", hits)
	}
	bad := p
	bad.SHA256 = strings.Repeat("0", 64)
	if _, err := Source(context.Background(), bad, t.TempDir(), nil, srv.Client()); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("checksum mismatch not refused: %v", err)
	}
	if _, err := Source(context.Background(), topology.CNIPlan{URL: srv.URL + "/x.tgz"}, t.TempDir(), nil, srv.Client()); err == nil {
		t.Error("unpinned download accepted")
	}
	// A local tarball (env) wins over the URL and needs no network.
	local := filepath.Join(t.TempDir(), "local.tgz")
	os.WriteFile(local, tgz, 0o644)
	got, err := Source(context.Background(), topology.CNIPlan{URL: "http://127.0.0.1:1/unreachable"}, t.TempDir(),
		func(k string) string { return map[string]string{TarballEnv: local}[k] }, nil)
	if err != nil || got != local {
		t.Errorf("env tarball: %s %v", got, err)
	}
}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.tgz")
	os.WriteFile(f, makeTarball(t, map[string]string{"./macvlan": "M", "./static": "S", "./bridge": "B"}), 0o644)
	got, err := Extract(f, []string{"macvlan", "static"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["macvlan"]) != "M" || string(got["static"]) != "S" {
		t.Errorf("extracted %v", got)
	}
	if _, err := Extract(f, []string{"macvlan", "host-local"}); err == nil || !strings.Contains(err.Error(), "host-local") {
		t.Errorf("missing plugin not reported: %v", err)
	}
}

type fakeAPI struct {
	mu      sync.Mutex
	present map[string]bool // node:path
	copied  map[string][]string
}

func (f *fakeAPI) ContainerStatPath(_ context.Context, id, p string) (container.PathStat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.present[id+":"+p] {
		return container.PathStat{Name: p}, nil
	}
	return container.PathStat{}, errors.New("no such file")
}

func (f *fakeAPI) CopyToContainer(_ context.Context, id, dst string, r io.Reader, _ container.CopyToContainerOptions) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.copied[id] = append(f.copied[id], dst+"/"+h.Name)
		f.present[id+":"+dst+"/"+h.Name] = true
		f.mu.Unlock()
	}
}

func TestInstall(t *testing.T) {
	api := &fakeAPI{present: map[string]bool{"n1:/opt/cni/bin/host-local": true}, copied: map[string][]string{}}
	plugins := map[string][]byte{"macvlan": []byte("M"), "host-local": []byte("H")}
	got, err := Install(context.Background(), api, []string{"n1", "n2"}, plugins)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got["n1"], ",") != "macvlan" || strings.Join(got["n2"], ",") != "host-local,macvlan" {
		t.Errorf("installed %v (KinD's own host-local must be kept)", got)
	}
	again, err := Install(context.Background(), api, []string{"n1", "n2"}, plugins)
	if err != nil || len(again) != 0 {
		t.Errorf("second install copied %v %v, want nothing", again, err)
	}
}
