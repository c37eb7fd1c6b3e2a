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
	m := newManifest(src, req)
	collectSoftware(ctx, src, &m)
	if req.Plan == nil {
		return m, nil
	}
	plan := req.Plan
	cps := selectClusters(plan, req.Clusters)
	m.Lab.Topology = plan.Name
	for _, c := range cps {
		m.Lab.Clusters = append(m.Lab.Clusters, c.Name)
	}
	collectNodeImage(ctx, src, cps, &m)
	collectCharts(ctx, src, cps, &m)
	collectImages(ctx, src, cps, &m)
	m.Lab.Multus = multusVersion(m.Lab.Charts, m.Lab.Images)
	if m.Lab.Multus == "" {
		warnf(&m, "multus version not found among the lab's releases and images")
	}
	collectCNIPlugins(ctx, src, plan, cps, &m)
	m.Warnings = append(m.Warnings, imagePinWarnings(m.Lab.Images)...)
	return m, nil
}

// warnf appends a formatted warning to m.
func warnf(m *results.Manifest, format string, a ...any) {
	m.Warnings = append(m.Warnings, fmt.Sprintf(format, a...))
}

// newManifest starts the manifest: its kind (campaign by default), the
// start time and the inputs.
func newManifest(src Sources, req Request) results.Manifest {
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	m := results.Manifest{Kind: req.Kind, Started: now(), Inputs: req.Inputs}
	if m.Kind == "" {
		m.Kind = "campaign"
	}
	return m
}

// collectSoftware records the software versions, the host and the Docker
// engine's version.
func collectSoftware(ctx context.Context, src Sources, m *results.Manifest) {
	m.Software = ReadSoftware(src.ToolVersion)
	if src.Root != nil {
		m.Host = ReadHost(src.Root)
	}
	if src.Docker == nil {
		warnf(m, "docker engine version not recorded: no Docker client")
		return
	}
	v, err := DockerVersion(ctx, src.Docker)
	if err != nil {
		warnf(m, "docker engine version not recorded: %v", err)
		return
	}
	m.Software.Docker = v
}

// selectClusters is the plan's clusters restricted to names (nil: every
// one), in plan order.
func selectClusters(plan *topology.Plan, names []string) []topology.ClusterPlan {
	var cps []topology.ClusterPlan
	for _, c := range plan.Clusters {
		if names == nil || contains(names, c.Name) {
			cps = append(cps, c)
		}
	}
	return cps
}

// collectNodeImage records the node image, read from the node containers.
func collectNodeImage(ctx context.Context, src Sources, cps []topology.ClusterPlan, m *results.Manifest) {
	if src.Docker == nil {
		return
	}
	ref, digest, ws := nodeImage(ctx, src.Docker, cps)
	m.Lab.NodeImage, m.Lab.NodeImageDigest = ref, digest
	m.Warnings = append(m.Warnings, ws...)
}

// collectCharts records the charts from the Helm releases.
func collectCharts(ctx context.Context, src Sources, cps []topology.ClusterPlan, m *results.Manifest) {
	if src.Helm == nil {
		warnf(m, "chart versions not recorded: no Helm client")
		return
	}
	charts, ws := readCharts(ctx, src.Helm, cps)
	m.Lab.Charts = charts
	m.Warnings = append(m.Warnings, ws...)
}

// collectImages records the container images from the pods.
func collectImages(ctx context.Context, src Sources, cps []topology.ClusterPlan, m *results.Manifest) {
	if src.Kube == nil {
		warnf(m, "container image digests not recorded: no Kubernetes clients")
		return
	}
	var cls []Cluster
	for _, c := range cps {
		k, err := src.Kube(c)
		if err != nil {
			warnf(m, "cluster %q: images not read: %v", c.Name, err)
			continue
		}
		cls = append(cls, Cluster{Name: c.Name, Client: k})
	}
	imgs, ws, err := ReadImages(ctx, cls)
	if err != nil {
		warnf(m, "container image digests not recorded: %v", err)
		return
	}
	m.Lab.Images = imgs
	m.Warnings = append(m.Warnings, ws...)
}

// collectCNIPlugins records the CNI plugins' version read back from the
// first cluster's node, warning when it differs from the topology's.
func collectCNIPlugins(ctx context.Context, src Sources, plan *topology.Plan, cps []topology.ClusterPlan, m *results.Manifest) {
	if src.Exec == nil || len(cps) == 0 {
		return
	}
	v, err := cniVersion(ctx, src.Exec, cps[0], plan.CNIPlugins.Plugins)
	if err != nil {
		warnf(m, "CNI plugins version not read back: %v", err)
		return
	}
	m.Lab.CNIPlugins = v
	if plan.CNIPlugins.Version != "" && v != plan.CNIPlugins.Version {
		warnf(m, "CNI plugins: the nodes run %s but the topology asks for %s", v, plan.CNIPlugins.Version)
	}
}

// imagePinWarnings are the pin warnings of the image references, sorted.
func imagePinWarnings(images map[string]string) []string {
	refs := make([]string, 0, len(images))
	for ref := range images {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	return PinWarnings(refs)
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
