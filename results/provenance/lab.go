package provenance

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Cluster is one cluster to read back.
type Cluster struct {
	Name   string
	Client kubernetes.Interface
}

// ReadImages lists every container image running in the clusters with the
// digest the container runtime reports for it (status.imageID), so the
// manifest records what ran, not what was asked for. An image that runs with
// different digests on different clusters is a warning: the lab is not
// uniform.
func ReadImages(ctx context.Context, clusters []Cluster) (map[string]string, []string, error) {
	images := map[string]string{}
	seenOn := map[string]string{}
	var warnings []string
	for _, c := range clusters {
		pods, err := c.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("cluster %q: listing pods to read image digests: %w", c.Name, err)
		}
		for _, p := range pods.Items {
			statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
			for _, s := range statuses {
				d := Digest(s.ImageID)
				if s.Image == "" || d == "" {
					continue
				}
				if prev, ok := images[s.Image]; ok && prev != d {
					warnings = append(warnings, fmt.Sprintf("image %s runs as %s on cluster %s but as %s on cluster %s", s.Image, prev, seenOn[s.Image], d, c.Name))
					continue
				}
				images[s.Image] = d
				seenOn[s.Image] = c.Name
			}
		}
	}
	sort.Strings(warnings)
	return images, warnings, nil
}

// Digest extracts "sha256:<hex>" from an image ID as runtimes report it
// ("docker.io/x/y@sha256:…", "sha256:…" or "docker-pullable://…@sha256:…").
func Digest(imageID string) string {
	i := strings.LastIndex(imageID, "sha256:")
	if i < 0 {
		return ""
	}
	d := imageID[i:]
	if len(d) != len("sha256:")+64 {
		return ""
	}
	return d
}

// PinWarnings names every image reference that is not pinned: no tag, a
// moving tag (latest, main, master, stable, snapshot), or a tag without a
// digest where a digest is required for exact reproduction.
func PinWarnings(refs []string) []string {
	var out []string
	for _, ref := range refs {
		if strings.Contains(ref, "@sha256:") {
			continue
		}
		name := ref
		if i := strings.LastIndex(ref, "/"); i >= 0 {
			name = ref[i+1:]
		}
		tag := ""
		if i := strings.LastIndex(name, ":"); i >= 0 {
			tag = name[i+1:]
		}
		switch tag {
		case "":
			out = append(out, fmt.Sprintf("image %s has no tag (implies :latest): pin a version and a digest", ref))
		case "latest", "main", "master", "stable", "snapshot", "edge", "nightly":
			out = append(out, fmt.Sprintf("image %s uses the moving tag %q: pin a version and a digest", ref, tag))
		default:
			out = append(out, fmt.Sprintf("image %s is pinned by tag only: a rerun reproduces it exactly only while the tag is not moved", ref))
		}
	}
	sort.Strings(out)
	return out
}
