package kind

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/fluidos-lab/testbed/topology"
)

// The lean profile tunes a single-control-plane KinD node for a lab of many
// idle clusters (measured against stock in docs/scale.md), through kind's
// kubeadm config patches, kubeadm's patch files and systemd drop-ins in the
// lab's lean node image, and two changes provision makes after create.
// Every change keeps what the discovery workloads use: the API server, the
// scheduler, the controllers that run Deployments, DaemonSets and Jobs,
// kube-proxy (in-cluster clients reach the API through the kubernetes
// Service's ClusterIP), CoreDNS, a default StorageClass and the kubelet's
// probes.
//
//   - leader election off in kube-controller-manager and kube-scheduler: a
//     single control plane has nobody to elect, and each renews its Lease
//     every 2 s (an API write and an etcd fsync);
//   - kube-controller-manager without the controllers that poll or resync
//     on a timer and that no discovery workload uses: horizontal pod
//     autoscaling (a metrics poll every 15 s), CronJob, TTL-after-finished,
//     attach/detach (a reconcile loop every 100 ms, for volumes that must be
//     attached to a node, which a KinD node has none of: host paths,
//     local-path's volumes, ConfigMaps and Secrets mount without it),
//     disruption (PodDisruptionBudget status: an eviction of a pod a budget
//     covers is refused, as nothing drains a lab's node) and the node TTL
//     annotation (the kubelet's ConfigMap and Secret caches watch instead).
//     They go by their old names, which every Kubernetes version accepts
//     (an unknown name stops the controller manager); from Kubernetes 1.34
//     (the node image's tag), also dynamic resource allocation's
//     controllers and two status keepers (leanDisabledControls134);
//   - etcd as kubeadm makes it: a 500 ms heartbeat and 5 s election timeout
//     saved no CPU measurable above the noise (docs/scale.md) and may delay
//     the single member's first election, so they are not set;
//   - kubelet: container housekeeping (cAdvisor stats) every 60 s instead of
//     10 s, pod sync every 2 m; the node status stays at 10 s: the kubelet
//     posts it fast only for its first 10 s (nodeStatusUpdateFrequency),
//     and a node whose CNI came up later on a busy host was seen Ready up
//     to 20 s late with 20 s (up-bench, docs/scale.md), for no CPU saved;
//   - kube-proxy: a full iptables resync every 5 m instead of 30 s (changes
//     still apply within its 1 s minimum sync period);
//   - KinD's local-path provisioner replaced by the host-path one KinD
//     itself falls back to (in the controller manager; provision swaps the
//     standard StorageClass after create: a PersistentVolumeClaim still
//     binds, without a pod);
//   - one CoreDNS replica instead of two, with GOGC=25 (provision patches
//     it after create: kubeadm has no setting for it);
//   - GOGC=25 in etcd, the API server, the controller manager and the
//     scheduler, where the node image carries LeanFiles (a quarter of a
//     node's anonymous memory, no CPU measurable in 5 minutes: docs/scale.md),
//     and in containerd and so in every pod's shim (a systemd drop-in, with
//     CoreDNS's about 8.5 MiB of a node for under a millicore).
//     KinD writes this node image's kubeadm configuration as v1beta3, which
//     has no extraEnvs; kubeadm's patches directory is the way in, and its
//     files must be in the node before kubeadm runs, so up writes them into
//     the derived node image it builds for the lab and sets
//     ClusterPlan.KubeadmPatches. Only the lean configuration names the
//     directory (the drop-ins below are not inert: a lab that mixes
//     profiles bakes one image per profile);
//   - the API server's, etcd's and the scheduler's readiness probes every
//     10 s instead of every second (through the same patch files): each
//     probe of the API server or the scheduler is a new TLS connection
//     from the kubelet and a full /readyz (the API server's about
//     7 millicores of an idle node, the scheduler's about 4:
//     docs/scale.md); nothing waits on those pods' readiness (up waits for
//     the node, the runner for its workloads); the liveness probes of all
//     four every 30 s instead of 10 s (a hung component restarts after
//     4 minutes instead of 80 s);
//   - GOMAXPROCS=1 in the same four static pods (same patch files), and in
//     the kubelet and containerd (systemd drop-ins, leanUnitDropIns): Go
//     gives each process one scheduler thread per host CPU, and an idle
//     component spends a quarter of its CPU parking and waking them; a
//     lab's control plane serves a few requests a second, and the
//     processes that block in system calls (etcd's fsync) still get
//     threads for it;
//   - the API server without API Priority and Fairness (its per-request
//     classification and periodic upkeep; a lab's API sees a few requests
//     a second and keeps the max-in-flight limits) and without its watch
//     cache (each cached resource type wakes every second to send
//     bookmarks; without it, lists and watches go to etcd, which a lab's
//     handful of clients does not load), and etcd's watch progress
//     notifications every 60 s instead of 5 s (each one reaches every
//     watch the API server holds). The probes, APF and progress
//     notifications took an idle node from 0.88 to 0.69 × stock CPU, per
//     process side by side; with the scheduler's probe, GOMAXPROCS, the
//     watch cache and the rest it is at 0.45-0.46 CPU and 0.69 memory
//     (docs/scale.md).
//
// The patches come for both kubeadm config versions kind writes: v1beta4
// (Kubernetes 1.31 and later, argument lists, as RFC 6902 patches that
// append) and v1beta3 (argument maps, as merge patches). kind applies a
// patch only to the document of its apiVersion and kind. kind leaves the
// v1beta4 scheduler's argument list empty (null) unless feature gates or
// IPv6 are set, which Config never does, so that list is set whole.
const (
	// LeanPatchDir is where a derived node image carries the lean
	// profile's kubeadm patch files (LeanFiles).
	LeanPatchDir = "/etc/testbed/kubeadm-patches"
	leanGOGC     = "25"
	// leanGOMAXPROCS caps the control plane's Go schedulers at one
	// thread running Go code each (the default is one per host CPU).
	leanGOMAXPROCS = "1"
	// leanReadinessPeriod is the readiness probe period in seconds of
	// leanReadinessPods (kubeadm: 1, their liveness and startup probes: 10).
	leanReadinessPeriod = 10
	// leanEtcdProgressNotify is etcd's watch progress notification
	// interval (kubeadm: 5s).
	leanEtcdProgressNotify = "60s"
	// leanLivenessPeriod is the static pods' liveness probe period in
	// seconds (kubeadm: 10).
	leanLivenessPeriod   = 30
	leanHousekeeping     = "60s"
	leanDisabledControls = "*,-horizontalpodautoscaling,-cronjob,-ttl-after-finished,-attachdetach,-disruption,-ttl"
	// leanDisabledControls134 are turned off too where the node image is
	// Kubernetes 1.34 or later (by their names there; an unknown name
	// stops the controller manager): dynamic resource allocation's claim
	// and device-taint controllers, ValidatingAdmissionPolicy type-check
	// status, StorageVersion garbage collection. They hold informers and a
	// schema cache: about 8 MiB of the controller manager (docs/scale.md).
	leanDisabledControls134 = ",-resourceclaim-controller,-device-taint-eviction-controller,-validatingadmissionpolicy-status-controller,-storageversion-garbage-collector-controller"
)

// leanControllers is the controller manager's --controllers for a node
// image (by its tag, vMAJOR.MINOR.PATCH as KinD's and the baked images
// carry it): leanDisabledControls, and leanDisabledControls134 from 1.34.
func leanControllers(nodeImage string) string {
	if minor, ok := kubeMinor(nodeImage); ok && minor >= 34 {
		return leanDisabledControls + leanDisabledControls134
	}
	return leanDisabledControls
}

// kubeTag is a node image tag's Kubernetes version.
var kubeTag = regexp.MustCompile(`^v1\.(\d+)\.\d+`)

// kubeMinor is the Kubernetes minor version a node image's tag names
// (kindest/node:v1.34.2@sha256:…, testbed.local/kind-node:v1.34.2-<hash>).
func kubeMinor(image string) (int, bool) {
	if at := strings.Index(image, "@"); at >= 0 {
		image = image[:at]
	}
	c := strings.LastIndex(image, ":")
	if c < 0 || c < strings.LastIndex(image, "/") {
		return 0, false
	}
	m := kubeTag.FindStringSubmatch(image[c+1:])
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// leanMergePatches are the merge patches of the lean profile.
func leanMergePatches(controllers string) []string {
	return []string{
		`apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
apiServer:
  extraArgs:
    enable-priority-and-fairness: "false"
    watch-cache: "false"
controllerManager:
  extraArgs:
    leader-elect: "false"
    controllers: "` + controllers + `"
scheduler:
  extraArgs:
    leader-elect: "false"
etcd:
  local:
    extraArgs:
      watch-progress-notify-interval: "` + leanEtcdProgressNotify + `"
`,
		`apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
nodeRegistration:
  kubeletExtraArgs:
    housekeeping-interval: "` + leanHousekeeping + `"
`,
		`apiVersion: kubeadm.k8s.io/v1beta3
kind: JoinConfiguration
nodeRegistration:
  kubeletExtraArgs:
    housekeeping-interval: "` + leanHousekeeping + `"
`,
		`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
syncFrequency: 2m
`,
		`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
iptables:
  syncPeriod: 5m
nftables:
  syncPeriod: 5m
`,
	}
}

// leanJSON6902Patches are the v1beta4 patches of the lean profile.
func leanJSON6902Patches(controllers string) []v1alpha4.PatchJSON6902 {
	return []v1alpha4.PatchJSON6902{
		{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: "ClusterConfiguration", Patch: `
- op: add
  path: /apiServer/extraArgs/-
  value: {name: enable-priority-and-fairness, value: "false"}
- op: add
  path: /apiServer/extraArgs/-
  value: {name: watch-cache, value: "false"}
- op: add
  path: /etcd
  value: {local: {extraArgs: [{name: watch-progress-notify-interval, value: "` + leanEtcdProgressNotify + `"}]}}
- op: add
  path: /controllerManager/extraArgs/-
  value: {name: leader-elect, value: "false"}
- op: add
  path: /controllerManager/extraArgs/-
  value: {name: controllers, value: "` + controllers + `"}
- op: add
  path: /scheduler/extraArgs
  value: [{name: leader-elect, value: "false"}]
`},
		{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: "InitConfiguration", Patch: `
- op: add
  path: /nodeRegistration/kubeletExtraArgs/-
  value: {name: housekeeping-interval, value: "` + leanHousekeeping + `"}
`},
		{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: "JoinConfiguration", Patch: `
- op: add
  path: /nodeRegistration/kubeletExtraArgs/-
  value: {name: housekeeping-interval, value: "` + leanHousekeeping + `"}
`},
	}
}

// leanUnitDropIns are the systemd drop-ins LeanFiles gives the node's Go
// daemons: GOMAXPROCS=1 in the kubelet and containerd, read by systemd when
// the node container boots (the kubelet 1 m, containerd 3 m of an idle
// node: docs/scale.md), and GOGC=25 in containerd, whose environment every
// pod's shim inherits (one shim per pod, about 3 MiB each). The kubelet
// keeps Go's default GOGC: at 25 it cost 4.5 m for 10 MiB. Unlike the
// kubeadm patches, which only a lean configuration names, these act on
// every node of the image, so a lab that mixes profiles bakes one image
// per profile.
var leanUnitDropIns = map[string]string{
	"/etc/systemd/system/kubelet.service.d/20-testbed-lean.conf":    "[Service]\nEnvironment=GOMAXPROCS=" + leanGOMAXPROCS + "\n",
	"/etc/systemd/system/containerd.service.d/20-testbed-lean.conf": "[Service]\nEnvironment=GOMAXPROCS=" + leanGOMAXPROCS + "\nEnvironment=GOGC=" + leanGOGC + "\n",
}

// leanStaticPods are the kubeadm patch targets LeanFiles tunes.
var leanStaticPods = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// leanReadinessPods are the static pods whose readiness probe LeanFiles
// slows to leanReadinessPeriod (kubeadm probes them every second; the
// controller manager has no readiness probe).
var leanReadinessPods = []string{"etcd", "kube-apiserver", "kube-scheduler"}

// LeanFiles are the files (absolute path to content) a lean node image
// carries: one kubeadm strategic-merge patch per static pod, setting GOGC
// and GOMAXPROCS in its container (named like the target in kubeadm's
// manifests), slowing its liveness probe and the readiness probes of
// leanReadinessPods; and leanUnitDropIns.
func LeanFiles() map[string]string {
	out := maps.Clone(leanUnitDropIns)
	for _, c := range leanStaticPods {
		probe := fmt.Sprintf("    livenessProbe:\n      periodSeconds: %d\n", leanLivenessPeriod)
		if slices.Contains(leanReadinessPods, c) {
			probe += fmt.Sprintf("    readinessProbe:\n      periodSeconds: %d\n", leanReadinessPeriod)
		}
		out[LeanPatchDir+"/"+c+"+strategic.yaml"] = fmt.Sprintf(`spec:
  containers:
  - name: %s
    env:
    - name: GOGC
      value: "%s"
    - name: GOMAXPROCS
      value: "%s"
%s`, c, leanGOGC, leanGOMAXPROCS, probe)
	}
	return out
}

// patchesDirPatches point kubeadm's init and join at dir (both kubeadm
// config versions; for v1beta3 as merge patches, for v1beta4 as RFC 6902).
func patchesDirPatches(dir string) ([]string, []v1alpha4.PatchJSON6902) {
	var merge []string
	var p6902 []v1alpha4.PatchJSON6902
	for _, kind := range []string{"InitConfiguration", "JoinConfiguration"} {
		merge = append(merge, fmt.Sprintf("apiVersion: kubeadm.k8s.io/v1beta3\nkind: %s\npatches:\n  directory: %q\n", kind, dir))
		p6902 = append(p6902, v1alpha4.PatchJSON6902{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: kind,
			Patch: fmt.Sprintf("- op: add\n  path: /patches\n  value: {directory: %q}\n", dir)})
	}
	return merge, p6902
}

func profileLabel(p string) map[string]string {
	return map[string]string{topology.ProfileLabel: topology.EffectiveProfile(p)}
}

// applyProfile adds the patches of profile p to cfg (stock adds none);
// patchDir, when set, is the node image's directory of kubeadm patch files
// (LeanFiles) that kubeadm applies to the static pods.
func applyProfile(cfg *v1alpha4.Cluster, p, patchDir, nodeImage string) {
	if p != topology.ProfileLean {
		return
	}
	controllers := leanControllers(nodeImage)
	cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, leanMergePatches(controllers)...)
	cfg.KubeadmConfigPatchesJSON6902 = append(cfg.KubeadmConfigPatchesJSON6902, leanJSON6902Patches(controllers)...)
	if patchDir != "" {
		merge, p6902 := patchesDirPatches(patchDir)
		cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, merge...)
		cfg.KubeadmConfigPatchesJSON6902 = append(cfg.KubeadmConfigPatchesJSON6902, p6902...)
	}
}
