package kind

import (
	"fmt"
	"slices"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/fluidos-lab/testbed/topology"
)

// The lean profile tunes a single-control-plane KinD node for a lab of many
// idle clusters (measured against stock in docs/scale.md), through kind's
// kubeadm config patches and kubeadm's patch files. Every change
// keeps what the discovery workloads use: the API server and its watch
// cache, the scheduler, the controllers that run Deployments and
// DaemonSets, kube-proxy (in-cluster clients reach the API through the
// kubernetes Service's ClusterIP), CoreDNS and the kubelet's probes.
//
//   - leader election off in kube-controller-manager and kube-scheduler: a
//     single control plane has nobody to elect, and each renews its Lease
//     every 2 s (an API write and an etcd fsync);
//   - kube-controller-manager without the controllers that poll or resync
//     on a timer and that no discovery workload uses: horizontal pod
//     autoscaling (a metrics poll every 15 s), CronJob, TTL-after-finished;
//   - etcd as kubeadm makes it: a 500 ms heartbeat and 5 s election timeout
//     saved no CPU measurable above the noise (docs/scale.md) and may delay
//     the single member's first election, so they are not set;
//   - kubelet: container housekeeping (cAdvisor stats) every 30 s instead of
//     10 s, pod sync every 2 m; the node status stays at 10 s: the kubelet
//     posts it fast only for its first 10 s (nodeStatusUpdateFrequency),
//     and a node whose CNI came up later on a busy host was seen Ready up
//     to 20 s late with 20 s (up-bench, docs/scale.md), for no CPU saved;
//   - kube-proxy: a full iptables resync every 5 m instead of 30 s (changes
//     still apply within its 1 s minimum sync period);
//   - one CoreDNS replica instead of two (provision scales it after create:
//     kubeadm has no setting for it);
//   - GOGC=25 in etcd, the API server, the controller manager and the
//     scheduler, where the node image carries LeanFiles (a quarter of a
//     node's anonymous memory, no CPU measurable in 5 minutes: docs/scale.md).
//     KinD writes this node image's kubeadm configuration as v1beta3, which
//     has no extraEnvs; kubeadm's patches directory is the way in, and its
//     files must be in the node before kubeadm runs, so up writes them into
//     the derived node image it builds for the lab and sets
//     ClusterPlan.KubeadmPatches. Only the lean configuration names the
//     directory, so the files are inert for a stock cluster of the same
//     image;
//   - the API server's and etcd's readiness probes every 10 s instead of
//     every second (through the same patch files): each API server probe
//     is a new TLS connection from the kubelet and a full /readyz, about
//     7 millicores of an idle node (docs/scale.md); nothing waits on those
//     pods' readiness (up waits for the node, the runner for its
//     workloads), and their liveness probes keep their 10 s;
//   - the API server without API Priority and Fairness (its per-request
//     classification and periodic upkeep; a lab's API sees a few requests
//     a second and keeps the max-in-flight limits), and etcd's watch
//     progress notifications every 60 s instead of 5 s (each one reaches
//     every watch the API server's cache holds; the cache asks etcd for
//     progress itself when a consistent read needs it). With the probes
//     they took an idle node from 0.88 to 0.69 × stock CPU, per process
//     side by side (docs/scale.md).
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
	// leanReadinessPeriod is the API server's and etcd's readiness probe
	// period in seconds (kubeadm: 1, their liveness and startup probes: 10).
	leanReadinessPeriod = 10
	// leanEtcdProgressNotify is etcd's watch progress notification
	// interval (kubeadm: 5s).
	leanEtcdProgressNotify = "60s"
	leanHousekeeping       = "30s"
	leanDisabledControls   = "*,-horizontalpodautoscaling,-cronjob,-ttl-after-finished"
)

// leanMergePatches are the merge patches of the lean profile.
var leanMergePatches = []string{
	`apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
apiServer:
  extraArgs:
    enable-priority-and-fairness: "false"
controllerManager:
  extraArgs:
    leader-elect: "false"
    controllers: "` + leanDisabledControls + `"
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

// leanJSON6902Patches are the v1beta4 patches of the lean profile.
var leanJSON6902Patches = []v1alpha4.PatchJSON6902{
	{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: "ClusterConfiguration", Patch: `
- op: add
  path: /apiServer/extraArgs/-
  value: {name: enable-priority-and-fairness, value: "false"}
- op: add
  path: /etcd
  value: {local: {extraArgs: [{name: watch-progress-notify-interval, value: "` + leanEtcdProgressNotify + `"}]}}
- op: add
  path: /controllerManager/extraArgs/-
  value: {name: leader-elect, value: "false"}
- op: add
  path: /controllerManager/extraArgs/-
  value: {name: controllers, value: "` + leanDisabledControls + `"}
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

// leanStaticPods are the kubeadm patch targets LeanFiles tunes.
var leanStaticPods = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// leanReadinessPods are the static pods whose readiness probe LeanFiles
// slows to leanReadinessPeriod (kubeadm probes both every second).
var leanReadinessPods = []string{"etcd", "kube-apiserver"}

// LeanFiles are the files (absolute path to content) a lean lab's node
// image carries: one kubeadm strategic-merge patch per static pod, setting
// GOGC in its container (named like the target in kubeadm's manifests).
func LeanFiles() map[string]string {
	out := map[string]string{}
	for _, c := range leanStaticPods {
		probe := ""
		if slices.Contains(leanReadinessPods, c) {
			probe = fmt.Sprintf("    readinessProbe:\n      periodSeconds: %d\n", leanReadinessPeriod)
		}
		out[LeanPatchDir+"/"+c+"+strategic.yaml"] = fmt.Sprintf(`spec:
  containers:
  - name: %s
    env:
    - name: GOGC
      value: "%s"
%s`, c, leanGOGC, probe)
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
func applyProfile(cfg *v1alpha4.Cluster, p, patchDir string) {
	if p != topology.ProfileLean {
		return
	}
	cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, leanMergePatches...)
	cfg.KubeadmConfigPatchesJSON6902 = append(cfg.KubeadmConfigPatchesJSON6902, leanJSON6902Patches...)
	if patchDir != "" {
		merge, p6902 := patchesDirPatches(patchDir)
		cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, merge...)
		cfg.KubeadmConfigPatchesJSON6902 = append(cfg.KubeadmConfigPatchesJSON6902, p6902...)
	}
}
