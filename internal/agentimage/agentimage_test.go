package agentimage

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

type notFound struct{ error }

func (notFound) NotFound() {}

// fakeEngine is an in-memory Docker engine that parses what it loads.
type fakeEngine struct {
	images map[string]bool
	loads  int
	files  map[string][]byte
}

func (f *fakeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if f.images[ref] {
		return image.InspectResponse{RepoTags: []string{ref}}, nil
	}
	return image.InspectResponse{}, notFound{errors.New("no such image: " + ref)}
}

func (f *fakeEngine) ImageLoad(_ context.Context, r io.Reader, _ ...client.ImageLoadOption) (image.LoadResponse, error) {
	f.loads++
	f.files = map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return image.LoadResponse{}, err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return image.LoadResponse{}, err
		}
		f.files[h.Name] = b
	}
	var m []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(f.files["manifest.json"], &m); err != nil || len(m) != 1 {
		return image.LoadResponse{}, errors.New("bad manifest")
	}
	for _, t := range m[0].RepoTags {
		f.images[t] = true
	}
	return image.LoadResponse{Body: io.NopCloser(strings.NewReader(`{"stream":"Loaded image"}`))}, nil
}

func TestEnsureBuildsOnce(t *testing.T) {
	t.Parallel()
	bin := []byte("\x7fELF pretend static binary")
	path := filepath.Join(t.TempDir(), "testbed")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	noCheck := func([]byte) error { return nil }
	eng := &fakeEngine{images: map[string]bool{}}
	ref, loaded, err := ensure(context.Background(), eng, path, noCheck)
	if err != nil || !loaded {
		t.Fatalf("ensure = %q, %v, %v", ref, loaded, err)
	}
	if ref != Ref(bin) || !strings.HasPrefix(ref, Repository+":") || len(strings.TrimPrefix(ref, Repository+":")) != 12 {
		t.Fatalf("ref %q", ref)
	}
	checkArchive(t, eng.files, bin)
	if _, loaded, err := ensure(context.Background(), eng, path, noCheck); err != nil || loaded || eng.loads != 1 {
		t.Fatalf("second ensure: loaded=%v err=%v loads=%d; want a no-op", loaded, err, eng.loads)
	}
	// The real check refuses this non-ELF file before loading anything.
	if _, _, err := Ensure(context.Background(), &fakeEngine{images: map[string]bool{}}, path); err == nil || !strings.Contains(err.Error(), "ELF") {
		t.Fatalf("Ensure of a non-ELF file: %v", err)
	}
}

func checkArchive(t *testing.T, files map[string][]byte, bin []byte) {
	t.Helper()
	var m []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Config struct{ Entrypoint, Cmd []string }
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(files[m[0].Config], &cfg); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Config.Entrypoint, " ") != "/testbed" || len(cfg.RootFS.DiffIDs) != 1 || len(m[0].Layers) != 1 {
		t.Fatalf("config %+v manifest %+v", cfg, m)
	}
	if want := "sha256:" + filepath.Dir(m[0].Layers[0]); cfg.RootFS.DiffIDs[0] != want {
		t.Fatalf("diff id %s, layer %s", cfg.RootFS.DiffIDs[0], m[0].Layers[0])
	}
	tr := tar.NewReader(bytes.NewReader(files[m[0].Layers[0]]))
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(tr)
	if h.Name != "testbed" || h.Mode != 0o755 || !bytes.Equal(got, bin) {
		t.Fatalf("layer entry %s mode %o, %d bytes (want %d)", h.Name, h.Mode, len(got), len(bin))
	}
}

func TestArchiveIsDeterministic(t *testing.T) {
	t.Parallel()
	bin := []byte("not really a binary")
	var a, b bytes.Buffer
	if err := Archive(&a, bin, Ref(bin)); err != nil {
		t.Fatal(err)
	}
	if err := Archive(&b, bin, Ref(bin)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two archives of the same binary differ")
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&a)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	checkArchive(t, files, bin)
}

func TestCheckStatic(t *testing.T) {
	t.Parallel()
	if err := CheckStatic([]byte("#!/bin/sh\necho hi\n")); err == nil {
		t.Fatal("accepted a shell script")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	// The verdict must agree with whether the test binary has an interpreter.
	dynamic := bytes.Contains(bin[:min(len(bin), 4096)], []byte("/lib64/ld-linux")) || bytes.Contains(bin[:min(len(bin), 4096)], []byte("/lib/ld-linux"))
	if err := CheckStatic(bin); (err != nil) != dynamic {
		t.Fatalf("CheckStatic(test binary) = %v, dynamic interpreter present = %v", err, dynamic)
	}
}

func TestEnsureMissingBinary(t *testing.T) {
	t.Parallel()
	_, _, err := Ensure(context.Background(), &fakeEngine{images: map[string]bool{}}, filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(err.Error(), "reading the testbed binary") {
		t.Fatalf("err = %v", err)
	}
}
