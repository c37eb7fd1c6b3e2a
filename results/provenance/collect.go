package provenance

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/topology"
)

// DockerAPI is the part of the Docker client Collect reads.
type DockerAPI interface {
	VersionReader
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error)
}

// Release is one Helm release as read back from a cluster.
type Release struct {
	Name, Namespace string
	Chart, Version  string
	Status          string
}

// ReleaseLister lists a cluster's Helm releases (the composition root
// adapts the Helm installer).
type ReleaseLister interface {
	Releases(ctx context.Context, kubeconfig string) ([]Release, error)
}

// Executor runs a command inside a node container (internal/dockerx.Nodes).
type Executor interface {
	Exec(ctx context.Context, node string, cmd []string, stdin io.Reader) ([]byte, []byte, error)
}

// Sources are where Collect reads from. Any nil source is skipped with a
// warning in the manifest, never an error: a manifest with a gap is better
// than no campaign.
type Sources struct {
	ToolVersion string
	// Root is the host's root file system (os.DirFS("/")).
	Root   fs.FS
	Docker DockerAPI
	Helm   ReleaseLister
	Exec   Executor
	// Kube returns a cluster's client.
	Kube func(c topology.ClusterPlan) (kubernetes.Interface, error)
	Now  func() time.Time
}

// Request is what to collect for.
type Request struct {
	Plan *topology.Plan
	// Clusters restricts the read-back to these clusters (nil: every one).
	Clusters []string
	Inputs   []results.Input
	// Kind is campaign or sweep.
	Kind string
}

// Collect builds a manifest: software (tool, Go, kind, Helm SDK, client-go,
// Docker engine), host, what runs in the lab read back from it (node image
// and its digest, chart name and version from every Helm release, every
// container image digest, Multus and CNI plugin versions), the inputs
// verbatim and the start time. Pin problems and sources that could not be
// read become warnings. The runner fills in the scenario's fields
// (conditions, seeds, peers) and the end time.
func Collect(ctx context.Context, src Sources, req Request) (results.Manifest, error) {
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	m := results.Manifest{Kind: req.Kind, Started: now(), Inputs: req.Inputs}
	if m.Kind == "" {
		m.Kind = "campaign"
	}
	warn := func(format string, a ...any) { m.Warnings = append(m.Warnings, fmt.Sprintf(format, a...)) }
	m.Software = ReadSoftware(src.ToolVersion)
	if src.Root != nil {
		m.Host = ReadHost(src.Root)
	}
	if src.Docker != nil {
		v, err := DockerVersion(ctx, src.Docker)
		if err != nil {
			warn("docker engine version not recorded: %v", err)
		} else {
			m.Software.Docker = v
		}
	} else {
		warn("docker engine version not recorded: no Docker client")
	}
	if req.Plan == nil {
		return m, nil
	}
	plan := req.Plan
	var cps []topology.ClusterPlan
	for _, c := range plan.Clusters {
		if req.Clusters == nil || contains(req.Clusters, c.Name) {
			cps = append(cps, c)
		}
	}
	m.Lab.Topology = plan.Name
	for _, c := range cps {
		m.Lab.Clusters = append(m.Lab.Clusters, c.Name)
	}

	// Node image, read from the node containers.
	if src.Docker != nil {
		ref, digest, ws := nodeImage(ctx, src.Docker, cps)
		m.Lab.NodeImage, m.Lab.NodeImageDigest = ref, digest
		m.Warnings = append(m.Warnings, ws...)
	}
	// Charts from the Helm releases.
	if src.Helm != nil {
		charts, ws := readCharts(ctx, src.Helm, cps)
		m.Lab.Charts = charts
		m.Warnings = append(m.Warnings, ws...)
	} else {
		warn("chart versions not recorded: no Helm client")
	}
	// Container images from the pods.
	if src.Kube != nil {
		var cls []Cluster
		for _, c := range cps {
			k, err := src.Kube(c)
			if err != nil {
				warn("cluster %q: images not read: %v", c.Name, err)
				continue
			}
			cls = append(cls, Cluster{Name: c.Name, Client: k})
		}
		imgs, ws, err := ReadImages(ctx, cls)
		if err != nil {
			warn("container image digests not recorded: %v", err)
		} else {
			m.Lab.Images = imgs
			m.Warnings = append(m.Warnings, ws...)
		}
	} else {
		warn("container image digests not recorded: no Kubernetes clients")
	}
	m.Lab.Multus = multusVersion(m.Lab.Charts, m.Lab.Images)
	if m.Lab.Multus == "" {
		warn("multus version not found among the lab's releases and images")
	}
	if src.Exec != nil && len(cps) > 0 {
		v, err := cniVersion(ctx, src.Exec, cps[0], plan.CNIPlugins.Plugins)
		if err != nil {
			warn("CNI plugins version not read back: %v", err)
		} else {
			m.Lab.CNIPlugins = v
			if plan.CNIPlugins.Version != "" && v != plan.CNIPlugins.Version {
				warn("CNI plugins: the nodes run %s but the topology asks for %s", v, plan.CNIPlugins.Version)
			}
		}
	}
	refs := make([]string, 0, len(m.Lab.Images))
	for ref := range m.Lab.Images {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	m.Warnings = append(m.Warnings, PinWarnings(refs)...)
	return m, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// nodeImage reads the image every control-plane container runs: its
// reference, and its registry digest (else its local image ID, with a
// warning that only this host can reproduce it).
func nodeImage(ctx context.Context, d DockerAPI, cps []topology.ClusterPlan) (string, string, []string) {
	var ws []string
	ids := map[string]string{} // image ID -> first node
	var ref, id string
	for _, c := range cps {
		if len(c.Nodes) == 0 {
			continue
		}
		node := c.Nodes[0].Name
		ci, err := d.ContainerInspect(ctx, node)
		if err != nil {
			ws = append(ws, fmt.Sprintf("cluster %q: node image not read from container %s: %v", c.Name, node, err))
			continue
		}
		if ci.Config != nil && ref == "" {
			ref = ci.Config.Image
		}
		if id == "" {
			id = ci.Image
		}
		if first, ok := ids[ci.Image]; !ok && len(ids) > 0 {
			ws = append(ws, fmt.Sprintf("cluster %q runs node image %s, cluster %q another one", c.Name, ci.Image, first))
		}
		if _, ok := ids[ci.Image]; !ok {
			ids[ci.Image] = c.Name
		}
	}
	if id == "" {
		return ref, "", ws
	}
	ii, err := d.ImageInspect(ctx, id)
	if err != nil {
		return ref, id, append(ws, fmt.Sprintf("node image %s: %v", id, err))
	}
	for _, rd := range ii.RepoDigests {
		if dg := Digest(rd); dg != "" {
			return ref, dg, ws
		}
	}
	return ref, id, append(ws, fmt.Sprintf("node image %s has no registry digest (built or loaded locally): only its local image ID %s identifies it, on this host", ref, short(id)))
}

func short(id string) string {
	if len(id) > 19 {
		return id[:19]
	}
	return id
}

// readCharts lists every release on every cluster: chart name -> version.
// A chart with different versions on different clusters is a warning.
func readCharts(ctx context.Context, h ReleaseLister, cps []topology.ClusterPlan) (map[string]string, []string) {
	out := map[string]string{}
	on := map[string]string{}
	var ws []string
	for _, c := range cps {
		rels, err := h.Releases(ctx, c.Kubeconfig)
		if err != nil {
			ws = append(ws, fmt.Sprintf("cluster %q: Helm releases not read: %v", c.Name, err))
			continue
		}
		for _, r := range rels {
			if prev, ok := out[r.Chart]; ok && prev != r.Version {
				ws = append(ws, fmt.Sprintf("chart %s is %s on cluster %q but %s on cluster %q", r.Chart, prev, on[r.Chart], r.Version, c.Name))
				continue
			}
			if r.Status != "" && r.Status != "deployed" {
				ws = append(ws, fmt.Sprintf("cluster %q: release %s/%s is %s", c.Name, r.Namespace, r.Name, r.Status))
			}
			out[r.Chart] = r.Version
			on[r.Chart] = c.Name
		}
	}
	return out, ws
}

var semver = regexp.MustCompile(`v?[0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+-]*`)

// multusVersion is the tag of the Multus image that runs, else the Multus
// chart's version.
func multusVersion(charts, images map[string]string) string {
	var refs []string
	for ref := range images {
		if strings.Contains(ref, "multus") {
			refs = append(refs, ref)
		}
	}
	sort.Strings(refs)
	for _, ref := range refs {
		name := ref[strings.LastIndex(ref, "/")+1:]
		if i := strings.LastIndex(name, ":"); i >= 0 {
			return name[i+1:]
		}
	}
	for name, v := range charts {
		if strings.Contains(name, "multus") {
			return v
		}
	}
	return ""
}

// cniVersion asks a plugin binary in the node for its version (a CNI
// plugin run without CNI_COMMAND prints "CNI <name> plugin vX.Y.Z").
func cniVersion(ctx context.Context, x Executor, c topology.ClusterPlan, plugins []string) (string, error) {
	if len(c.Nodes) == 0 {
		return "", fmt.Errorf("cluster %q has no nodes", c.Name)
	}
	p := "macvlan"
	if len(plugins) > 0 && !contains(plugins, p) {
		p = plugins[0]
	}
	stdout, stderr, err := x.Exec(ctx, c.Nodes[0].Name, []string{"/opt/cni/bin/" + p}, nil)
	out := string(stdout) + string(stderr)
	if v := pluginVersion(out); v != "" {
		return v, nil
	}
	if err != nil {
		return "", fmt.Errorf("cluster %q: running /opt/cni/bin/%s: %w", c.Name, p, err)
	}
	return "", fmt.Errorf("cluster %q: /opt/cni/bin/%s printed no version: %q", c.Name, p, firstLine(out))
}

func pluginVersion(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "CNI ") && strings.Contains(l, "plugin") {
			if v := semver.FindString(l); v != "" {
				return v
			}
		}
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
