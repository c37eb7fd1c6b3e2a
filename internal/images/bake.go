package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/fluidos-lab/testbed/internal/agentimage"
	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// Labels of a baked node image.
const (
	// LabelBaked marks an image this tool built; `down --all` and
	// `testbed images prune` remove only images that carry it.
	LabelBaked = "dev.testbed.baked"
	// LabelBakedBase is the base node image (ref@ID) it was built from.
	LabelBakedBase = "dev.testbed.baked.base"
	// LabelBakedImages is the JSON list of "ref@ID" preloaded into it.
	LabelBakedImages = "dev.testbed.baked.images"
	// LabelBakedFiles is the JSON list of the files written into it (a
	// node profile's kubeadm patches and systemd drop-ins).
	LabelBakedFiles = "dev.testbed.baked.files"
	// BakedRepo is the repository of baked node images.
	BakedRepo = "testbed.local/kind-node"
)

// BakeAPI is the Docker client subset a bake needs.
type BakeAPI interface {
	HostAPI
	dockerx.ExecAPI
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	ContainerCommit(ctx context.Context, containerID string, options container.CommitOptions) (container.CommitResponse, error)
	ImageList(ctx context.Context, options image.ListOptions) ([]image.Summary, error)
	ImageRemove(ctx context.Context, imageID string, options image.RemoveOptions) ([]image.DeleteResponse, error)
}

// BakedName is the name of the node image built from base (a ref with its
// image ID) with refs (each with its image ID) preloaded and files (path to
// content) written:
// testbed.local/kind-node:<base tag>-<first 12 hex of the hash of the set>.
func BakedName(base, baseID string, refs, files map[string]string) string {
	h := sha256.New()
	fmt.Fprintf(h, "base %s\n", baseID)
	for _, r := range sortedKeys(refs) {
		fmt.Fprintf(h, "image %s %s\n", Normalize(r), refs[r])
	}
	for _, f := range sortedKeys(files) {
		fmt.Fprintf(h, "file %s %x\n", f, sha256.Sum256([]byte(files[f])))
	}
	tag, name := "node", base
	if at := strings.Index(name, "@"); at >= 0 {
		name = name[:at]
	}
	if c := strings.LastIndex(name, ":"); c > strings.LastIndex(name, "/") {
		tag = name[c+1:]
	}
	return fmt.Sprintf("%s:%s-%s", BakedRepo, sanitizeTag(tag), hex.EncodeToString(h.Sum(nil))[:12])
}

func sanitizeTag(t string) string {
	var b strings.Builder
	for _, r := range t {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Bake returns a node image derived from base with refs preloaded in its
// containerd (namespace k8s.io, pinned so kubelet's image GC keeps them) and
// files (absolute path to content, mode 0644) written, building it once:
// when an image of that name exists (the hash of the base, the image IDs
// and the files matches) it is reused. All images must be on the host.
// built says whether it was built now.
func Bake(ctx context.Context, api BakeAPI, base string, refs []string, files map[string]string) (ref string, built bool, err error) {
	for f := range files {
		if !path.IsAbs(f) || path.Clean(f) != f {
			return "", false, fmt.Errorf("baking %s: file path %q is not absolute and clean", base, f)
		}
	}
	baseInfo, err := api.ImageInspect(ctx, base)
	if err != nil {
		return "", false, fmt.Errorf("inspecting node image %s: %w", base, err)
	}
	ids := map[string]string{}
	for _, r := range refs {
		info, err := api.ImageInspect(ctx, r)
		if err != nil {
			return "", false, fmt.Errorf("inspecting %s: %w", r, err)
		}
		ids[r] = info.ID
	}
	name := BakedName(base, baseInfo.ID, ids, files)
	if _, err := api.ImageInspect(ctx, name); err == nil {
		return name, false, nil
	}
	if err := build(ctx, api, base, baseInfo, name, ids, files); err != nil {
		return "", false, fmt.Errorf("baking %s from %s: %w", name, base, err)
	}
	return name, true, nil
}

// build runs containerd in a throw-away container of the base image,
// streams every image into it (no unpack: content only, so no snapshotter
// mount is needed), pins them, stops containerd, writes the files and
// commits the container with the base image's entrypoint and command
// restored. kind builds its own node images the same way.
func build(ctx context.Context, api BakeAPI, base string, info image.InspectResponse, name string, ids, files map[string]string) (err error) {
	cname := fmt.Sprintf("testbed-bake-%d", time.Now().UnixNano())
	created, err := api.ContainerCreate(ctx, &container.Config{Image: base, Entrypoint: []string{"sleep", "infinity"}, Labels: map[string]string{LabelBaked: "builder"}},
		&container.HostConfig{SecurityOpt: []string{"seccomp=unconfined"}}, nil, nil, cname)
	if err != nil {
		return fmt.Errorf("creating the build container: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if rerr := api.ContainerRemove(rctx, created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); rerr != nil && err == nil {
			err = fmt.Errorf("removing the build container: %w", rerr)
		}
	}()
	if err := api.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("starting the build container: %w", err)
	}
	run := func(cmd string, stdin io.Reader) error {
		_, _, err := dockerx.Exec(ctx, api, created.ID, []string{"bash", "-c", cmd}, stdin)
		return err
	}
	if len(ids) > 0 {
		if err := run(`nohup containerd >/tmp/containerd.log 2>&1 & for i in $(seq 1 60); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0; sleep 0.5; done; cat /tmp/containerd.log; exit 1`, nil); err != nil {
			return fmt.Errorf("starting containerd: %w", err)
		}
		for _, r := range sortedKeys(ids) {
			if err := importOne(ctx, api, created.ID, r); err != nil {
				return err
			}
		}
		// containerd 1.6's ctr has no `import --label`: pin afterwards.
		if err := run(`for r in $(ctr -n k8s.io images list -q); do ctr -n k8s.io images label "$r" io.cri-containerd.pinned=pinned >/dev/null || exit 1; done
pkill -x containerd; for i in $(seq 1 40); do pgrep -x containerd >/dev/null || break; sleep 0.25; done
rm -rf /tmp/containerd.log /run/containerd`, nil); err != nil {
			return fmt.Errorf("pinning images and stopping containerd: %w", err)
		}
	}
	for _, f := range sortedKeys(files) {
		cmd := []string{"sh", "-c", `mkdir -p "$(dirname "$1")" && cat > "$1" && chmod 0644 "$1"`, "sh", f}
		if _, _, err := dockerx.Exec(ctx, api, created.ID, cmd, strings.NewReader(files[f])); err != nil {
			return fmt.Errorf("writing %s: %w", f, err)
		}
	}
	changes, err := commitChanges(info, base, ids, files)
	if err != nil {
		return err
	}
	if _, err := api.ContainerCommit(ctx, created.ID, container.CommitOptions{Reference: name, Changes: changes,
		Comment: "testbed: " + base + " with the lab's images preloaded and its node profile's files"}); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

func importOne(ctx context.Context, api BakeAPI, id, ref string) error {
	rc, err := api.ImageSave(ctx, []string{ref})
	if err != nil {
		return fmt.Errorf("saving %s: %w", ref, err)
	}
	defer rc.Close()
	cmd := []string{"ctr", "--namespace=k8s.io", "images", "import", "--all-platforms", "--no-unpack", "--digests", "-"}
	if _, _, err := dockerx.Exec(ctx, api, id, cmd, rc); err != nil {
		return fmt.Errorf("importing %s: %w", ref, err)
	}
	return nil
}

// commitChanges restores the base image's entrypoint and command (the
// build container ran sleep) and labels what is inside.
func commitChanges(info image.InspectResponse, base string, ids, files map[string]string) ([]string, error) {
	var entrypoint, cmd []string
	if info.Config != nil {
		entrypoint, cmd = info.Config.Entrypoint, info.Config.Cmd
	}
	if len(entrypoint) == 0 {
		return nil, fmt.Errorf("node image %s has no entrypoint", base)
	}
	var list []string
	for _, r := range sortedKeys(ids) {
		list = append(list, r+"@"+ids[r])
	}
	ep, _ := json.Marshal(entrypoint)
	if cmd == nil {
		cmd = []string{}
	}
	cm, _ := json.Marshal(cmd)
	imgs, _ := json.Marshal(list)
	out := []string{
		"ENTRYPOINT " + string(ep),
		"CMD " + string(cm),
		fmt.Sprintf("LABEL %s=true", LabelBaked),
		fmt.Sprintf("LABEL %s=%q", LabelBakedBase, base+"@"+info.ID),
		fmt.Sprintf("LABEL %s=%q", LabelBakedImages, string(imgs)),
	}
	if len(files) > 0 {
		paths, _ := json.Marshal(sortedKeys(files))
		out = append(out, fmt.Sprintf("LABEL %s=%q", LabelBakedFiles, string(paths)))
	}
	return out, nil
}

// Baked lists the node images this tool baked.
func Baked(ctx context.Context, api BakeAPI) ([]image.Summary, error) {
	out, err := api.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelBaked+"=true"))})
	if err != nil {
		return nil, fmt.Errorf("listing baked node images: %w", err)
	}
	return out, nil
}

// Built lists the images this tool built on the engine: the baked node
// images (LabelBaked) and the reference agent images (built from the
// testbed binary, labelled dev.testbed.managed=true under
// testbed.local/reference-agent). Nothing else: not the images it pulled
// or copied.
func Built(ctx context.Context, api BakeAPI) ([]image.Summary, error) {
	baked, err := Baked(ctx, api)
	if err != nil {
		return nil, err
	}
	agents, err := api.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "dev.testbed.managed=true"), filters.Arg("reference", AgentRepo))})
	if err != nil {
		return nil, fmt.Errorf("listing the reference agent images: %w", err)
	}
	for _, im := range agents {
		if im.Labels["dev.testbed.managed"] == "true" && hasRepo(im.RepoTags, AgentRepo) {
			baked = append(baked, im)
		}
	}
	return baked, nil
}

// AgentRepo is the reference agent images' repository.
const AgentRepo = agentimage.Repository

func hasRepo(tags []string, repo string) bool {
	for _, t := range tags {
		if strings.HasPrefix(t, repo+":") {
			return true
		}
	}
	return false
}

// Prune removes the images this tool built (Built) that no container
// uses; keep lists references to keep even when unused. It never touches
// an image Built does not list.
func Prune(ctx context.Context, api BakeAPI, keep []string) (removed []string, err error) {
	imgs, err := Built(ctx, api)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, im := range imgs {
		if hasAny(im.RepoTags, keep) {
			continue
		}
		ref := im.ID
		if len(im.RepoTags) > 0 {
			ref = im.RepoTags[0]
		}
		if _, err := api.ImageRemove(ctx, im.ID, image.RemoveOptions{PruneChildren: true}); err != nil {
			if isInUse(err) || cerrdefs.IsNotFound(err) {
				continue
			}
			errs = append(errs, fmt.Errorf("removing %s: %w", ref, err))
			continue
		}
		removed = append(removed, ref)
	}
	return removed, errors.Join(errs...)
}

func hasAny(tags, keep []string) bool {
	for _, t := range tags {
		for _, k := range keep {
			if t == k {
				return true
			}
		}
	}
	return false
}

// isInUse: the daemon refuses to remove an image a container uses.
func isInUse(err error) bool { return cerrdefs.IsConflict(err) }

var _ BakeAPI = (*client.Client)(nil)
