package helm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/fluidos-lab/testbed/topology"
)

// BuiltinPrefix marks a ChartPlan.Chart that names a chart embedded in the
// testbed binary, e.g. "builtin:multus".
const BuiltinPrefix = "builtin:"

// loadChart resolves a ChartPlan's chart source: a chart embedded in the
// binary, a local directory or .tgz, or a chart name in a repository at a
// pinned version (downloaded once into the cache dir).
func (s *SDK) loadChart(ctx context.Context, c topology.ChartPlan) (*chart.Chart, error) {
	var (
		chrt *chart.Chart
		err  error
	)
	switch {
	case strings.HasPrefix(c.Chart, BuiltinPrefix):
		name := strings.TrimPrefix(c.Chart, BuiltinPrefix)
		fsys, ok := s.builtins[name]
		if !ok {
			return nil, fmt.Errorf("no builtin chart %q", name)
		}
		chrt, err = loadFS(fsys)
	case c.Repo != "":
		chrt, err = s.loadRepoChart(ctx, c)
	default:
		if c.Chart == "" {
			return nil, errors.New("chart plan names no chart")
		}
		chrt, err = loader.Load(c.Chart)
	}
	if err != nil {
		return nil, fmt.Errorf("loading chart %q: %w", c.Chart, err)
	}
	if c.Version != "" && !sameVersion(chrt.Metadata.Version, c.Version) {
		return nil, fmt.Errorf("chart %q is version %s, plan pins %s", c.Chart, chrt.Metadata.Version, c.Version)
	}
	return chrt, nil
}

// loadFS loads a chart from an fs.FS whose root is the chart directory.
func loadFS(fsys fs.FS) (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) == ".go" {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: p, Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loader.LoadFiles(files)
}

// sameVersion compares chart versions semantically ("v0.1.2" == "0.1.2").
func sameVersion(a, b string) bool {
	if a == b {
		return true
	}
	va, err1 := semver.NewVersion(a)
	vb, err2 := semver.NewVersion(b)
	return err1 == nil && err2 == nil && va.Equal(vb)
}

// cachePath is where a repository chart at a version is cached.
func (s *SDK) cachePath(repoURL, name, version string) string {
	sum := sha256.Sum256([]byte(strings.TrimSuffix(repoURL, "/")))
	return filepath.Join(s.cacheDir, hex.EncodeToString(sum[:6]), name+"-"+version+".tgz")
}

// loadRepoChart returns the pinned chart from the cache, or resolves it in the
// repository's index.yaml, downloads it and caches it.
func (s *SDK) loadRepoChart(ctx context.Context, c topology.ChartPlan) (*chart.Chart, error) {
	if c.Version == "" {
		return nil, fmt.Errorf("repository chart %q from %s needs a pinned version", c.Chart, c.Repo)
	}
	if strings.HasPrefix(c.Repo, "oci://") {
		return nil, fmt.Errorf("OCI repository %s is not supported; use an HTTP chart repository or a local chart", c.Repo)
	}
	dest := s.cachePath(c.Repo, c.Chart, c.Version)
	if chrt, err := loader.LoadFile(dest); err == nil && chrt.Metadata.Name == c.Chart && sameVersion(chrt.Metadata.Version, c.Version) {
		return chrt, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	getters := s.getters()
	chartURL, err := repo.FindChartInAuthAndTLSAndPassRepoURL(c.Repo, "", "", c.Chart, c.Version, "", "", "", false, false, getters)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(chartURL)
	if err != nil {
		return nil, fmt.Errorf("chart URL %q: %w", chartURL, err)
	}
	g, err := getters.ByScheme(u.Scheme)
	if err != nil {
		return nil, fmt.Errorf("chart URL %q: %w", chartURL, err)
	}
	buf, err := g.Get(chartURL)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", chartURL, err)
	}
	data := buf.Bytes()
	chrt, err := loader.LoadArchive(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", chartURL, err)
	}
	if chrt.Metadata.Name != c.Chart || !sameVersion(chrt.Metadata.Version, c.Version) {
		return nil, fmt.Errorf("%s holds chart %s %s, want %s %s", chartURL, chrt.Metadata.Name, chrt.Metadata.Version, c.Chart, c.Version)
	}
	if err := writeAtomic(dest, data); err != nil {
		return nil, fmt.Errorf("caching chart: %w", err)
	}
	return chrt, nil
}

func writeAtomic(dest string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(dest), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dest)
}
