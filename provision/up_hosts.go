package provision

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/fluidos-lab/testbed/internal/images"
	"github.com/fluidos-lab/testbed/internal/kind"
	"github.com/fluidos-lab/testbed/topology"
)

// onHosts runs f on every host at once and joins the errors, each naming
// its host on a multi-host lab.
func (u *upRun) onHosts(ctx context.Context, f func(ctx context.Context, h *hostRun) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range u.hosts {
		g.Go(func() error {
			if err := f(gctx, h); err != nil {
				if h.plan.Name != "" {
					return fmt.Errorf("host %s: %w", h.plan.Name, err)
				}
				return err
			}
			return nil
		})
	}
	return g.Wait()
}

// pull builds the reference agent image on every host when a chart needs
// it, then checks (offline) or pulls once on the first host every image the
// lab needs, node images included, so that KinD never pulls per cluster.
func (u *upRun) pull(ctx context.Context) (int, int, error) {
	p, plan := u.p, u.plan
	needAgent := false
	var nodeImages []string
	for _, c := range plan.Clusters {
		_, extra := chartsOf(plan, c)
		needAgent = needAgent || slices.ContainsFunc(extra, usesAgentImage)
		nodeImages = append(nodeImages, c.NodeImage)
	}
	hostRefs := images.Unique(u.labImages(), nodeImages)
	if needAgent {
		if err := u.agentImages(ctx); err != nil {
			return 0, 0, err
		}
		hostRefs = images.Unique(hostRefs, []string{u.agentImage})
	}
	primary := u.hosts[0].eng
	if primary.Images == nil {
		return 0, 0, nil
	}
	pulled, err := primary.Images.EnsureHost(ctx, hostRefs, u.o.Offline)
	if err != nil {
		return 0, 0, err
	}
	if len(pulled) > 0 {
		p.progress.Logf("pulled %d image(s) on the host: %v", len(pulled), pulled)
	}
	return len(pulled), len(hostRefs) - len(pulled), nil
}

// agentImages builds the reference agent image on every host (the same
// reference: it is the hash of this binary).
func (u *upRun) agentImages(ctx context.Context) error {
	var mu sync.Mutex
	return u.onHosts(ctx, func(ctx context.Context, h *hostRun) error {
		if h.eng.AgentImage == nil {
			return errors.New("a chart uses the reference agent image but no agent image builder is configured")
		}
		ref, err := h.eng.AgentImage(ctx)
		if err != nil {
			return fmt.Errorf("building the reference agent image: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if u.agentImage != "" && u.agentImage != ref {
			return fmt.Errorf("the reference agent image is %s here but %s on another host", ref, u.agentImage)
		}
		u.agentImage = ref
		return nil
	})
}

// copyToHosts copies refs from the first host to every other host that
// lacks them, and returns how many copies it made.
func (u *upRun) copyToHosts(ctx context.Context, refs []string) (int, error) {
	if len(u.hosts) < 2 {
		return 0, nil
	}
	if u.p.copyImages == nil {
		return 0, errors.New("this lab spans several hosts but no image copier is configured")
	}
	from := u.hosts[0].plan.Name
	var mu sync.Mutex
	total := 0
	err := u.onHosts(ctx, func(ctx context.Context, h *hostRun) error {
		if h.plan.Name == from {
			return nil
		}
		got, err := u.p.copyImages(ctx, from, h.plan.Name, refs)
		if len(got) > 0 {
			u.p.progress.Logf("host %s: copied %d image(s) from host %s: %v", h.plan.Name, len(got), from, got)
		}
		mu.Lock()
		total += len(got)
		mu.Unlock()
		return err
	})
	return total, err
}

// bake builds (once per image set and profile, on the first host) a node
// image with the lab's images preloaded for every planned node image, so
// that clusters start with their images and the images step finds nothing
// to do, and with the lean profile's files (kubeadm patches, the kubelet's
// and containerd's environment) for lean clusters: a lab that mixes
// profiles gets one image per profile, as the files are not inert for a
// stock node (with --no-bake, lean clusters get an image with those files
// only). A failed bake is not fatal: Up warns and falls back to importing
// into every node (and lean clusters run without the files).
func (u *upRun) bake(ctx context.Context) (int, int, error) {
	refs := u.labImages()
	if u.o.NoBake {
		refs = nil
	}
	if len(refs) == 0 && !u.anyLean() {
		return 0, 0, nil
	}
	built, reused, baked, err := u.bakeOn(ctx, u.hosts[0], refs)
	if len(baked) > 0 {
		u.rep.NodeImages = baked
		u.imagesBaked = len(refs) > 0
	}
	return built, reused, err
}

// profileFiles are the files a node image must carry for a cluster of
// profile p (the lean profile's), nil for none.
func profileFiles(p string) map[string]string {
	if p == topology.ProfileLean {
		return kind.LeanFiles()
	}
	return nil
}

// copyImages gives every other host of a multi-host lab what its clusters
// start from, copied from the first host over the engines' APIs: the baked
// node images, else the node images and the lab's images (the agent image
// is built on every host).
func (u *upRun) copyImages(ctx context.Context) (int, int, error) {
	if len(u.hosts) < 2 {
		return 0, 0, nil
	}
	var nodeImages []string
	for _, s := range u.states {
		nodeImages = append(nodeImages, s.plan.NodeImage)
	}
	refs := images.Unique(nodeImages)
	if !u.imagesBaked {
		refs = images.Unique(refs, u.p.imageRefs(u.plan))
	}
	n, err := u.copyToHosts(ctx, refs)
	return n, len(refs)*(len(u.hosts)-1) - n, err
}

// bakedKey names a baked image in Report.NodeImages: the planned node
// image, with " (lean)" for the lean profile's image in a lab whose
// clusters do not all share one profile.
func bakedKey(base, profile string, mixed bool) string {
	if mixed && profile == topology.ProfileLean {
		return base + " (lean)"
	}
	return base
}

// bakeOn bakes on host h the node images of every cluster, one per planned
// node image and profile files, and points the clusters at the baked
// images. A failure that is not cancellation is a warning: the clusters
// import per node instead.
func (u *upRun) bakeOn(ctx context.Context, h *hostRun, refs []string) (built, reused int, baked map[string]string, err error) {
	if h.eng.Images == nil {
		return 0, 0, nil, nil
	}
	mixed := false
	for _, s := range u.states {
		mixed = mixed || s.plan.NodeProfile() != u.states[0].plan.NodeProfile()
	}
	baked = map[string]string{}
	for _, s := range u.states {
		files := profileFiles(s.plan.Profile)
		key := bakedKey(s.plan.NodeImage, s.plan.Profile, mixed)
		if _, ok := baked[key]; ok || (len(refs) == 0 && len(files) == 0) {
			continue
		}
		ref, b, err := h.eng.Images.Bake(ctx, s.plan.NodeImage, refs, files)
		if err != nil {
			if ctx.Err() != nil {
				return built, reused, nil, err
			}
			u.bakeWarning(h, err)
			return built, reused, nil, nil
		}
		if b {
			built++
			with := ""
			if len(files) > 0 {
				with = " and the lean profile's files"
			}
			u.p.progress.Logf("bake: built %s (%s with %d image(s)%s)%s", ref, s.plan.NodeImage, len(refs), with, onHost(h))
		} else {
			reused++
		}
		baked[key] = ref
	}
	for _, s := range u.states {
		ref, ok := baked[bakedKey(s.plan.NodeImage, s.plan.Profile, mixed)]
		if !ok {
			continue // stock with --no-bake: its own image
		}
		s.plan.NodeImage = ref
		if s.plan.Profile == topology.ProfileLean {
			s.plan.KubeadmPatches = kind.LeanPatchDir
		}
	}
	return built, reused, baked, nil
}

// anyLean reports whether some cluster of the lab is lean.
func (u *upRun) anyLean() bool {
	for _, s := range u.states {
		if s.plan.Profile == topology.ProfileLean {
			return true
		}
	}
	return false
}

func (u *upRun) bakeWarning(h *hostRun, err error) {
	lean := u.anyLean()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rep.BakeWarning = fmt.Sprintf("%v%s; importing the images into every node instead", err, onHost(h))
	if lean {
		u.rep.BakeWarning += " (lean clusters run without the profile's files: kubeadm patches and the kubelet's and containerd's environment)"
	}
	u.p.progress.Logf("bake: %s", u.rep.BakeWarning)
}

// onHost is " on host NAME" on a multi-host lab, "" otherwise.
func onHost(h *hostRun) string { return onHostNamed(h.plan.Name) }

// onHostNamed is onHost of a host name ("" on one host).
func onHostNamed(name string) string {
	if name == "" {
		return ""
	}
	return " on host " + name
}

// network creates or adopts the lab's Docker network on every host (and
// the shared network on several hosts), points KinD at it and lists the
// clusters KinD already has.
func (u *upRun) network(ctx context.Context) (int, int, error) {
	var mu sync.Mutex
	changed, skipped := 0, 0
	err := u.onHosts(ctx, func(ctx context.Context, h *hostRun) error {
		ch, err := u.networkOn(ctx, h)
		mu.Lock()
		defer mu.Unlock()
		if ch {
			changed++
		} else {
			skipped++
		}
		return err
	})
	if err != nil {
		return changed, skipped, err
	}
	for _, s := range u.states {
		s.exists = slices.Contains(s.host.existing, s.plan.Name)
	}
	for _, h := range u.hosts {
		if h.shared.Host != "" {
			u.rep.Hosts = append(u.rep.Hosts, h.shared)
		}
	}
	u.preparePlugins(ctx)
	return changed, skipped, nil
}

// networkOn converges one host's networks and lists its KinD clusters.
func (u *upRun) networkOn(ctx context.Context, h *hostRun) (bool, error) {
	p, plan := u.p, u.plan
	res, err := h.eng.Network.Ensure(ctx, plan.Name, plan.Network)
	if err != nil {
		return false, fmt.Errorf("network %q: %w", plan.Network.Name, err)
	}
	if h == u.hosts[0] {
		u.rep.Network = res
	}
	if res.Warning != "" {
		p.progress.Logf("network %s%s: %s", res.Name, onHost(h), res.Warning)
	}
	if h.eng.SetNetwork != nil {
		if err := h.eng.SetNetwork(plan.Network.Name); err != nil {
			return false, err
		}
	}
	if h.net, err = managedNetworkOn(ctx, h.eng, plan.Name, plan.Network.Name); err != nil {
		return false, err
	}
	if h.existing, err = h.eng.Clusters.List(); err != nil {
		return false, err
	}
	changed := res.Created
	if plan.MultiHost() {
		if h.eng.Shared == nil {
			return changed, errors.New("no shared-network seam configured for a multi-host lab")
		}
		if h.shared, err = h.eng.Shared.Ensure(ctx, plan, h.plan); err != nil {
			return changed, fmt.Errorf("shared network %s: %w", plan.SharedNetwork.Name, err)
		}
		changed = changed || h.shared.Changed
	}
	return changed, nil
}

// preparePlugins readies the CNI plugin binaries once, on first use (the
// tarball is local; every host's CNI seam copies the same bytes).
func (u *upRun) preparePlugins(ctx context.Context) {
	plan := u.plan
	cache := filepath.Join(filepath.Dir(plan.StateDir), "cache", "cni")
	cni := u.hosts[0].eng.CNI
	u.plugins = sync.OnceValues(func() (map[string][]byte, error) {
		if cni == nil {
			return nil, nil
		}
		return cni.Prepare(context.WithoutCancel(ctx), plan.CNIPlugins, cache)
	})
}

// create makes the cluster exist and be healthy, then reads its node
// containers and control-plane address.
func (u *upRun) create(ctx context.Context, s *clusterState) (string, bool, error) {
	h := s.host
	note, changed, d, err := u.p.ensureCluster(ctx, u.plan, s, s.exists, u.o.Recreate)
	if err != nil {
		return "", false, err
	}
	if changed {
		u.mu.Lock()
		u.rep.Creates[s.plan.Name] = d
		u.mu.Unlock()
	}
	nodes, err := h.eng.Network.Nodes(ctx, h.net, s.plan.Name)
	if err != nil {
		return "", false, fmt.Errorf("listing nodes: %w", err)
	}
	if len(nodes) == 0 {
		return "", false, fmt.Errorf("no node container on network %q%s", u.plan.Network.Name, onHost(h))
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	s.nodes = nodes
	for _, n := range nodes {
		if n.Role == "control-plane" {
			s.address = n.Address
		}
	}
	pn, err := u.p.applyProfile(ctx, s.plan)
	if err != nil {
		return "", false, err
	}
	if pn != "" {
		note += "; " + pn
		changed = true
	}
	return note, changed, nil
}

// attachShared connects the cluster's nodes to the shared network of a
// multi-host lab and records the control plane's address on it.
func (u *upRun) attachShared(ctx context.Context, s *clusterState) (string, bool, error) {
	var parts []string
	for _, n := range s.nodes {
		addr, err := s.host.eng.Shared.Attach(ctx, u.plan, n.Name)
		if err != nil {
			return "", false, fmt.Errorf("node %s: %w", n.Name, err)
		}
		if n.Role == "control-plane" {
			s.sharedAddress = addr
		}
		parts = append(parts, n.Name+" "+addr)
	}
	return "on " + u.plan.SharedNetwork.Name + ": " + strings.Join(parts, ", "), false, nil
}

// images loads every image the lab needs into the cluster's nodes, where
// missing, and has them unpacked there (a baked node image holds them as
// content only), while the nodes are still coming up.
func (u *upRun) images(ctx context.Context, s *clusterState) (string, bool, error) {
	im := s.host.eng.Images
	if im == nil {
		return "no image loader", false, nil
	}
	refs := u.labImages()
	loaded := 0
	for _, ref := range refs {
		got, err := im.Load(ctx, ref, s.nodeNames())
		if err != nil {
			return "", false, fmt.Errorf("loading %s: %w", ref, err)
		}
		loaded += len(got)
	}
	if err := im.Unpack(ctx, refs, s.nodeNames()); err != nil {
		return "", false, err
	}
	total := len(refs) * len(s.nodes)
	return fmt.Sprintf("%d image(s) loaded, %d already present, all unpacked", loaded, total-loaded), loaded > 0, nil
}

// cni copies the CNI plugin binaries (macvlan, host-local, static) into the
// cluster's nodes, where missing.
func (u *upRun) cni(ctx context.Context, s *clusterState) (string, bool, error) {
	cn := s.host.eng.CNI
	if cn == nil {
		return "no CNI installer", false, nil
	}
	plugins, err := u.plugins()
	if err != nil {
		return "", false, err
	}
	copied, err := cn.Install(ctx, s.nodeNames(), plugins)
	if err != nil {
		return "", false, err
	}
	if len(copied) == 0 {
		return "plugins present", false, nil
	}
	var parts []string
	for _, n := range s.nodeNames() {
		if c := copied[n]; len(c) > 0 {
			parts = append(parts, n+": "+strings.Join(c, ","))
		}
	}
	return "installed " + strings.Join(parts, "; "), true, nil
}
