package cni

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"golang.org/x/sync/errgroup"

	"github.com/fluidos-lab/testbed/topology"
)

// TarballEnv names a local CNI plugins tarball that overrides the plan's URL.
const TarballEnv = "TESTBED_CNI_PLUGINS_TARBALL"

// BinDir is where the node's container runtime looks for CNI plugins.
const BinDir = "/opt/cni/bin"

// Source resolves the tarball to use: an explicit local tarball (the plan's,
// else $TESTBED_CNI_PLUGINS_TARBALL), else the plan's URL downloaded once into
// cacheDir and verified against the plan's SHA-256. A cached file is reused
// only when its checksum still matches.
func Source(ctx context.Context, p topology.CNIPlan, cacheDir string, getenv func(string) string, hc *http.Client) (string, error) {
	if p.Tarball != "" {
		return p.Tarball, checkLocal(p.Tarball, p.SHA256)
	}
	if getenv != nil {
		if env := getenv(TarballEnv); env != "" {
			return env, checkLocal(env, "")
		}
	}
	if p.URL == "" {
		return "", errors.New("cni plugins: neither a tarball nor a URL is set")
	}
	if p.SHA256 == "" {
		return "", fmt.Errorf("cni plugins: %s has no pinned sha256; refusing an unverified download", p.URL)
	}
	name := path.Base(p.URL)
	if name == "" || name == "/" || name == "." {
		name = "cni-plugins.tgz"
	}
	dst := filepath.Join(cacheDir, name)
	if sum, err := fileSHA256(dst); err == nil && strings.EqualFold(sum, p.SHA256) {
		return dst, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("cni plugins cache: %w", err)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return "", fmt.Errorf("cni plugins: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("downloading cni plugins %s: %w (offline? set %s or cniPlugins.tarball)", p.URL, err, TarballEnv)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("downloading cni plugins %s: %s", p.URL, resp.Status)
	}
	tmp, err := os.CreateTemp(cacheDir, name+".part-*")
	if err != nil {
		return "", fmt.Errorf("cni plugins cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), resp.Body); err != nil {
		tmp.Close()
		return "", fmt.Errorf("downloading cni plugins %s: %w", p.URL, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("cni plugins cache: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, p.SHA256) {
		return "", fmt.Errorf("cni plugins %s: sha256 %s, want %s", p.URL, got, p.SHA256)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("cni plugins cache: %w", err)
	}
	return dst, nil
}

func checkLocal(p, want string) error {
	sum, err := fileSHA256(p)
	if err != nil {
		return fmt.Errorf("cni plugins tarball: %w", err)
	}
	if want != "" && !strings.EqualFold(sum, want) {
		return fmt.Errorf("cni plugins tarball %s: sha256 %s, want %s", p, sum, want)
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Extract reads the named plugin binaries from a CNI plugins .tgz.
func Extract(tarball string, plugins []string) (map[string][]byte, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return nil, fmt.Errorf("cni plugins tarball: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("cni plugins tarball %s: %w", tarball, err)
	}
	want := map[string]bool{}
	for _, p := range plugins {
		want[p] = true
	}
	out := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cni plugins tarball %s: %w", tarball, err)
		}
		base := path.Base(h.Name)
		if h.Typeflag != tar.TypeReg || !want[base] {
			continue
		}
		const max = 256 << 20
		b, err := io.ReadAll(io.LimitReader(tr, max))
		if err != nil {
			return nil, fmt.Errorf("cni plugins tarball %s: %s: %w", tarball, h.Name, err)
		}
		out[base] = b
	}
	var missing []string
	for p := range want {
		if _, ok := out[p]; !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("cni plugins tarball %s lacks %v", tarball, missing)
	}
	return out, nil
}

// API is the Docker client subset used to install plugins.
type API interface {
	ContainerStatPath(ctx context.Context, containerID, path string) (container.PathStat, error)
	CopyToContainer(ctx context.Context, containerID, dstPath string, content io.Reader, options container.CopyToContainerOptions) error
}

// Install copies into every node the plugins it lacks, concurrently, and
// returns per node what it copied. Plugins already present (such as KinD's
// own host-local) are left untouched.
func Install(ctx context.Context, api API, nodes []string, plugins map[string][]byte) (map[string][]string, error) {
	names := make([]string, 0, len(plugins))
	for n := range plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	copied := make([][]string, len(nodes))
	g, gctx := errgroup.WithContext(ctx)
	for i, node := range nodes {
		g.Go(func() error {
			var need []string
			for _, p := range names {
				if _, err := api.ContainerStatPath(gctx, node, path.Join(BinDir, p)); err == nil {
					continue
				}
				need = append(need, p)
			}
			if len(need) == 0 {
				return nil
			}
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, p := range need {
				b := plugins[p]
				if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
					return fmt.Errorf("node %s: %w", node, err)
				}
				if _, err := tw.Write(b); err != nil {
					return fmt.Errorf("node %s: %w", node, err)
				}
			}
			if err := tw.Close(); err != nil {
				return fmt.Errorf("node %s: %w", node, err)
			}
			if err := api.CopyToContainer(gctx, node, BinDir, &buf, container.CopyToContainerOptions{}); err != nil {
				return fmt.Errorf("node %s: copying CNI plugins %v into %s: %w", node, need, BinDir, err)
			}
			copied[i] = need
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for i, n := range nodes {
		if len(copied[i]) > 0 {
			out[n] = copied[i]
		}
	}
	return out, nil
}
