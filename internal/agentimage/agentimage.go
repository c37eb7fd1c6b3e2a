package agentimage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Repository is the image repository; provision.AgentImageRepo is the same.
const Repository = "testbed.local/reference-agent"

// BinaryPath is where the binary lives inside the image (the entrypoint).
const BinaryPath = "/testbed"

// API is the Docker client subset Ensure needs.
type API interface {
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error)
}

// Ref returns the image reference for a binary's content.
func Ref(binary []byte) string {
	sum := sha256.Sum256(binary)
	return Repository + ":" + hex.EncodeToString(sum[:])[:12]
}

// CheckStatic fails unless binary is an ELF executable for the host's
// architecture with no dynamic interpreter: the image has no libc.
func CheckStatic(binary []byte) error {
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if want != 0 && f.Machine != want {
		return fmt.Errorf("binary is for %v, the nodes run %s", f.Machine, runtime.GOARCH)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("binary is dynamically linked; build it with CGO_ENABLED=0 (make build)")
		}
	}
	return nil
}

// Archive writes a docker-archive (`docker save` format) holding one layer
// with binary at /testbed, tagged ref.
func Archive(w io.Writer, binary []byte, ref string) error {
	var layer bytes.Buffer
	lt := tar.NewWriter(&layer)
	epoch := time.Unix(0, 0)
	if err := lt.WriteHeader(&tar.Header{Name: strings.TrimPrefix(BinaryPath, "/"), Mode: 0o755, Size: int64(len(binary)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("writing layer: %w", err)
	}
	if _, err := lt.Write(binary); err != nil {
		return fmt.Errorf("writing layer: %w", err)
	}
	if err := lt.Close(); err != nil {
		return fmt.Errorf("writing layer: %w", err)
	}
	layerSum := sha256.Sum256(layer.Bytes())
	layerHex := hex.EncodeToString(layerSum[:])

	cfg := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.UTC().Format(time.RFC3339),
		"config": map[string]any{
			"Entrypoint": []string{BinaryPath},
			"Cmd":        []string{"agent"},
			"User":       "65532",
			"Labels":     map[string]string{"dev.testbed.managed": "true"},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerHex}},
		"history": []map[string]any{{"created": epoch.UTC().Format(time.RFC3339), "created_by": "testbed agent image (binary " + ref + ")"}},
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encoding image config: %w", err)
	}
	cfgSum := sha256.Sum256(cfgJSON)
	cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
	layerName := layerHex + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{ref}, "Layers": []string{layerName}}})
	if err != nil {
		return fmt.Errorf("encoding manifest: %w", err)
	}

	tw := tar.NewWriter(w)
	for _, f := range []struct {
		name string
		data []byte
	}{{cfgName, cfgJSON}, {layerName, layer.Bytes()}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return fmt.Errorf("writing archive: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return fmt.Errorf("writing archive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing archive: %w", err)
	}
	return nil
}

// Ensure makes the agent image of the binary at binaryPath present in the
// Docker engine and returns its reference; loaded is false when it was
// already there. An empty binaryPath means the running executable.
func Ensure(ctx context.Context, api API, binaryPath string) (ref string, loaded bool, err error) {
	return ensure(ctx, api, binaryPath, CheckStatic)
}

func ensure(ctx context.Context, api API, binaryPath string, check func([]byte) error) (ref string, loaded bool, err error) {
	if binaryPath == "" {
		if binaryPath, err = os.Executable(); err != nil {
			return "", false, fmt.Errorf("locating the testbed binary: %w", err)
		}
	}
	binary, err := os.ReadFile(binaryPath)
	if err != nil {
		return "", false, fmt.Errorf("reading the testbed binary: %w", err)
	}
	ref = Ref(binary)
	if _, err := api.ImageInspect(ctx, ref); err == nil {
		return ref, false, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", false, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	if err := check(binary); err != nil {
		return "", false, fmt.Errorf("building image %s from %s: %w", ref, binaryPath, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Archive(pw, binary, ref)) }()
	resp, err := api.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	pr.CloseWithError(errors.New("load finished"))
	if err != nil {
		return "", false, fmt.Errorf("loading image %s into Docker: %w", ref, err)
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr != nil {
		return "", false, fmt.Errorf("loading image %s into Docker: %w", ref, rerr)
	}
	if msg := loadError(body); msg != "" {
		return "", false, fmt.Errorf("loading image %s into Docker: %s", ref, msg)
	}
	if _, err := api.ImageInspect(ctx, ref); err != nil {
		return "", false, fmt.Errorf("image %s absent after load (%s): %w", ref, strings.TrimSpace(string(body)), err)
	}
	return ref, true, nil
}

// loadError extracts an error from the engine's JSON message stream.
func loadError(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err != nil {
			return ""
		}
		if m.Error != "" {
			return m.Error
		}
		if m.ErrorDetail.Message != "" {
			return m.ErrorDetail.Message
		}
	}
}
