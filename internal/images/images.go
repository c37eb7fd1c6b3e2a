package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"golang.org/x/sync/errgroup"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// HostAPI is the Docker client subset used on the host side.
type HostAPI interface {
	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImagePull(ctx context.Context, refStr string, options image.PullOptions) (io.ReadCloser, error)
	ImageSave(ctx context.Context, imageIDs []string, saveOpts ...client.ImageSaveOption) (io.ReadCloser, error)
}

// API is everything LoadIntoNodes needs.
type API interface {
	HostAPI
	dockerx.ExecAPI
}

// MissingError lists images absent from the host in offline mode.
type MissingError struct{ Refs []string }

func (e *MissingError) Error() string {
	return fmt.Sprintf("offline mode: %d image(s) missing on the host: %s (load them with `docker load` or build them, then retry)", len(e.Refs), strings.Join(e.Refs, ", "))
}

// Unique returns refs de-duplicated, without empties, sorted.
func Unique(refs ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, rs := range refs {
		for _, r := range rs {
			r = strings.TrimSpace(r)
			if r != "" && !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Missing returns the refs the host does not have.
func Missing(ctx context.Context, api HostAPI, refs []string) ([]string, error) {
	var missing []string
	for _, r := range refs {
		if _, err := api.ImageInspect(ctx, r); err != nil {
			if cerrdefs.IsNotFound(err) {
				missing = append(missing, r)
				continue
			}
			return nil, fmt.Errorf("inspecting image %s: %w", r, err)
		}
	}
	return missing, nil
}

// EnsureHost makes every ref present on the host: in offline mode it returns
// a *MissingError naming all absent refs before anything is done; otherwise
// it pulls each missing ref once.
func EnsureHost(ctx context.Context, api HostAPI, refs []string, offline bool) (pulled []string, err error) {
	missing, err := Missing(ctx, api, refs)
	if err != nil {
		return nil, err
	}
	if len(missing) == 0 {
		return nil, nil
	}
	if offline {
		return nil, &MissingError{Refs: missing}
	}
	for _, r := range missing {
		rc, err := api.ImagePull(ctx, r, image.PullOptions{})
		if err != nil {
			return pulled, fmt.Errorf("pulling %s: %w", r, err)
		}
		_, cerr := io.Copy(io.Discard, rc)
		rc.Close()
		if cerr != nil {
			return pulled, fmt.Errorf("pulling %s: %w", r, cerr)
		}
		if _, err := api.ImageInspect(ctx, r); err != nil {
			return pulled, fmt.Errorf("pulling %s: image absent after pull: %w", r, err)
		}
		pulled = append(pulled, r)
	}
	return pulled, nil
}

// NodeImages lists the image names present in a node's k8s.io containerd
// namespace.
func NodeImages(ctx context.Context, api dockerx.ExecAPI, node string) (map[string]bool, error) {
	out, _, err := dockerx.Exec(ctx, api, node, []string{"ctr", "--namespace=k8s.io", "images", "list", "-q"}, nil)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			have[l] = true
			have[Normalize(l)] = true
		}
	}
	return have, nil
}

// Normalize returns the fully qualified form containerd stores:
// "busybox" -> "docker.io/library/busybox:latest".
func Normalize(ref string) string {
	name, tag := ref, ""
	if at := strings.Index(name, "@"); at >= 0 {
		name, tag = name[:at], name[at:]
	} else if c := strings.LastIndex(name, ":"); c > strings.LastIndex(name, "/") {
		name, tag = name[:c], name[c:]
	}
	if tag == "" {
		tag = ":latest"
	}
	first, _, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	return name + tag
}

var snapshotterRe = regexp.MustCompile(`(?m)^\s*snapshotter\s*=\s*"([^"]+)"`)

// Snapshotter returns the snapshotter the CRI plugin of the node's
// containerd uses (images must be unpacked there, as KinD's loader does).
func Snapshotter(ctx context.Context, api dockerx.ExecAPI, node string) (string, error) {
	out, _, err := dockerx.Exec(ctx, api, node, []string{"containerd", "config", "dump"}, nil)
	if err != nil {
		return "", fmt.Errorf("detecting containerd snapshotter: %w", err)
	}
	return ParseSnapshotter(string(out))
}

// ParseSnapshotter finds the CRI snapshotter in `containerd config dump`
// output (config versions 2 and 3).
func ParseSnapshotter(config string) (string, error) {
	for _, section := range []string{`[plugins."io.containerd.cri.v1.images"]`, `[plugins."io.containerd.grpc.v1.cri".containerd]`} {
		i := strings.Index(config, section)
		if i < 0 {
			continue
		}
		rest := config[i+len(section):]
		if j := strings.Index(rest, "\n["); j >= 0 {
			rest = rest[:j]
		}
		if m := snapshotterRe.FindStringSubmatch(rest); m != nil {
			return m[1], nil
		}
	}
	return "", errors.New("no CRI snapshotter in containerd config")
}

// LoadIntoNodes streams ref from the host into every node that lacks it,
// concurrently, and returns the nodes it loaded it into. The image is saved
// once into a temporary file, then read by every node's import.
func LoadIntoNodes(ctx context.Context, api API, ref string, nodes []string) ([]string, error) {
	want := Normalize(ref)
	var need []string
	for _, n := range nodes {
		have, err := NodeImages(ctx, api, n)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n, err)
		}
		if !have[want] && !have[ref] {
			need = append(need, n)
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	tmp, err := os.CreateTemp("", "testbed-image-*.tar")
	if err != nil {
		return nil, fmt.Errorf("saving %s: %w", ref, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	rc, err := api.ImageSave(ctx, []string{ref})
	if err != nil {
		return nil, fmt.Errorf("saving %s: %w", ref, err)
	}
	_, err = io.Copy(tmp, rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("saving %s: %w", ref, err)
	}
	err = onNodes(ctx, api, need, func(ctx context.Context, n, snap string) error {
		f, err := os.Open(tmp.Name())
		if err != nil {
			return fmt.Errorf("node %s: %w", n, err)
		}
		defer f.Close()
		cmd := []string{"ctr", "--namespace=k8s.io", "images", "import", "--all-platforms", "--digests", "--snapshotter=" + snap, "-"}
		if _, _, err := dockerx.Exec(ctx, api, n, cmd, f); err != nil {
			return fmt.Errorf("node %s: loading %s: %w", n, ref, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return need, nil
}

// onNodes runs fn on every node concurrently, with the snapshotter the
// node's CRI uses; the first error cancels the others.
func onNodes(ctx context.Context, api dockerx.ExecAPI, nodes []string, fn func(ctx context.Context, node, snap string) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range nodes {
		g.Go(func() error {
			snap, err := Snapshotter(gctx, api, n)
			if err != nil {
				return fmt.Errorf("node %s: %w", n, err)
			}
			return fn(gctx, n, snap)
		})
	}
	return g.Wait()
}

// unpackScript mounts every image given ($2…) read-only through the CRI's
// snapshotter ($1) and unmounts it at once, which unpacks layers that are
// not yet unpacked and costs a few milliseconds for those that are.
const unpackScript = `set -e
snap=$1; shift
d=$(mktemp -d /tmp/testbed-unpack.XXXXXX)
trap 'ctr --namespace=k8s.io images unmount --rm "$d" >/dev/null 2>&1; rmdir "$d" 2>/dev/null || true' EXIT
for r in "$@"; do
	ctr --namespace=k8s.io images mount --snapshotter="$snap" "$r" "$d" >/dev/null
	ctr --namespace=k8s.io images unmount --rm "$d" >/dev/null
done`

// unpackError is the unpack script's failure, named by its exit status and
// output instead of the script (errors.As still finds the ExecError).
type unpackError struct{ *dockerx.ExecError }

func (e unpackError) Error() string {
	return fmt.Sprintf("unpack script exited %d: %s", e.ExitCode, strings.TrimSpace(e.Stderr+" "+e.Stdout))
}

func (e unpackError) Unwrap() error { return e.ExecError }

// UnpackInNodes unpacks refs, already in every node's containerd, into the
// snapshotter the node's CRI uses, concurrently across nodes. An image
// baked into the node image holds its layers as content only (the bake
// cannot run an overlay snapshotter on the container's own overlay root);
// containerd would otherwise unpack it when the first container of it is
// created, on the path of every pod that waits for that container (2 s
// for Multus on a busy 2-core host).
func UnpackInNodes(ctx context.Context, api dockerx.ExecAPI, refs, nodes []string) error {
	if len(refs) == 0 {
		return nil
	}
	norm := make([]string, len(refs))
	for i, r := range refs {
		norm[i] = Normalize(r)
	}
	return onNodes(ctx, api, nodes, func(ctx context.Context, n, snap string) error {
		cmd := append([]string{"sh", "-c", unpackScript, "sh", snap}, norm...)
		if _, _, err := dockerx.Exec(ctx, api, n, cmd, nil); err != nil {
			// Name the failure without the script, which every error of
			// dockerx.Exec quotes whole.
			var xe *dockerx.ExecError
			if errors.As(err, &xe) {
				err = unpackError{xe}
			} else if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			return fmt.Errorf("node %s: unpacking %s into %s: %w", n, strings.Join(norm, ", "), snap, err)
		}
		return nil
	})
}
